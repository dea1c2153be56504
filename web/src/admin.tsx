import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { fmtTime } from './ui';
import { loginReasons } from './security';
import { DlpHits, DlpLexicons, DlpPolicy } from './admin_dlp';
import { Exports, Holds, Retention } from './admin_compliance';
import { Approvals, Users } from './admin_people';
import { Audit } from './admin_audit';
import { Archive } from './admin_archive';
import { Review } from './admin_review';
import { DriveHandovers, DriveQuotas, DriveReports, DriveTypes } from './admin_drive';

type Tab = 'users' | 'approvals' | 'units' | 'sessions' | 'alerts' | 'audit' | 'dlp-policy' | 'dlp-lexicons' | 'dlp' | 'archive' | 'review' | 'holds' | 'retention' | 'exports' | 'drive-quotas' | 'drive-types' | 'drive-reports' | 'drive-handovers';
const TABS: { id: Tab; roles: string[]; label: string }[] = [
  { id: 'users', roles: ['sysadmin', 'secadmin'], label: 'admin_users' },
  { id: 'approvals', roles: ['sysadmin', 'secadmin'], label: 'admin_approvals' },
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
  { id: 'drive-quotas', roles: ['sysadmin'], label: 'admin_drive_quotas' },
  { id: 'drive-types', roles: ['secadmin'], label: 'admin_drive_types' },
  { id: 'drive-reports', roles: ['secadmin'], label: 'admin_drive_reports' },
  { id: 'drive-handovers', roles: ['hr', 'sysadmin'], label: 'admin_drive_handovers' },
];

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
        {tab === 'approvals' && <Approvals />}
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
        {tab === 'drive-quotas' && <DriveQuotas />}
        {tab === 'drive-types' && <DriveTypes />}
        {tab === 'drive-reports' && <DriveReports />}
        {tab === 'drive-handovers' && <DriveHandovers />}
      </div>
    </div>
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

export function Pager({ offset, next, setOffset, size }: { offset: number; next?: number | null; setOffset: (n: number) => void; size: number }) {
  return (
    <div class="row gap pager">
      <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - size))}>{t('prev')}</button>
      <button disabled={next == null} onClick={() => next != null && setOffset(next)}>{t('next')}</button>
    </div>
  );
}

