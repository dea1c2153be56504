import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { Icon, fmtTime, roleName } from './ui';
import { DlpHits, DlpLexicons, DlpPolicy } from './admin_dlp';
import { Exports, Holds, Retention } from './admin_compliance';
import { Approvals, Users } from './admin_people';

type Tab = 'users' | 'approvals' | 'units' | 'sessions' | 'alerts' | 'audit' | 'dlp-policy' | 'dlp-lexicons' | 'dlp' | 'archive' | 'review' | 'holds' | 'retention' | 'exports';
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
          <tr><td>{fmtTime(a.created_at || a.at, true)}</td><td>{a.user?.name || a.name || a.username || a.user_id}</td><td>{a.ip}</td><td>{Array.isArray(a.reasons) ? a.reasons.join(', ') : a.reason || a.kind || ''}</td></tr>
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
