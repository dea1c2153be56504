// People's rules, the administrators' side: publishing announcements (sysadmin, HR, unit heads), the
// usage rules (secadmin) and who accepted them (secadmin, compliance, auditor), function switches
// (secadmin) and the account review (sysadmin, secadmin).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, del, get, post } from './api';
import { t } from './i18n';
import { showError, toast, useStore } from './store';
import { Icon, fmtTime } from './ui';
import { Dialog } from './admin_people';
import { RichText } from './people';
import { w } from './labels_org';
import type * as apiT from './api-types';

const FUNCTIONS = ['send_files', 'create_groups', 'cross_unit_messages', 'cross_unit_groups', 'cross_unit_groups_unreviewed', 'use_drive', 'group_size'];
// The switches added with the drive and the unit head's approval are named in labels_org.
const fname = (x: string) => { const v = w('function_' + x); return v === 'function_' + x ? t('function_' + x) : v; };
const KINDS = ['dormant', 'password_expired', 'no_two_factor', 'admin_inactive', 'not_hr_verified', 'rules_not_accepted'];

function download(path: string) {
  const a = document.createElement('a');
  a.href = '/api/v1' + path; a.download = ''; document.body.appendChild(a); a.click(); a.remove();
}

// ---- announcements -----------------------------------------------------------------------------------

