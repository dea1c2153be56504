import { useEffect, useState } from 'preact/hooks';
import { get, patch, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { Icon, Modal, fmtTime, roleName } from './ui';
import { loginReasons } from './security';
import { DlpHits, DlpLexicons, DlpPolicy } from './admin_dlp';
import { Exports, Holds, Retention } from './admin_compliance';

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
          <tr><td>{fmtTime(a.created_at || a.at, true)}</td><td>{a.user?.name || a.name || a.username || a.user_id}</td><td>{a.ip}</td><td>{loginReasons(a)}</td></tr>
        ))}</tbody>
      </table>
      {rows && rows.length === 0 && <div class="muted pad">{t('none')}</div>}
    </div>
  );
}

function Audit() {
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<any>(null);
  const [verify, setVerify] = useState<any>(null);
  const [verifying, setVerifying] = useState(false);
  const load = (a = action, who = actor, off = offset) => {
    const qs = new URLSearchParams({ limit: '50', offset: String(off) });
    if (a.trim()) qs.set('action', a.trim());
    if (/^\d+$/.test(who.trim())) qs.set('actor', who.trim());
    return get<any>(`/admin/audit?${qs}`).then(setData, showError);
  };
  useEffect(() => { load(); }, [offset]);
  const rows: any[] = data?.records || data?.events || data?.audit || data?.items || [];
  const filterActor = (id: number) => { setActor(String(id)); setOffset(0); load(action, String(id), 0); };
  const exportHref = '/api/v1/audit/export' + (action.trim() ? '?' + new URLSearchParams({ action: action.trim() }) : '');
  return (
    <div data-testid="admin-audit">
      <div class="row gap">
        <button class="primary" data-testid="audit-verify" disabled={verifying} onClick={async () => {
          setVerifying(true);
          try { setVerify(await get<any>('/audit/verify')); } catch (e) { showError(e); } finally { setVerifying(false); }
        }}>{verifying ? t('loading') : t('audit_verify')}</button>
        <a class="button" data-testid="audit-export" href={exportHref} download="audit.jsonl">{t('audit_export')}</a>
      </div>
      {verify && (
        <div class={verify.ok ? 'form-ok' : 'form-error'} data-testid="audit-verify-result" data-ok={String(!!verify.ok)} role="status">
          {verify.ok ? t('audit_verify_ok', { n: verify.count ?? 0, last: verify.last_id ?? 0 })
            : `${t('audit_verify_bad', { id: verify.first_bad_id ?? '?' })}${verify.reason ? ' — ' + verify.reason : ''}`}
          {verify.anchored_at ? <div class="muted">{t('audit_anchored', { at: fmtTime(verify.anchored_at, true) })}</div> : null}
        </div>
      )}
      <form class="row gap" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(action, actor, 0); }}>
        <input placeholder={t('action') + ' (auth. / dlp. / …)'} value={action} onInput={(e) => setAction(e.currentTarget.value)} data-testid="audit-action" />
        <input placeholder={t('audit_actor_hint')} inputMode="numeric" value={actor} onInput={(e) => setActor(e.currentTarget.value)} data-testid="audit-actor" />
        <button type="submit" data-testid="audit-search">{t('search')}</button>
        {(action || actor) && <button type="button" class="link" onClick={() => { setAction(''); setActor(''); setOffset(0); load('', '', 0); }}>{t('audit_clear')}</button>}
      </form>
      <table class="grid">
        <thead><tr><th>#</th><th>{t('time')}</th><th>{t('actor')}</th><th>{t('action')}</th><th>{t('target')}</th><th>{t('state')}</th><th>{t('ip')}</th></tr></thead>
        <tbody>{rows.map((r) => (
          <tr data-testid="audit-row" data-action={r.action}><td>{r.id ?? r.seq}</td><td>{fmtTime(r.at || r.created_at || r.time, true)}</td>
            <td>{r.actor_id != null ? <button class="link" data-testid="audit-actor-filter" onClick={() => filterActor(r.actor_id)}>{r.actor_name || r.actor_username || `#${r.actor_id}`}</button> : '—'}{r.actor_role ? ` (${roleName(r.actor_role)})` : ''}</td><td>{r.action}</td>
            <td class="ua" title={r.details ? JSON.stringify(r.details) : ''}>{typeof r.target === 'object' ? JSON.stringify(r.target) : r.target ?? ''}{r.details ? ' ' + JSON.stringify(r.details) : ''}</td><td>{r.outcome}</td><td>{r.ip}</td></tr>
        ))}</tbody>
      </table>
      <Pager offset={offset} next={data?.next_offset} setOffset={setOffset} size={50} />
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

