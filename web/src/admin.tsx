import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { fmtTime } from './ui';
import { loginReasons } from './security';
import { lazyPart } from './lazy';
import { w } from './labels_org';
import type { DirectoryUnit, DirectoryUnits, LoginAlertRow, LoginAlerts, SessionRow, Sessions as SessionsAnswer } from './api-types';

// The consoles' screens are loaded when an administrator opens them, never by an employee's client:
// each module is its own chunk (esbuild splitting), fetched once on first use.
const DlpHits = lazyPart(() => import('./admin_dlp'), 'DlpHits');
const DlpLexicons = lazyPart(() => import('./admin_dlp'), 'DlpLexicons');
const DlpPolicy = lazyPart(() => import('./admin_dlp'), 'DlpPolicy');
const Exports = lazyPart(() => import('./admin_compliance'), 'Exports');
const Holds = lazyPart(() => import('./admin_compliance'), 'Holds');
const Retention = lazyPart(() => import('./admin_compliance'), 'Retention');
const Approvals = lazyPart(() => import('./admin_people'), 'Approvals');
const Users = lazyPart(() => import('./admin_people'), 'Users');
const Audit = lazyPart(() => import('./admin_audit'), 'Audit');
const Archive = lazyPart(() => import('./admin_archive'), 'Archive');
const Review = lazyPart(() => import('./admin_review'), 'Review');
const AccountReview = lazyPart(() => import('./admin_people_rules'), 'AccountReview');
const Announce = lazyPart(() => import('./admin_people_rules'), 'Announce');
const FunctionRules = lazyPart(() => import('./admin_people_rules'), 'FunctionRules');
const RulesAdmin = lazyPart(() => import('./admin_people_rules'), 'RulesAdmin');
const RulesReport = lazyPart(() => import('./admin_people_rules'), 'RulesReport');

const FaultQueue = lazyPart(() => import('./admin_ops'), 'FaultQueue');
const InspectionReport = lazyPart(() => import('./admin_ops'), 'InspectionReport');
const OpsMonitor = lazyPart(() => import('./admin_ops'), 'OpsMonitor');
const SecurityRisks = lazyPart(() => import('./admin_ops'), 'SecurityRisks');

const Applications = lazyPart(() => import('./org_applications'), 'Applications');
const OrgPeople = lazyPart(() => import('./org_admin'), 'OrgPeople');
const OrgUnits = lazyPart(() => import('./org_admin'), 'OrgUnits');

const DriveHandovers = lazyPart(() => import('./admin_drive'), 'DriveHandovers');
const DriveQuotas = lazyPart(() => import('./admin_drive'), 'DriveQuotas');
const DriveReports = lazyPart(() => import('./admin_drive'), 'DriveReports');
const DriveTypes = lazyPart(() => import('./admin_drive'), 'DriveTypes');

const KeysScreen = lazyPart(() => import('./admin_keys'), 'KeysScreen');

// Tabs of issue 21, labelled from labels_org.ts.
const ORG_LABELS: Record<string, string> = { admin_applications: 'applications', admin_org_units: 'org_units', admin_org_people: 'org_people' };

type Tab = 'users' | 'approvals' | 'applications' | 'org-units' | 'org-people' | 'units' | 'sessions' | 'alerts' | 'audit' | 'dlp-policy' | 'dlp-lexicons' | 'dlp' | 'archive' | 'review' | 'holds' | 'retention' | 'exports'
  | 'announce' | 'rules' | 'rules-report' | 'functions' | 'account-review' | 'faults' | 'ops' | 'inspection'
  | 'drive-quotas' | 'drive-types' | 'drive-reports' | 'drive-handovers' | 'keys';
