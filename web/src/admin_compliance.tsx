// compliance's screens: legal holds, retention policies and runs, archive exports.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, get, post } from './api';
import { locale, t } from './i18n';
import { S, showError, toast } from './store';
import { Modal, fmtTime } from './ui';
import { ErrorLine, errText } from './admin_dlp';
import { ReasonFields, reasonProblem, type Why } from './admin_archive';
import { countsLabel, word } from './labels_compliance';
import type {
  AccessRequestFiled, AccessRequests as AccessRequestsAnswer, ArchiveOriginal, DirectoryPage, DualControlSettings as DualControlAnswer,
  ExportDone, ExportList, ExportRecord, LegalHold, LegalHoldReleased, LegalHolds, RetentionPolicies, RetentionPolicy,
  RetentionPolicySet, RetentionRunRecord, RetentionRunResult, RetentionRuns,
} from './api-types';

/** A date input's value as an ISO instant: the start of the day, or its end for `until`. */
function dayIso(v: string, end = false): string | undefined {
  if (!v) return undefined;
  const d = new Date(v + (end ? 'T23:59:59.999' : 'T00:00:00'));
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A person given as an ID or a username (looked up in the directory). */
async function resolveUser(v: string): Promise<number | undefined> {
  const s = v.trim();
  if (!s) return undefined;
  if (/^\d+$/.test(s)) return Number(s);
  const r = await get<DirectoryPage>(`/directory/users?q=${encodeURIComponent(s)}&limit=20`);
  const u = (r.users || []).find((x) => x.username === s) || ((r.users || []).length === 1 ? r.users[0] : null);
  if (!u) throw new ApiError(404, 'not_found', t('user_not_found'));
  return u.id;
}

function Counts({ counts }: { counts: Record<string, number> | undefined }) {
  if (!counts) return null;
  return <span>{Object.entries(counts).filter(([k]) => k !== 'dry_run').map(([k, n]) => `${t('count_' + k) === 'count_' + k ? k : t('count_' + k)} ${n}`).join(' · ')}</span>;
}

export function Holds() {
  const [rows, setRows] = useState<LegalHold[] | null>(null);
  const [activeOnly, setActiveOnly] = useState(false);
  const [f, setF] = useState({ user: '', conversation: '', since: '', until: '', reason: '' });
  const [err, setErr] = useState<string | null>(null);
  const [releasing, setReleasing] = useState<LegalHold | null>(null);
  const load = () => get<LegalHolds>(`/compliance/holds?active=${activeOnly}`).then((r) => setRows(r.holds || []), showError);
  useEffect(() => { load(); }, [activeOnly]);
  const field = (k: keyof typeof f, lbl: string, type = 'text') => (
    <label>{lbl}<input type={type} data-testid={'hold-' + k} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  return (
    <div data-testid="admin-holds">
      <p class="hint">{t('hold_hint')}</p>
      <form class="admin-form" onSubmit={async (e) => {
        e.preventDefault(); setErr(null);
        if (!f.user.trim() && !f.conversation.trim() && !f.since && !f.until) { setErr(t('hold_need_scope')); return; }
        try {
          const body: any = { reason: f.reason.trim(), user_id: await resolveUser(f.user), since: dayIso(f.since), until: dayIso(f.until, true) };
          if (f.conversation.trim()) body.conversation_id = Number(f.conversation.trim());
          await post('/compliance/holds', body);
          toast(t('saved')); setF({ user: '', conversation: '', since: '', until: '', reason: '' }); load();
        } catch (e2) { setErr(errText(e2)); }
      }}>
        {field('user', t('hold_user'))}{field('conversation', t('hold_conversation'))}{field('since', t('since'), 'date')}{field('until', t('until'), 'date')}
        <label class="grow">{t('hold_reason')}<input data-testid="hold-reason" required maxLength={500} value={f.reason} onInput={(e) => setF({ ...f, reason: e.currentTarget.value })} /></label>
        <button class="primary" type="submit" data-testid="hold-create">{t('hold_create')}</button>
      </form>
      <ErrorLine msg={err} testid="hold-error" />
      <label class="check"><input type="checkbox" checked={activeOnly} onChange={(e) => setActiveOnly(e.currentTarget.checked)} /> {t('hold_active_only')}</label>
      <table class="grid">
        <thead><tr><th>#</th><th>{t('hold_scope')}</th><th>{t('reason')}</th><th>{t('time')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(rows || []).map((h) => (
          <tr data-testid="hold-row" data-hold-id={h.id} data-active={String(!h.released_at)}>
            <td>{h.id}</td>
            <td>{[h.user_id != null ? (h.user_name ? `${h.user_name}（${h.username}）` : `${t('name')} #${h.user_id}`) : '',
              h.conversation_id != null ? `${t('hold_conversation')} ${h.conversation_title || '#' + h.conversation_id}` : '',
              h.since || h.until ? `${h.since ? fmtTime(h.since, true) : '…'} – ${h.until ? fmtTime(h.until, true) : '…'}` : ''].filter(Boolean).join(' · ')}</td>
            <td class="wrap">{h.reason}{h.release_reason ? <div class="muted">{t('hold_release')}: {h.release_reason}</div> : null}</td>
            <td>{fmtTime(h.placed_at, true)}</td>
            <td>{h.released_at ? <span class="badge">{t('hold_released')} {fmtTime(h.released_at, true)}</span> : <span class="badge warn">{t('hold_active')}</span>}</td>
            <td>{!h.released_at && <button class="link danger" data-testid="hold-release" onClick={() => setReleasing(h)}>{t('hold_release')}</button>}</td>
          </tr>
        ))}</tbody>
      </table>
      {rows && rows.length === 0 && <div class="muted pad">{t('none')}</div>}
      {releasing && <ReleaseDialog hold={releasing} onClose={() => setReleasing(null)} onDone={() => { setReleasing(null); load(); }} />}
    </div>
  );
}

