import { useEffect, useState } from 'preact/hooks';
import { get, patch, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { Modal, fmtTime, roleName } from './ui';
import { DlpHits, DlpLexicons, DlpPolicy } from './admin_dlp';
import { Exports, Holds, Retention } from './admin_compliance';
import { Audit } from './admin_audit';
import { Archive } from './admin_archive';
import { Review } from './admin_review';
import { word } from './labels_compliance';

type Tab = 'users' | 'units' | 'sessions' | 'alerts' | 'audit' | 'dlp-policy' | 'dlp-lexicons' | 'dlp' | 'archive' | 'review' | 'holds' | 'retention' | 'exports';
const TABS: { id: Tab; roles: string[]; label: string }[] = [
  { id: 'users', roles: ['sysadmin'], label: 'admin_users' },
  { id: 'units', roles: ['sysadmin', 'hr'], label: 'admin_units' },
  { id: 'sessions', roles: ['sysadmin', 'secadmin'], label: 'admin_sessions' },
  { id: 'alerts', roles: ['secadmin'], label: 'admin_alerts' },
  { id: 'audit', roles: ['auditor'], label: 'admin_audit' },
  { id: 'dlp-policy', roles: ['secadmin'], label: 'admin_dlp_policy' },
  { id: 'dlp-lexicons', roles: ['secadmin'], label: 'admin_dlp_lexicons' },
  { id: 'dlp', roles: ['secadmin'], label: 'admin_dlp' },
  { id: 'archive', roles: ['compliance'], label: 'admin_archive' },
  { id: 'review', roles: ['compliance', 'secadmin'], label: 'admin_review' },
  { id: 'holds', roles: ['compliance'], label: 'admin_holds' },
  { id: 'retention', roles: ['compliance'], label: 'admin_retention' },
  { id: 'exports', roles: ['compliance'], label: 'admin_exports' },
];
const GRANTABLE = ['hr', 'compliance', 'unit_head'];

export function adminTabs(roles: string[]) { return TABS.filter((x) => x.roles.some((r) => roles.includes(r))); }
export function hasAdmin(roles: string[]) { return adminTabs(roles).length > 0; }

export function AdminConsole() {
  useStore();
  const tabs = adminTabs(S.me?.roles || []);
  const [tab, setTab] = useState<Tab | null>(tabs[0]?.id ?? null);
  if (!tabs.length) return <div class="pad muted">{t('admin_no_rights')}</div>;
  return (
    <div class="admin" data-testid="admin-console">
      <nav class="admin-tabs" role="tablist">
        {tabs.map((x) => (
          <button role="tab" aria-selected={tab === x.id} class={tab === x.id ? 'active' : ''} data-testid={'admin-tab-' + x.id} onClick={() => setTab(x.id)}>{t(x.label)}</button>
        ))}
      </nav>
      <div class="admin-body">
        {tab === 'users' && <Users />}
        {tab === 'units' && <Units />}
        {tab === 'sessions' && <Sessions />}
        {tab === 'alerts' && <Alerts />}
        {tab === 'audit' && <Audit />}
        {tab === 'dlp-policy' && <DlpPolicy />}
        {tab === 'dlp-lexicons' && <DlpLexicons />}
        {tab === 'dlp' && <DlpHits />}
        {tab === 'archive' && <Archive />}
        {tab === 'review' && <Review />}
        {tab === 'holds' && <Holds />}
        {tab === 'retention' && <Retention />}
        {tab === 'exports' && <Exports />}
      </div>
    </div>
  );
}

function Users() {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ users: any[]; next_offset?: number | null } | null>(null);
  const [creating, setCreating] = useState(false);
  const [oneTime, setOneTime] = useState<{ name: string; password: string } | null>(null);
  const [roles, setRoles] = useState<any | null>(null);
  const [depart, setDepart] = useState<any | null>(null);
  const load = () => get<any>(`/admin/users?q=${encodeURIComponent(q)}&limit=50&offset=${offset}`).then(setData, showError);
  useEffect(() => { load(); }, [offset]);
  const act = (f: () => Promise<any>) => async () => { try { await f(); toast(t('saved')); load(); } catch (e) { showError(e); } };
  return (
    <div data-testid="admin-users">
      <div class="row gap">
        <form class="row" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(); }}>
          <input data-testid="admin-user-search" placeholder={t('search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          <button type="submit">{t('search')}</button>
        </form>
        <button class="primary" data-testid="admin-user-create" onClick={() => setCreating(true)}>{t('create_user')}</button>
      </div>
      <table class="grid">
        <thead><tr><th>{t('name')}</th><th>{t('username')}</th><th>{t('employee_no')}</th><th>{t('unit')}</th><th>{t('roles')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>
          {(data?.users || []).map((u) => (
            <tr data-testid="admin-user-row" data-username={u.username}>
              <td>{u.name}</td><td>{u.username}</td><td>{u.employee_no}</td><td>{u.unit}</td>
              <td>{(u.roles || []).map(roleName).join('、')}</td>
              <td>{u.disabled ? <span class="badge warn">{t('disabled')}</span> : u.locked ? <span class="badge warn">{t('locked')}</span> : <span class="badge ok">{t('active')}</span>}</td>
              <td class="actions">
                <button class="link" data-testid="admin-user-toggle" onClick={act(() => patch(`/admin/users/${u.id}`, { disabled: !u.disabled }))}>{u.disabled ? t('enable') : t('disable')}</button>
                <button class="link" data-testid="admin-user-unlock" onClick={act(() => post(`/admin/users/${u.id}/unlock`))}>{t('unlock_account')}</button>
                <button class="link" data-testid="admin-user-reset" onClick={async () => { try { const r = await post<any>(`/admin/users/${u.id}/reset-password`); setOneTime({ name: u.name, password: r.password }); } catch (e) { showError(e); } }}>{t('reset_password')}</button>
                <button class="link" data-testid="admin-user-roles" onClick={() => setRoles(u)}>{t('roles')}</button>
                {!u.departed && <button class="link danger" data-testid="admin-user-depart" onClick={() => setDepart(u)}>{t('depart')}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager offset={offset} next={data?.next_offset} setOffset={setOffset} size={50} />
      {creating && <CreateUser onClose={() => setCreating(false)} onDone={(name, password) => { setCreating(false); setOneTime({ name, password }); load(); }} />}
      {oneTime && (
        <Modal title={t('reset_password')} onClose={() => setOneTime(null)} testid="one-time-password">
          <p>{t('reset_password_done', { name: oneTime.name })}</p>
          <p><code class="big" data-testid="one-time-password-value">{oneTime.password}</code></p>
          <button class="primary" onClick={() => setOneTime(null)}>{t('ok')}</button>
        </Modal>
      )}
      {depart && <DepartDialog u={depart} onClose={() => setDepart(null)} onDone={() => { setDepart(null); load(); }} />}
      {roles && <RolesDialog u={roles} onClose={() => setRoles(null)} onSaved={() => { setRoles(null); load(); }} />}
    </div>
  );
}

function RolesDialog({ u, onClose, onSaved }: { u: any; onClose: () => void; onSaved: () => void }) {
  const [sel, setSel] = useState<string[]>(u.roles || []);
  const fixed = (u.roles || []).filter((r: string) => !GRANTABLE.includes(r));
  return (
    <Modal title={`${u.name} · ${t('roles')}`} onClose={onClose} testid="roles-dialog">
      <div class="stack">
        {fixed.length > 0 && <div class="muted">{fixed.map(roleName).join('、')}</div>}
        {GRANTABLE.map((r) => (
          <label class="check"><input type="checkbox" data-testid={'role-' + r} checked={sel.includes(r)} onChange={(e) => setSel(e.currentTarget.checked ? [...sel, r] : sel.filter((x) => x !== r))} /> {roleName(r)}</label>
        ))}
        <button class="primary" data-testid="roles-save" onClick={async () => { try { await patch(`/admin/users/${u.id}`, { roles: sel }); toast(t('saved')); onSaved(); } catch (e) { showError(e); } }}>{t('save')}</button>
      </div>
    </Modal>
  );
}

function CreateUser({ onClose, onDone }: { onClose: () => void; onDone: (name: string, password: string) => void }) {
  const [f, setF] = useState<Record<string, string>>({ username: '', name: '', unit_path: '', password: '', phone: '', position: '', employee_no: '' });
  const [roles, setRoles] = useState<string[]>([]);
  const field = (k: string, label: string, type = 'text') => (
    <label>{label}<input type={type} data-testid={'new-user-' + k} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} required={['username', 'name', 'unit_path', 'password'].includes(k)} /></label>
  );
  return (
    <Modal title={t('create_user')} onClose={onClose} testid="create-user-dialog">
      <form class="stack" onSubmit={async (e) => {
        e.preventDefault();
        const body: any = { ...f, roles };
        for (const k of ['phone', 'position', 'employee_no']) if (!body[k]) delete body[k];
        try { await post('/admin/users', body); onDone(f.name, f.password); } catch (err) { showError(err); }
      }}>
        {field('username', t('username'))}{field('name', t('name'))}{field('unit_path', t('unit_path'))}
        {field('password', t('password'), 'password')}{field('employee_no', t('employee_no'))}{field('phone', t('phone'))}{field('position', t('position'))}
        <div class="row gap">{GRANTABLE.map((r) => <label class="check"><input type="checkbox" checked={roles.includes(r)} onChange={(e) => setRoles(e.currentTarget.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> {roleName(r)}</label>)}</div>
        <button class="primary" type="submit" data-testid="new-user-submit">{t('create')}</button>
      </form>
    </Modal>
  );
}

function Units() {
  const [units, setUnits] = useState<any[]>([]);
  const [name, setName] = useState('');
  const [parent, setParent] = useState('');
  const load = () => get<any>('/admin/units').then((r) => setUnits(r.units || []), showError);
  useEffect(() => { load(); }, []);
  return (
    <div data-testid="admin-units">
      <form class="row gap" onSubmit={async (e) => {
        e.preventDefault();
        try { await post('/admin/units', { name: name.trim(), parent_id: parent ? Number(parent) : null }); setName(''); toast(t('saved')); load(); } catch (err) { showError(err); }
      }}>
        <select data-testid="unit-parent" value={parent} onChange={(e) => setParent(e.currentTarget.value)}>
          <option value="">— {t('parent_unit')} —</option>
          {units.map((u) => <option value={u.id}>{u.path || u.name}</option>)}
        </select>
        <input data-testid="unit-name" placeholder={t('unit_name')} value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <button class="primary" type="submit" data-testid="unit-create">{t('create_unit')}</button>
      </form>
      <ul class="unit-list">{units.map((u) => <li data-testid="admin-unit-row">{u.path || u.name}</li>)}</ul>
    </div>
  );
}

function Sessions() {
  const [rows, setRows] = useState<any[] | null>(null);
  useEffect(() => { get<any>('/admin/sessions?limit=200').then((r) => setRows(r.sessions || []), showError); }, []);
  return (
    <div data-testid="admin-sessions">
      <table class="grid">
        <thead><tr><th>{t('name')}</th><th>{t('created_at')}</th><th>{t('last_seen')}</th><th>{t('ip')}</th><th>{t('user_agent')}</th></tr></thead>
        <tbody>{(rows || []).map((s) => (
          <tr><td>{s.user?.name || s.name || s.username || s.user_name || s.user_id}</td><td>{fmtTime(s.created_at, true)}</td><td>{fmtTime(s.last_seen_at, true)}</td><td>{s.ip}</td><td class="ua">{s.user_agent}</td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}

function Alerts() {
  const [rows, setRows] = useState<any[] | null>(null);
  useEffect(() => { get<any>('/admin/login-alerts?limit=200').then((r) => setRows(r.alerts || r.login_alerts || r.items || []), showError); }, []);
  return (
    <div data-testid="admin-alerts">
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('name')}</th><th>{t('ip')}</th><th>{t('reason')}</th></tr></thead>
        <tbody>{(rows || []).map((a) => (
          <tr><td>{fmtTime(a.created_at || a.at, true)}</td><td>{a.user?.name || a.name || a.username || a.user_id}</td><td>{a.ip}</td><td>{Array.isArray(a.reasons) ? a.reasons.map(word).join('、') : word(a.reason || a.kind || '')}</td></tr>
        ))}</tbody>
      </table>
      {rows && rows.length === 0 && <div class="muted pad">{t('none')}</div>}
    </div>
  );
}

export function Pager({ offset, next, setOffset, size }: { offset: number; next?: number | null; setOffset: (n: number) => void; size: number }) {
  return (
    <div class="row gap pager">
      <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - size))}>{t('prev')}</button>
      <button disabled={next == null} onClick={() => next != null && setOffset(next)}>{t('next')}</button>
    </div>
  );
}

function DepartDialog({ u, onClose, onDone }: { u: any; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('termination');
  return (
    <Modal title={`${u.name} · ${t('depart')}`} onClose={onClose} testid="depart-dialog">
      <div class="stack">
        <p class="hint">{t('depart_hint')}</p>
        <select value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
          {['termination', 'retirement', 'internal_retirement', 'other'].map((r) => <option value={r}>{t('depart_' + r)}</option>)}
        </select>
        <button class="danger" data-testid="depart-confirm" onClick={async () => { try { await post(`/admin/users/${u.id}/depart`, { reason }); toast(t('saved')); onDone(); } catch (e) { showError(e); } }}>{t('depart')}</button>
      </div>
    </Modal>
  );
}