function Archive() {
  const [q, setQ] = useState('');
  const [reason, setReason] = useState('');
  const [res, setRes] = useState<any[] | null>(null);
  async function search(e: Event) {
    e.preventDefault();
    try {
      const qs = new URLSearchParams({ reason: reason.trim(), q: q.trim(), limit: '50' });
      const r = await get<any>(`/compliance/archive/search?${qs}`);
      setRes(r.results || []);
    } catch (err) { showError(err); }
  }
  return (
    <div data-testid="admin-archive">
      <form class="row gap" onSubmit={search}>
        <input data-testid="archive-q" placeholder={t('archive_query')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <input data-testid="archive-reason" placeholder={t('archive_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
        <button class="primary" type="submit" data-testid="archive-search">{t('search')}</button>
      </form>
      <p class="hint">{t('archive_hint')}</p>
      {res && res.length === 0 && <div class="muted pad">{t('no_results')}</div>}
      {res && res.length > 0 && (
        <table class="grid">
          <thead><tr><th>{t('time')}</th><th>{t('name')}</th><th>#</th><th>{t('archive_text')}</th></tr></thead>
          <tbody>{res.map((r) => (
            <tr data-testid="archive-row"><td>{fmtTime(r.created_at || r.at, true)}</td><td>{r.sender?.name}</td>
              <td>{r.conversation?.name || r.conversation?.id || r.conversation_id}:{r.seq}{r.version ? ` v${r.version}` : ''}{r.kind ? ` ${r.kind}` : ''}</td>
              <td class="wrap">{r.text}<ArchiveFiles atts={r.attachments} href={(a) => `/api/v1/compliance/archive/attachments/${a.id}?${new URLSearchParams({ reason: reason.trim() })}`} /></td></tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}

// Files of an archived or reviewed message, including those kept from inside a secure pack; each
// opening is audited by the server (with the stated reason for archive searches).
function ArchiveFiles({ atts, href }: { atts?: any[]; href: (a: any) => string }) {
  if (!atts?.length) return null;
  return (
    <div class="archive-files">
      {atts.map((a) => {
        const ok = ['clean', 'unscanned', 'reencoded'].includes(a.scan_status);
        const label = `${a.filename}${a.archive_only ? ` (${t('pack_inner')})` : a.kind === 'secure_pack' ? ` (${t('secure_pack')})` : ''}`;
        return ok
          ? <a class="file-chip" data-testid="archive-file" href={href(a)} download={a.filename}><Icon name="file" size={14} /> {label}</a>
          : <span class="file-chip off" data-testid="archive-file"><Icon name="file" size={14} /> {label} · {t('scan_' + a.scan_status)}</span>;
      })}
    </div>
  );
}

function Review() {
  const [status, setStatus] = useState('open');
  const [data, setData] = useState<any>(null);
  const load = () => get<any>(`/compliance/review?status=${status}&limit=50`).then(setData, showError);
  useEffect(() => { load(); }, [status]);
  const decide = (id: number, decision: string) => async () => {
    try { await post(`/compliance/review/${id}/decision`, { decision, note: '' }); toast(t('saved')); load(); } catch (e) { showError(e); }
  };
  return (
    <div data-testid="admin-review">
      <div class="row gap">
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {['open', 'escalated', 'decided'].map((x) => <option value={x}>{x}</option>)}
        </select>
      </div>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('review_kind')}</th><th>{t('name')}</th><th>{t('archive_text')}</th><th>{t('reason')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(data?.items || []).map((i: any) => (
          <tr data-testid="review-row" class={i.sla_breached ? 'late' : ''}>
            <td>{fmtTime(i.created_at, true)}</td><td>{i.kind}</td><td>{i.subject?.name}</td><td class="wrap">{i.text}<ArchiveFiles atts={i.attachments} href={(a) => `/api/v1/compliance/review/${i.id}/attachments/${a.id}`} /></td><td>{i.reason}</td>
            <td class="actions">{(i.status === 'open' || i.status === 'escalated') ? ['approve', 'reject', 'violation', 'escalate'].map((d) => (
              <button class="link" onClick={decide(i.id, d)}>{t('decision_' + d)}</button>
            )) : `${i.status} ${i.decision_note || ''}`}</td>
          </tr>
        ))}</tbody>
      </table>
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