const TABS: { id: Tab; roles: string[]; label: string }[] = [
  { id: 'users', roles: ['sysadmin', 'secadmin'], label: 'admin_users' },
  { id: 'approvals', roles: ['sysadmin', 'secadmin'], label: 'admin_approvals' },
  { id: 'applications', roles: ['sysadmin', 'hr', 'unit_head'], label: 'admin_applications' },
  { id: 'org-units', roles: ['hr'], label: 'admin_org_units' },
  { id: 'org-people', roles: ['hr'], label: 'admin_org_people' },
  { id: 'units', roles: ['sysadmin'], label: 'admin_units' },
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
  { id: 'announce', roles: ['sysadmin', 'hr', 'unit_head'], label: 'admin_announce' },
  { id: 'rules', roles: ['secadmin'], label: 'admin_rules' },
  { id: 'rules-report', roles: ['secadmin', 'compliance', 'auditor'], label: 'admin_rules_report' },
  { id: 'functions', roles: ['secadmin'], label: 'admin_functions' },
  { id: 'account-review', roles: ['sysadmin', 'secadmin'], label: 'admin_account_review' },
  { id: 'faults', roles: ['sysadmin'], label: 'admin_faults' },
  { id: 'ops', roles: ['sysadmin'], label: 'admin_ops' },
  { id: 'inspection', roles: ['sysadmin', 'secadmin', 'auditor'], label: 'admin_inspection' },
  { id: 'drive-quotas', roles: ['sysadmin'], label: 'admin_drive_quotas' },
  { id: 'drive-types', roles: ['secadmin'], label: 'admin_drive_types' },
  { id: 'drive-reports', roles: ['secadmin'], label: 'admin_drive_reports' },
  { id: 'drive-handovers', roles: ['hr'], label: 'admin_drive_handovers' },
  { id: 'keys', roles: ['secadmin', 'auditor'], label: 'admin_keys' },
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
          <button role="tab" aria-selected={tab === x.id} class={tab === x.id ? 'active' : ''} data-testid={'admin-tab-' + x.id} onClick={() => setTab(x.id)}>{ORG_LABELS[x.label] ? w(ORG_LABELS[x.label]) : t(x.label)}</button>
        ))}
      </nav>
      <div class="admin-body">
        {tab === 'users' && <Users />}
        {tab === 'approvals' && <Approvals />}
        {tab === 'applications' && <Applications />}
        {tab === 'org-units' && <OrgUnits />}
        {tab === 'org-people' && <OrgPeople />}
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
        {tab === 'announce' && <Announce />}
        {tab === 'rules' && <RulesAdmin />}
        {tab === 'rules-report' && <RulesReport />}
        {tab === 'functions' && <FunctionRules />}
        {tab === 'account-review' && <AccountReview />}
        {tab === 'faults' && <FaultQueue />}
        {tab === 'ops' && <OpsMonitor />}
        {tab === 'inspection' && <InspectionReport />}
        {tab === 'drive-quotas' && <DriveQuotas />}
        {tab === 'drive-types' && <DriveTypes />}
        {tab === 'drive-reports' && <DriveReports />}
        {tab === 'drive-handovers' && <DriveHandovers />}
        {tab === 'keys' && <KeysScreen />}
      </div>
    </div>
  );
}

function Units() {
  const [units, setUnits] = useState<DirectoryUnit[]>([]);
  const [name, setName] = useState('');
  const [parent, setParent] = useState('');
  const load = () => get<DirectoryUnits>('/admin/units').then((r) => setUnits(r.units || []), showError);
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
  const [rows, setRows] = useState<SessionRow[] | null>(null);
  useEffect(() => { get<SessionsAnswer>('/admin/sessions?limit=200').then((r) => setRows(r.sessions || []), showError); }, []);
  return (
    <div data-testid="admin-sessions">
      <table class="grid">
        <thead><tr><th>{t('name')}</th><th>{t('created_at')}</th><th>{t('last_seen')}</th><th>{t('ip')}</th><th>{t('user_agent')}</th></tr></thead>
        <tbody>{(rows || []).map((s) => (
          <tr><td>{s.name || s.username || s.user_id}</td><td>{fmtTime(s.created_at, true)}</td><td>{fmtTime(s.last_seen_at, true)}</td><td>{s.ip}</td><td class="ua">{s.user_agent}</td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}

function Alerts() {
  const [rows, setRows] = useState<LoginAlertRow[] | null>(null);
  useEffect(() => { get<LoginAlerts>('/admin/login-alerts?limit=200').then((r) => setRows(r.alerts || []), showError); }, []);
  return (
    <div data-testid="admin-alerts">
      <SecurityRisks />
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('name')}</th><th>{t('ip')}</th><th>{t('reason')}</th></tr></thead>
        <tbody>{(rows || []).map((a) => (
          <tr><td>{fmtTime(a.created_at, true)}</td><td>{a.name || a.username || a.user_id}</td><td>{a.ip}</td><td>{loginReasons(a)}</td></tr>
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

