// compliance's screens: legal holds, retention policies and runs, archive exports.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, get, post } from './api';
import { t } from './i18n';
import { showError, toast } from './store';
import { Modal, fmtTime } from './ui';
import { ErrorLine, errText } from './admin_dlp';

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
  const r = await get<any>(`/directory/users?q=${encodeURIComponent(s)}&limit=20`);
  const u = (r.users || []).find((x: any) => x.username === s) || ((r.users || []).length === 1 ? r.users[0] : null);
  if (!u) throw new ApiError(404, 'not_found', t('user_not_found'));
  return u.id;
}

function Counts({ counts }: { counts: Record<string, number> | undefined }) {
  if (!counts) return null;
  return <span>{Object.entries(counts).filter(([k]) => k !== 'dry_run').map(([k, n]) => `${t('count_' + k) === 'count_' + k ? k : t('count_' + k)} ${n}`).join(' · ')}</span>;
}

export function Holds() {
  const [rows, setRows] = useState<any[] | null>(null);
  const [activeOnly, setActiveOnly] = useState(false);
  const [f, setF] = useState({ user: '', conversation: '', since: '', until: '', reason: '' });
  const [err, setErr] = useState<string | null>(null);
  const [releasing, setReleasing] = useState<any>(null);
  const load = () => get<any>(`/compliance/holds?active=${activeOnly}`).then((r) => setRows(r.holds || []), showError);
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
            <td>{[h.user_id != null ? `${t('name')} #${h.user_id}` : '', h.conversation_id != null ? `${t('hold_conversation')} ${h.conversation_id}` : '',
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

function ReleaseDialog({ hold, onClose, onDone }: { hold: any; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<string | null>(null);
  return (
    <Modal title={`${t('hold_release')} #${hold.id}`} onClose={onClose} testid="hold-release-dialog">
      <form class="stack" onSubmit={async (e) => {
        e.preventDefault();
        try { await post(`/compliance/holds/${hold.id}/release`, { reason: reason.trim() }); toast(t('saved')); onDone(); } catch (e2) { setErr(errText(e2)); }
      }}>
        <label>{t('hold_release_reason')}<input data-testid="hold-release-reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
        <ErrorLine msg={err} />
        <button class="danger" type="submit" data-testid="hold-release-confirm">{t('hold_release')}</button>
      </form>
    </Modal>
  );
}

export function Retention() {
  const [policies, setPolicies] = useState<any[]>([]);
  const [runs, setRuns] = useState<any[]>([]);
  const [f, setF] = useState({ scope: 'default', messages_days: '', files_days: '' });
  const [err, setErr] = useState<string | null>(null);
  const [last, setLast] = useState<any>(null);
  const [confirming, setConfirming] = useState(false);
  const load = () => {
    get<any>('/compliance/retention/policies').then((r) => setPolicies(r.policies || []), showError);
    get<any>('/compliance/retention/runs').then((r) => setRuns(r.runs || []), showError);
  };
  useEffect(() => { load(); }, []);
  const run = async (dry: boolean) => {
    try { setLast(await post<any>(`/compliance/retention/runs?dry_run=${dry}`)); setConfirming(false); load(); } catch (e) { showError(e); }
  };
  return (
    <div data-testid="admin-retention">
      <p class="hint">{t('retention_hint')}</p>
      <h4>{t('retention_policies')}</h4>
      <table class="grid">
        <thead><tr><th>{t('retention_scope')}</th><th>{t('retention_messages_days')}</th><th>{t('retention_files_days')}</th><th /></tr></thead>
        <tbody>{policies.map((p) => (
          <tr data-testid="retention-policy-row" data-scope={p.scope}><td>{p.scope}</td><td>{p.messages_days}</td><td>{p.scope === 'audit' ? '—' : p.files_days}</td>
            <td><button class="link" onClick={() => setF({ scope: p.scope, messages_days: String(p.messages_days), files_days: String(p.files_days) })}>{t('edit')}</button></td></tr>
        ))}</tbody>
      </table>
      <form class="admin-form" onSubmit={async (e) => {
        e.preventDefault(); setErr(null);
        const m = parseInt(f.messages_days, 10);
        const fd = f.files_days.trim() ? parseInt(f.files_days, 10) : m;
        try { await api('PUT', '/compliance/retention/policies', { scope: f.scope.trim(), messages_days: m, files_days: fd }); toast(t('saved')); load(); } catch (e2) { setErr(errText(e2)); }
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
// Exports made in this page's lifetime (the server has no listing endpoint yet).
const made: any[] = [];

export function Exports() {
  const [f, setF] = useState({ reason: '', user: '', conversation: '', since: '', until: '' });
  const [formats, setFormats] = useState<string[]>(FORMATS);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [, setN] = useState(0);
  const field = (k: keyof typeof f, lbl: string, type = 'text') => (
    <label>{lbl}<input type={type} data-testid={'export-' + k} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  return (
    <div data-testid="admin-exports">
      <form class="admin-form" onSubmit={async (e) => {
        e.preventDefault(); setErr(null); setBusy(true);
        try {
          const body: any = { reason: f.reason.trim(), formats, since: dayIso(f.since), until: dayIso(f.until, true) };
          if (f.user.trim()) body.user = f.user.trim();
          if (f.conversation.trim()) body.conversation_id = Number(f.conversation.trim());
          const r = await post<any>('/compliance/exports', body);
          made.unshift({ ...r, at: new Date().toISOString(), filters: { user: body.user, conversation_id: body.conversation_id, since: f.since, until: f.until }, reason: body.reason });
          setN(made.length); toast(t('saved'));
        } catch (e2) { setErr(errText(e2)); } finally { setBusy(false); }
      }}>
        <label class="grow">{t('export_reason')}<input data-testid="export-reason" required maxLength={500} value={f.reason} onInput={(e) => setF({ ...f, reason: e.currentTarget.value })} /></label>
        {field('user', t('export_user'))}{field('conversation', t('hold_conversation'))}{field('since', t('since'), 'date')}{field('until', t('until'), 'date')}
        <div class="checks">{FORMATS.map((x) => <label class="check"><input type="checkbox" checked={formats.includes(x)} onChange={(e) => setFormats(e.currentTarget.checked ? [...formats, x] : formats.filter((y) => y !== x))} /> {x}</label>)}</div>
        <button class="primary" type="submit" disabled={busy || !formats.length} data-testid="export-create">{busy ? t('loading') : t('export_create')}</button>
      </form>
      <ErrorLine msg={err} testid="export-error" />
      <h4>{t('export_list')}</h4>
      <p class="hint">{t('export_session_only')}</p>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('reason')}</th><th>{t('hold_scope')}</th><th>{t('retention_result')}</th><th>{t('export_files')}</th><th>{t('export_path')}</th></tr></thead>
        <tbody>{made.map((x) => (
          <tr data-testid="export-row"><td>{fmtTime(x.at, true)}</td><td class="wrap">{x.reason}</td>
            <td>{[x.filters.user, x.filters.conversation_id ? '#' + x.filters.conversation_id : '', x.filters.since || x.filters.until ? `${x.filters.since || '…'} – ${x.filters.until || '…'}` : ''].filter(Boolean).join(' · ') || t('dlp_all')}</td>
            <td><Counts counts={x.counts} /></td><td>{x.files}</td><td class="ua" title={x.path}>{x.name}</td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}