function ReleaseDialog({ hold, onClose, onDone }: { hold: LegalHold; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<string | null>(null);
  return (
    <Modal title={`${t('hold_release')} #${hold.id}`} onClose={onClose} testid="hold-release-dialog">
      <form class="stack" onSubmit={async (e) => {
        e.preventDefault();
        try {
          const r = await post<LegalHoldReleased | AccessRequestFiled>(`/compliance/holds/${hold.id}/release`, { reason: reason.trim() });
          toast(r?.status === 'pending' ? SECOND_OFFICER() : t('saved')); onDone();
        } catch (e2) { setErr(errText(e2)); }
      }}>
        <label>{t('hold_release_reason')}<input data-testid="hold-release-reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
        <ErrorLine msg={err} />
        <button class="danger" type="submit" data-testid="hold-release-confirm">{t('hold_release')}</button>
      </form>
    </Modal>
  );
}

/** A retention scope in words: 默认, 审计日志, 单聊, 群聊, 部门 X. */
function scopeName(scope: string): string {
  const en = !zh();
  if (scope === 'default') return en ? 'Default' : '默认';
  if (scope === 'audit') return en ? 'Audit trail' : '审计日志';
  if (scope.startsWith('kind:')) return word(scope.slice(5));
  if (scope.startsWith('unit:')) return (en ? 'Unit ' : '部门 ') + scope.slice(5);
  return scope;
}

export function Retention() {
  const [policies, setPolicies] = useState<RetentionPolicy[]>([]);
  const [runs, setRuns] = useState<RetentionRunRecord[]>([]);
  const [f, setF] = useState({ scope: 'default', messages_days: '', files_days: '' });
  const [err, setErr] = useState<string | null>(null);
  const [last, setLast] = useState<RetentionRunResult | null>(null);
  const [confirming, setConfirming] = useState(false);
  const load = () => {
    get<RetentionPolicies>('/compliance/retention/policies').then((r) => setPolicies(r.policies || []), showError);
    get<RetentionRuns>('/compliance/retention/runs').then((r) => setRuns(r.runs || []), showError);
  };
  useEffect(() => { load(); }, []);
  const run = async (dry: boolean) => {
    try { setLast(await post<RetentionRunResult>(`/compliance/retention/runs?dry_run=${dry}`)); setConfirming(false); load(); } catch (e) { showError(e); }
  };
  return (
    <div data-testid="admin-retention">
      <p class="hint">{t('retention_hint')}</p>
      <h4>{t('retention_policies')}</h4>
      <table class="grid">
        <thead><tr><th>{t('retention_scope')}</th><th>{t('retention_messages_days')}</th><th>{t('retention_files_days')}</th><th /></tr></thead>
        <tbody>{policies.map((p) => (
          <tr data-testid="retention-policy-row" data-scope={p.scope}><td>{scopeName(p.scope)}</td><td>{p.messages_days}</td><td>{p.scope === 'audit' ? '—' : p.files_days}</td>
            <td><button class="link" onClick={() => setF({ scope: p.scope, messages_days: String(p.messages_days), files_days: String(p.files_days) })}>{t('edit')}</button></td></tr>
        ))}</tbody>
      </table>
      <form class="admin-form" onSubmit={async (e) => {
        e.preventDefault(); setErr(null);
        const m = parseInt(f.messages_days, 10);
        const fd = f.files_days.trim() ? parseInt(f.files_days, 10) : m;
        try {
          const r = await api<RetentionPolicySet | AccessRequestFiled>('PUT', '/compliance/retention/policies', { scope: f.scope.trim(), messages_days: m, files_days: fd });
          toast(r?.status === 'pending' ? SECOND_OFFICER() : t('saved')); load();
        } catch (e2) { setErr(errText(e2)); }
      }}>
        <label>{t('retention_scope')}<input data-testid="retention-scope" list="retention-scopes" title={t('retention_scope_hint')} placeholder={t('retention_scope_hint')} required value={f.scope} onInput={(e) => setF({ ...f, scope: e.currentTarget.value })} /></label>
        <datalist id="retention-scopes">{['default', 'audit', 'kind:direct', 'kind:group', 'unit:'].map((x) => <option value={x} />)}</datalist>
        <label>{t('retention_messages_days')}<input class="num" type="number" min="1" required data-testid="retention-messages-days" value={f.messages_days} onInput={(e) => setF({ ...f, messages_days: e.currentTarget.value })} /></label>
        <label>{t('retention_files_days')}<input class="num" type="number" min="1" data-testid="retention-files-days" value={f.files_days} onInput={(e) => setF({ ...f, files_days: e.currentTarget.value })} /></label>
        <button class="primary" type="submit" data-testid="retention-set">{t('retention_set')}</button>
      </form>
      <ErrorLine msg={err} testid="retention-error" />
      <h4>{t('retention_runs')}</h4>
      <div class="row gap">
        <button data-testid="retention-dry-run" onClick={() => run(true)}>{t('retention_dry_run')}</button>
        <button class="danger" data-testid="retention-run" onClick={() => setConfirming(true)}>{t('retention_run')}</button>
      </div>
      {last && <div class="form-ok" data-testid="retention-result" data-dry-run={String(!!last.dry_run)}>{last.dry_run ? t('retention_dry') : t('retention_real')}: <Counts counts={last.counts} /></div>}
      <table class="grid">
        <thead><tr><th>#</th><th>{t('time')}</th><th>{t('actor')}</th><th>{t('retention_result')}</th></tr></thead>
        <tbody>{runs.map((r) => (
          <tr data-testid="retention-run-row"><td>{r.id}</td><td>{fmtTime(r.started_at, true)}</td><td>{r.actor ?? ''}</td>
            <td>{r.counts?.dry_run ? <span class="badge">{t('retention_dry')}</span> : null} <Counts counts={r.counts} /></td></tr>
        ))}</tbody>
      </table>
      {confirming && (
        <Modal title={t('retention_run')} onClose={() => setConfirming(false)} testid="retention-run-dialog">
          <div class="stack">
            <p>{t('retention_run_confirm')}</p>
            <button class="danger" data-testid="retention-run-confirm" onClick={() => run(false)}>{t('retention_run')}</button>
          </div>
        </Modal>
      )}
    </div>
  );
}

const FORMATS = ['jsonl', 'csv', 'eml', 'attachments'];
const zh = () => locale !== 'en';

// Shortening retention and releasing a hold always wait for a second compliance officer (双人原则).
const SECOND_OFFICER = () => (zh() ? '须另一名合规人员批准：申请已提交，批准后在“导出”页的“双人复核申请”中执行' : 'Needs another compliance officer: request filed; run it from the dual-control requests (Exports) once approved');

function scopeLabel(p: any): string {
  if (!p) return '';
  const parts = [
    p.hold_id ? (zh() ? `保全 #${p.hold_id}：${p.release_reason || ''}` : `hold #${p.hold_id}: ${p.release_reason || ''}`) : '',
    p.scope ? `${scopeName(p.scope)} → ${p.messages_days}/${p.files_days} ${zh() ? '天' : 'days'}` : '',
    p.user ? (zh() ? `人员 ${p.user}` : `person ${p.user}`) : '',
    p.unit ? (zh() ? `部门 ${p.unit}` : `unit ${p.unit}`) : '',
    p.conversation_id ? (zh() ? `会话 #${p.conversation_id}` : `conversation #${p.conversation_id}`) : '',
    p.since || p.until ? `${p.since ? fmtTime(p.since, true) : '…'} – ${p.until ? fmtTime(p.until, true) : '…'}` : '',
    p.version_id ? (zh() ? `消息版本 #${p.version_id}` : `version #${p.version_id}`) : '',
    p.include_originals ? (zh() ? '含遮盖前原文' : 'with originals') : '',
  ].filter(Boolean);
  return parts.join(' · ') || t('dlp_all');
}

export function Exports() {
  const [f, setF] = useState({ user: '', unit: '', conversation: '', since: '', until: '' });
  const [why, setWhy] = useState<Why>({ category: '', reason: '' });
  const [formats, setFormats] = useState<string[]>(FORMATS);
  const [originals, setOriginals] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [rows, setRows] = useState<ExportRecord[]>([]);
  const [tick, setTick] = useState(0);
  const load = () => get<ExportList>('/compliance/exports?limit=50').then((r) => setRows(r.exports || []), showError);
  useEffect(() => { load(); }, [tick]);
  const field = (k: keyof typeof f, lbl: string, type = 'text', ph = '') => (
    <label>{lbl}<input type={type} data-testid={'export-' + k} placeholder={ph} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  return (
    <div data-testid="admin-exports">
      <form class="admin-form" onSubmit={async (e) => {
        e.preventDefault(); setErr(null);
        const bad = reasonProblem(why);
        if (bad) { setErr(bad); return; }
        setBusy(true);
        try {
          const body: any = { category: why.category, reason: why.reason.trim(), formats, since: dayIso(f.since), until: dayIso(f.until, true), include_originals: originals };
          if (f.user.trim()) body.user = f.user.trim();
          if (f.unit.trim()) body.unit = f.unit.trim();
          if (f.conversation.trim()) body.conversation_id = Number(f.conversation.trim());
          const r = await post<ExportDone | AccessRequestFiled>('/compliance/exports', body);
          if (r.status === 'pending') toast(zh() ? '须另一名合规人员批准：申请已提交，见下方“双人复核申请”' : 'Needs another officer: request filed (see below)');
          else toast(t('saved'));
          setTick(tick + 1);
        } catch (e2) { setErr(errText(e2)); } finally { setBusy(false); }
      }}>
        <ReasonFields why={why} setWhy={setWhy} prefix="export" />
        {field('user', t('export_user'), 'text', zh() ? '用户名' : 'username')}{field('unit', t('unit'), 'text', zh() ? '部门路径，如：北京分行' : 'unit path')}
        {field('conversation', t('hold_conversation'), 'text', zh() ? '会话编号' : 'conversation no.')}{field('since', t('since'), 'date')}{field('until', t('until'), 'date')}
        <div class="checks">{FORMATS.map((x) => <label class="check"><input type="checkbox" data-testid={'export-format-' + x} checked={formats.includes(x)} onChange={(e) => setFormats(e.currentTarget.checked ? [...formats, x] : formats.filter((y) => y !== x))} /> {word(x)}</label>)}</div>
        <label class="check"><input type="checkbox" data-testid="export-originals" checked={originals} onChange={(e) => setOriginals(e.currentTarget.checked)} /> {zh() ? '包含被遮盖消息的原文' : 'Include the originals of masked messages'}</label>
        <button class="primary" type="submit" disabled={busy || !formats.length} data-testid="export-create">{busy ? t('loading') : t('export_create')}</button>
      </form>
      <ErrorLine msg={err} testid="export-error" />
      <h4>{zh() ? '导出记录' : 'Exports'}</h4>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('actor')}</th><th>{zh() ? '范围' : 'Scope'}</th><th>{t('retention_result')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{rows.map((x) => (
          <tr data-testid="export-row" data-export-id={x.id}><td>{fmtTime(x.created_at, true)}</td><td>{x.actor_name}</td>
            <td>{scopeLabel(x.filters)}</td>
            <td>{countsLabel(x.counts)}</td>
            <td>{x.downloadable === false ? <span class="muted">{zh() ? '仅导出人可下载' : 'Only its maker downloads it'}</span> : <a class="button" data-testid="export-download" href={`/api/v1/compliance/exports/${x.id}/download`} download>{zh() ? '下载（zip）' : 'Download (zip)'}</a>}</td></tr>
        ))}</tbody>
      </table>
      {rows.length === 0 && <div class="muted pad">{t('none')}</div>}
      <AccessRequests tick={tick} onDone={() => setTick(tick + 1)} />
    </div>
  );
}

/** Dual control: requests for heavy access. Another officer approves or rejects; the asker carries an
 * approved one out once (the export is made, or the original shown). */
function AccessRequests({ tick, onDone }: { tick: number; onDone: () => void }) {
  const [data, setData] = useState<AccessRequestsAnswer | null>(null);
  const [shown, setShown] = useState<ArchiveOriginal | null>(null);
  const load = () => get<AccessRequestsAnswer>('/compliance/access-requests?limit=50').then(setData, showError);
  useEffect(() => { load(); }, [tick]);
  const me = S.me?.id;
  const act = <T,>(f: () => Promise<T>) => async (): Promise<T | undefined> => { try { const r = await f(); load(); return r; } catch (e) { showError(e); } };
  const on = Object.entries(data?.dual_control || {}).filter(([, v]) => v).map(([k]) => word(k));
  return (
    <div data-testid="access-requests">
      <h4>{zh() ? '双人复核申请' : 'Dual-control requests'}</h4>
      <p class="hint">{on.length ? (zh() ? `以下查阅须另一名合规人员批准：${on.join('、')}。不能批准自己的申请。` : `Needs a second officer: ${on.join(', ')}.`) : (zh() ? '安全管理员未开启双人复核。' : 'Dual control is off.')}</p>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{zh() ? '申请人' : 'By'}</th><th>{zh() ? '类型' : 'Kind'}</th><th>{zh() ? '范围' : 'Scope'}</th><th>{t('reason')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(data?.requests || []).map((r) => (
          <tr data-testid="access-request-row" data-status={r.status}>
            <td>{fmtTime(r.requested_at, true)}</td><td>{r.requested_by?.name}</td>
            <td>{(r.kinds || [r.kind]).map(word).join('、')}</td><td>{scopeLabel(r.params)}</td>
            <td class="wrap">{word(r.reason_category)}：{r.reason}</td>
            <td>{word(r.status)}{r.decided_by ? <div class="muted">{r.decided_by.name}{r.decision_note ? `：${r.decision_note}` : ''}</div> : null}</td>
            <td class="actions">
              {r.status === 'pending' && r.requested_by?.id !== me && <>
                <button class="link" data-testid="access-request-approve" onClick={act(() => post(`/compliance/access-requests/${r.id}/approve`, {}))}>{zh() ? '批准' : 'Approve'}</button>
                <button class="link danger" data-testid="access-request-reject" onClick={act(() => post(`/compliance/access-requests/${r.id}/reject`, {}))}>{zh() ? '驳回' : 'Reject'}</button>
              </>}
              {r.status === 'pending' && r.requested_by?.id === me && <span class="muted">{zh() ? '等待他人批准' : 'Waiting for another officer'}</span>}
              {r.status === 'approved' && r.requested_by?.id === me && (
                <button class="link" data-testid="access-request-run" onClick={async () => {
                  const out = await act(() => post<ExportDone | ArchiveOriginal | RetentionPolicySet | LegalHoldReleased>(`/compliance/access-requests/${r.id}/run`, {}))();
                  if (out && 'original_text' in out) setShown(out); else if (out) { toast(t('saved')); onDone(); }
                }}>{r.params?.version_id ? (zh() ? '查看原文' : 'View original') : r.params?.hold_id ? (zh() ? '解除保全' : 'Release hold') : r.params?.scope ? (zh() ? '执行调整' : 'Apply policy') : (zh() ? '执行导出' : 'Run export')}</button>
              )}
            </td>
          </tr>
        ))}</tbody>
      </table>
      {data && !(data.requests || []).length && <div class="muted pad">{t('none')}</div>}
      {shown && (
        <Modal title={zh() ? '遮盖前原文' : 'Unmasked original'} onClose={() => setShown(null)} testid="dialog">
          <div class="stack">
            <p class="wrap" data-testid="access-request-original">{shown.original_text}</p>
            <button class="primary" data-testid="dialog-ok" onClick={() => setShown(null)}>{t('ok')}</button>
          </div>
        </Modal>
      )}
    </div>
  );
}

/** secadmin's switch: which heavy compliance accesses need a second compliance officer. */
export function DualControlSettings() {
  const [v, setV] = useState<Record<string, boolean> | null>(null);
  useEffect(() => { get<DualControlAnswer>('/security/dual-control').then((r) => setV(r.dual_control), showError); }, []);
  if (!v) return null;
  return (
    <div data-testid="dual-control-settings" class="stack">
      <h4>{zh() ? '合规双人复核' : 'Compliance dual control'}</h4>
      <p class="hint">{zh() ? '开启后，合规人员的该类查阅须另一名合规人员批准，本人不能批准自己的申请。' : "When on, a compliance officer's access of that kind needs another officer's approval."}</p>
      {['export_person', 'export_unit', 'originals'].map((k) => (
        <label class="check"><input type="checkbox" data-testid={'dual-control-' + k} checked={!!v[k]} onChange={async (e) => {
          try { const r = await api<DualControlAnswer>('PUT', '/security/dual-control', { [k]: e.currentTarget.checked }); setV(r.dual_control); toast(t('saved')); } catch (e2) { showError(e2); }
        }} /> {word(k)}</label>
      ))}
    </div>
  );
}