export function Announce() {
  useStore();
  const [scope, setScope] = useState<apiT.PublishScope | null>(null);
  const [rows, setRows] = useState<apiT.AnnouncementPublished[]>([]);
  const [f, setF] = useState({ title: '', body: '', all: true, units: [] as number[], must_confirm: false, pinned: false, expires: '' });
  const [err, setErr] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [fileKey, setFileKey] = useState(0); // a new input after publishing: the chosen files are gone
  const [who, setWho] = useState<{ a: any; status: string; people: any[] } | null>(null);
  const load = () => get<apiT.PublishedAnnouncements>('/announcements/published?limit=100').then((r) => setRows(r.announcements), showError);
  useEffect(() => {
    get<apiT.PublishScope>('/announcements/scope').then((s) => { setScope(s); if (!s.bank_wide) setF((x) => ({ ...x, all: false })); }, showError);
    load();
  }, []);
  async function publish(e: Event, confirm = false) {
    e.preventDefault(); setErr('');
    if (!f.all && !f.units.length) { setErr(t('announce_choose_unit')); return; }
    setBusy(true);
    try {
      const file_ids: number[] = [];
      for (const file of files) { // each file is scanned and checked by DLP as it is uploaded
        const fd = new FormData();
        fd.append('file', file, file.name);
        if (confirm) fd.append('confirm', 'true');
        file_ids.push((await api<any>('POST', '/announcements/files', undefined, { raw: fd })).id);
      }
      const body: any = { title: f.title.trim(), body: f.body, unit_ids: f.all ? [] : f.units, must_confirm: f.must_confirm, pinned: f.pinned, confirm, file_ids };
      if (f.expires) body.expires_at = new Date(f.expires).toISOString();
      await post('/announcements', body);
      setF({ ...f, title: '', body: '', units: [], expires: '' });
      setFiles([]); setFileKey((k) => k + 1);
      load();
      const latest = (await get<any>('/announcements/published?limit=1')).announcements?.[0];
      toast(t('announce_published', { n: latest?.recipients ?? 0 }));
    } catch (e2) {
      if (e2 instanceof ApiError && e2.code === 'dlp_confirm_required' && window.confirm(e2.message)) return publish(e, true);
      setErr(e2 instanceof ApiError ? e2.message : t('error_generic'));
    } finally { setBusy(false); }
  }
  async function showWho(a: any, status: string) {
    try { setWho({ a, status, people: (await get<any>(`/announcements/${a.id}/receipts?status=${status}&limit=200`)).people || [] }); } catch (e) { showError(e); }
  }
  return (
    <div class="stack" data-testid="admin-announce">
      <form class="stack card" onSubmit={(e) => publish(e)} data-testid="announce-form">
        {scope && !scope.bank_wide && <div class="muted small">{t('announce_scope_own')}</div>}
        <label>{t('announce_title')}<input data-testid="announce-title" maxLength={200} value={f.title} onInput={(e) => setF({ ...f, title: e.currentTarget.value })} required /></label>
        <label>{t('announce_body')} <span class="muted small">{t('announce_body_hint')}</span>
          <textarea data-testid="announce-body" rows={5} value={f.body} onInput={(e) => setF({ ...f, body: e.currentTarget.value })} required /></label>
        <div class="row gap wrap">
          {scope?.bank_wide && <label class="check"><input type="radio" name="to" data-testid="announce-to-all" checked={f.all} onChange={() => setF({ ...f, all: true })} /> {t('announce_to_all')}</label>}
          <label class="check"><input type="radio" name="to" data-testid="announce-to-units" checked={!f.all} onChange={() => setF({ ...f, all: false })} /> {t('announce_to_units')}</label>
        </div>
        {!f.all && (
          <select multiple size={Math.min(6, scope?.units.length || 1)} data-testid="announce-units" onChange={(e) => setF({ ...f, units: Array.from(e.currentTarget.selectedOptions).map((o) => Number(o.value)) })}>
            {(scope?.units || []).map((u) => <option value={u.id} selected={f.units.includes(u.id)}>{u.path}</option>)}
          </select>
        )}
        <div class="row gap wrap">
          <label class="check"><input type="checkbox" data-testid="announce-must-confirm" checked={f.must_confirm} onChange={(e) => setF({ ...f, must_confirm: e.currentTarget.checked })} /> {t('announce_must_confirm')}</label>
          <label class="check"><input type="checkbox" data-testid="announce-pinned" checked={f.pinned} onChange={(e) => setF({ ...f, pinned: e.currentTarget.checked })} /> {t('announce_pinned')}</label>
          <label>{t('announce_expires')} <input type="datetime-local" data-testid="announce-expires" value={f.expires} onInput={(e) => setF({ ...f, expires: e.currentTarget.value })} /></label>
        </div>
        <label>{t('announce_files')} <input key={fileKey} type="file" multiple data-testid="announce-files" onChange={(e) => setFiles(Array.from(e.currentTarget.files || []))} /></label>
        {err && <div class="form-error" role="alert" data-testid="announce-error">{err}</div>}
        <button class="primary" type="submit" data-testid="announce-publish" disabled={busy}>{t('announce_publish')}</button>
      </form>
      <div class="table-wrap">
        <table class="grid" data-testid="announce-list">
          <thead><tr><th>{t('announce_title')}</th><th>{t('time')}</th><th>{t('announce_recipients')}</th><th>{t('announce_read')}</th><th>{t('announce_confirmed')}</th><th /></tr></thead>
          <tbody>{rows.map((a) => (
            <tr data-testid="announce-row" data-id={a.id}>
              <td>{a.pinned && <span class="badge">{t('announcement_pinned')}</span>}{a.title}{a.files?.length ? <span class="muted small"> <Icon name="file" size={13} />{a.files.length}</span> : null}{a.withdrawn_at && <span class="badge warn">{t('announce_withdrawn')}</span>}<div class="muted small">{a.to_all ? t('announce_to_all') : (a.units || []).join('、')}</div></td>
              <td>{fmtTime(a.created_at, true)}</td>
              <td>{a.recipients}</td>
              <td data-testid="announce-read-count">{a.read}</td>
              <td>{a.must_confirm ? a.confirmed : '—'}</td>
              <td class="row gap wrap">
                <button data-testid="announce-unread" onClick={() => showWho(a, 'unread')}>{t('announce_unread_list')}</button>
                {a.must_confirm && <button onClick={() => showWho(a, 'unconfirmed')}>{t('announce_unconfirmed_list')}</button>}
                {!a.withdrawn_at && <button data-testid="announce-remind" onClick={async () => { try { const r = await post<any>(`/announcements/${a.id}/remind`); toast(t('announce_reminded', { n: r.reminded })); } catch (e) { showError(e); } }}>{t('announce_remind')}</button>}
                {!a.withdrawn_at && <button class="danger" onClick={async () => { try { await post(`/announcements/${a.id}/withdraw`); load(); } catch (e) { showError(e); } }}>{t('announce_withdraw')}</button>}
              </td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {who && (
        <Dialog title={`${who.a.title} · ${who.status === 'unread' ? t('announce_unread_list') : t('announce_unconfirmed_list')}`} inner="announce-who" onCancel={() => setWho(null)}>
          {who.people.length === 0 ? <div class="muted">{t('none')}</div> : (
            <ul class="plain">{who.people.map((p) => <li data-testid="announce-who-row">{p.name} <span class="muted small">{p.unit}</span></li>)}</ul>
          )}
        </Dialog>
      )}
    </div>
  );
}

// ---- the usage rules ---------------------------------------------------------------------------------

export function RulesAdmin() {
  const [versions, setVersions] = useState<apiT.RulesVersion[]>([]);
  const [title, setTitle] = useState(t('rules_title'));
  const [body, setBody] = useState('');
  const [ask, setAsk] = useState(false);
  const load = () => get<apiT.RulesVersions>('/admin/rules').then((r) => setVersions(r.versions), showError);
  useEffect(() => { load(); }, []);
  return (
    <div class="stack" data-testid="admin-rules">
      <form class="stack card" onSubmit={(e) => { e.preventDefault(); setAsk(true); }}>
        <div class="muted small">{t('rules_publish_hint')}</div>
        <label>{t('announce_title')}<input data-testid="rules-title" maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} required /></label>
        <label>{t('announce_body')}<textarea data-testid="rules-text" rows={8} value={body} onInput={(e) => setBody(e.currentTarget.value)} required /></label>
        <button class="primary" type="submit" data-testid="rules-publish">{t('rules_publish')}</button>
      </form>
      <h3>{t('rules_versions')}</h3>
      <ul class="plain">{versions.map((v) => (
        <li data-testid="rules-version-row"><b>{t('rules_version', { v: v.version })}</b> {v.title} <span class="muted small">{fmtTime(v.published_at, true)} · {t('rules_accepted_count', { n: v.accepted })}</span></li>
      ))}</ul>
      {ask && (
        <Dialog title={t('rules_publish')} ok={t('rules_publish')} onCancel={() => setAsk(false)} onOk={async () => {
          setAsk(false);
          try { await post('/admin/rules', { title: title.trim(), body }); toast(t('saved')); setBody(''); load(); } catch (e) { showError(e); }
        }}>
          <p>{t('rules_publish_hint')}</p>
          <div class="rules-body"><RichText text={body} /></div>
        </Dialog>
      )}
    </div>
  );
}

export function RulesReport() {
  const [status, setStatus] = useState('pending');
  const [data, setData] = useState<apiT.RulesAcceptance | null>(null);
  useEffect(() => { get<apiT.RulesAcceptance>(`/admin/rules/acceptance?status=${status}&limit=200`).then(setData, showError); }, [status]);
  return (
    <div class="stack" data-testid="admin-rules-report">
      <div class="row gap wrap">
        <select data-testid="rules-report-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="pending">{t('rules_pending')}</option><option value="accepted">{t('rules_accepted')}</option><option value="all">{t('rules_all')}</option>
        </select>
        <button data-testid="rules-report-csv" onClick={() => download(`/admin/rules/acceptance.csv?status=${status}`)}>{t('export_csv')}</button>
      </div>
      {data && data.version == null && <div class="muted">{t('rules_none')}</div>}
      {data && data.version != null && <div data-testid="rules-report-summary">{t('rules_summary', { v: data.version, total: data.total, accepted: data.accepted, pending: data.pending })}</div>}
      <div class="table-wrap">
        <table class="grid">
          <thead><tr><th>{t('name')}</th><th>{t('unit')}</th><th>{t('rules_accepted')}</th></tr></thead>
          <tbody>{(data?.people || []).map((p: any) => (
            <tr data-testid="rules-report-row"><td>{p.name} <span class="muted small">{p.username}</span></td><td>{p.unit}</td><td>{p.accepted_at ? fmtTime(p.accepted_at, true) : '—'}</td></tr>
          ))}</tbody>
        </table>
      </div>
    </div>
  );
}

// ---- function switches ------------------------------------------------------------------------------

export function FunctionRules() {
  const [rules, setRules] = useState<any[]>([]);
  const [units, setUnits] = useState<any[]>([]);
  const [f, setF] = useState({ scope: 'unit', target_id: '', function: 'send_files', allowed: false, limit: '50' });
  const [q, setQ] = useState('');
  const [people, setPeople] = useState<any[]>([]);
  const [err, setErr] = useState('');
  const load = () => get<any>('/admin/function-rules').then((r) => setRules(r.rules || []), showError);
  useEffect(() => { load(); get<any>('/directory/units').then((r) => setUnits(r.units || []), showError); }, []);
  useEffect(() => {
    if (f.scope !== 'user' || !q.trim()) { setPeople([]); return; }
    const h = setTimeout(() => get<any>(`/admin/users?q=${encodeURIComponent(q.trim())}&limit=20`).then((r) => setPeople(r.users || []), () => {}), 250);
    return () => clearTimeout(h);
  }, [q, f.scope]);
  async function save(e: Event) {
    e.preventDefault(); setErr('');
    try {
      const body: any = { scope: f.scope, target_id: Number(f.target_id), function: f.function, allowed: f.allowed };
      if (f.function === 'group_size') body.limit = Number(f.limit);
      await api('PUT', '/admin/function-rules', body);
      toast(t('saved')); load();
    } catch (e2) { setErr(e2 instanceof ApiError ? e2.message : t('error_generic')); }
  }
  return (
    <div class="stack" data-testid="admin-functions">
      <div class="muted small">{t('functions_hint')}</div>
      <form class="stack card" onSubmit={save} data-testid="function-form">
        <div class="row gap wrap">
          <select data-testid="function-scope" value={f.scope} onChange={(e) => setF({ ...f, scope: e.currentTarget.value, target_id: '' })}>
            <option value="unit">{t('function_scope_unit')}</option><option value="user">{t('function_scope_user')}</option>
          </select>
          {f.scope === 'unit' ? (
            <select data-testid="function-unit" value={f.target_id} onChange={(e) => setF({ ...f, target_id: e.currentTarget.value })} required>
              <option value="">—</option>{units.map((u) => <option value={u.id}>{u.path || u.name}</option>)}
            </select>
          ) : (
            <>
              <input data-testid="function-user-search" placeholder={t('function_pick_user')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
              <select data-testid="function-user" value={f.target_id} onChange={(e) => setF({ ...f, target_id: e.currentTarget.value })} required>
                <option value="">—</option>{people.map((u) => <option value={u.id}>{u.name}（{u.username}）</option>)}
              </select>
            </>
          )}
          <select data-testid="function-name" value={f.function} onChange={(e) => setF({ ...f, function: e.currentTarget.value })}>
            {FUNCTIONS.map((x) => <option value={x}>{fname(x)}</option>)}
          </select>
          {f.function === 'group_size' ? (
            <label>{t('function_limit')} <input type="number" min="2" max="100000" data-testid="function-limit" value={f.limit} onInput={(e) => setF({ ...f, limit: e.currentTarget.value })} /></label>
          ) : (
            <select data-testid="function-allowed" value={f.allowed ? 'on' : 'off'} onChange={(e) => setF({ ...f, allowed: e.currentTarget.value === 'on' })}>
              <option value="off">{t('function_off')}</option><option value="on">{t('function_on')}</option>
            </select>
          )}
          <button class="primary" type="submit" data-testid="function-save">{t('function_add')}</button>
        </div>
        {err && <div class="form-error" role="alert">{err}</div>}
      </form>
      <div class="table-wrap">
        <table class="grid" data-testid="function-rules">
          <thead><tr><th>{t('function_scope_unit')}/{t('function_scope_user')}</th><th>{t('admin_functions')}</th><th>{t('function_on')}/{t('function_off')}</th><th>{t('time')}</th><th /></tr></thead>
          <tbody>{rules.map((r) => (
            <tr data-testid="function-rule-row">
              <td>{t('function_scope_' + r.scope)}：{r.target}</td>
              <td>{fname(r.function)}</td>
              <td>{r.function === 'group_size' ? `${t('function_limit')} ${r.limit}` : r.allowed ? <span class="badge ok">{t('function_on')}</span> : <span class="badge warn">{t('function_off')}</span>}</td>
              <td>{fmtTime(r.set_at, true)}</td>
              <td><button class="danger" data-testid="function-remove" onClick={async () => { try { await del(`/admin/function-rules/${r.id}`); load(); } catch (e) { showError(e); } }}>{t('function_remove')}</button></td>
            </tr>
          ))}</tbody>
        </table>
      </div>
    </div>
  );
}

// ---- the account review -----------------------------------------------------------------------------

export function AccountReview() {
  useStore();
  const [runs, setRuns] = useState<apiT.AccountReviewSummary[]>([]);
  const [sel, setSel] = useState<apiT.AccountReview | null>(null);
  const [kind, setKind] = useState('');
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      const r = await get<apiT.AccountReviews>('/admin/account-reviews?limit=20');
      setRuns(r.reviews);
      if (r.reviews?.length && !sel) open(r.reviews[0].id);
    } catch (e) { showError(e); }
  };
  const open = (id: number, k = kind) => get<apiT.AccountReview>(`/admin/account-reviews/${id}${k ? '?kind=' + k : ''}`).then(setSel, showError);
  useEffect(() => { load(); }, []);
  return (
    <div class="stack" data-testid="admin-account-review">
      <div class="muted small">{t('review_hint')}</div>
      <div class="row gap wrap">
        <button class="primary" data-testid="review-run" disabled={busy} onClick={async () => {
          setBusy(true);
          try { const r = await post<apiT.AccountReview>('/admin/account-reviews'); setKind(''); setSel(r); const l = await get<apiT.AccountReviews>('/admin/account-reviews?limit=20'); setRuns(l.reviews); } catch (e) { showError(e); } finally { setBusy(false); }
        }}>{t('review_run')}</button>
        <select data-testid="review-runs" value={sel?.id ?? ''} onChange={(e) => open(Number(e.currentTarget.value))}>
          {runs.map((r) => <option value={r.id}>{fmtTime(r.created_at, true)} · {t('review_trigger_' + r.trigger)} · {t('review_findings', { n: r.total })}</option>)}
        </select>
        {sel && <button data-testid="review-csv" onClick={() => download(`/admin/account-reviews/${sel.id}/csv`)}>{t('export_csv')}</button>}
      </div>
      {sel && (
        <>
          <div class="row gap wrap" data-testid="review-counts">
            <button class={kind === '' ? 'chip active' : 'chip'} onClick={() => { setKind(''); open(sel.id, ''); }}>{t('review_all_kinds')}</button>
            {KINDS.map((k) => (
              <button class={kind === k ? 'chip active' : 'chip'} data-testid={'review-kind-' + k} onClick={() => { setKind(k); open(sel.id, k); }}>{t('review_kind_' + k)} <b>{sel.counts?.[k] ?? 0}</b></button>
            ))}
          </div>
          <div class="table-wrap">
            <table class="grid">
              <thead><tr><th>{t('review_detail')}</th><th>{t('name')}</th><th>{t('unit')}</th><th>{t('last_seen')}</th></tr></thead>
              <tbody>{(sel.findings || []).map((f: any) => (
                <tr data-testid="review-finding" data-kind={f.kind}><td>{t('review_kind_' + f.kind)}</td><td>{f.name} <span class="muted small">{f.username}</span></td><td>{f.unit}</td><td>{f.last_login_at ? fmtTime(f.last_login_at, true) : '—'}</td></tr>
              ))}</tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
