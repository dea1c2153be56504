// Operations (issue 22): fault reports (anyone files, sysadmin works the queue against the 24-hour clock),
// the sysadmin's alerts and notification dead letters, secadmin's security risks, the inspection report.
import { useEffect, useState } from 'preact/hooks';
import { api, get, post } from './api';
import { t } from './i18n';
import { showError, toast } from './store';
import { Modal, fmtTime } from './ui';
import type { DeadLetters, FaultQueue as FaultQueueAnswer, FaultReport, FaultReports, OpsAlert, OpsAlerts } from './api-types';

/** The 24-hour clock as shown: time left, or how long overdue; a resolved report shows its outcome. */
export function clockText(r: Pick<FaultReport, 'seconds_left' | 'status' | 'overdue'>): string {
  const secs = Math.abs(r.seconds_left);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const span = h > 0 ? t('fault_hm', { h, m }) : t('fault_m', { m });
  if (r.status === 'resolved') return r.overdue ? t('fault_resolved_late', { span }) : t('fault_resolved_in_time');
  return r.overdue ? t('fault_overdue_by', { span }) : t('fault_left', { span });
}

function StatusBadge({ r }: { r: FaultReport }) {
  const cls = r.status === 'resolved' ? 'badge ok' : r.overdue ? 'badge urgent' : r.status === 'in_progress' ? 'badge' : 'badge warn';
  return <span class={cls} data-testid="fault-status">{t('fault_status_' + r.status)}</span>;
}

function FaultFile({ r }: { r: FaultReport }) {
  if (!r.file) return null;
  const href = `/api/v1/faults/${r.id}/file`;
  return r.file.mime?.startsWith('image/')
    ? <a href={href} target="_blank" rel="noopener"><img class="fault-shot" src={href} alt={r.file.name} data-testid="fault-shot" /></a>
    : <a href={href} data-testid="fault-file-link">{r.file.name}</a>;
}

/** One report with its answers; handlers also assign and resolve here. */
function FaultDetail({ id, handler, onClose, onChanged }: { id: number; handler: boolean; onClose: () => void; onChanged: () => void }) {
  const [r, setR] = useState<FaultReport | null>(null);
  const [text, setText] = useState('');
  const [resolution, setResolution] = useState('');
  const load = () => get<FaultReport>(`/faults/${id}`).then(setR, showError);
  useEffect(() => { load(); }, [id]);
  const act = (f: () => Promise<FaultReport>) => async () => { try { setR(await f()); toast(t('saved')); onChanged(); } catch (e) { showError(e); } };
  return (
    <Modal title={r ? `#${r.id} ${r.title}` : t('loading')} onClose={onClose} wide testid="fault-detail">
      {r && <div class="stack">
        <div class="row gap"><StatusBadge r={r} /><span class={r.overdue ? 'warn' : 'muted'} data-testid="fault-clock">{clockText(r)}</span>
          {r.escalated_at && <span class="badge urgent" data-testid="fault-escalated">{t('fault_escalated')}</span>}</div>
        <dl class="kv">
          <dt>{t('fault_location')}</dt><dd>{r.location || '—'}</dd>
          <dt>{t('fault_description')}</dt><dd class="wrap">{r.description || '—'}</dd>
          <dt>{t('fault_reporter')}</dt><dd>{r.reporter.name} · {fmtTime(r.created_at, true)}</dd>
          <dt>{t('fault_assignee')}</dt><dd>{r.assignee?.name || '—'}</dd>
          {r.status === 'resolved' && <><dt>{t('fault_resolution')}</dt><dd data-testid="fault-resolution-text">{r.resolution}</dd></>}
        </dl>
        <FaultFile r={r} />
        <h4>{t('fault_replies')}</h4>
        {(r.replies || []).length === 0 && <div class="muted">{t('none')}</div>}
        <ul class="fault-replies">{(r.replies || []).map((x) => (
          <li data-testid="fault-reply" class={x.by_handler ? 'handler' : ''}><b>{x.author.name}</b> <span class="muted">{fmtTime(x.created_at, true)}</span><div class="wrap">{x.text}</div></li>
        ))}</ul>
        {r.status !== 'resolved' && <>
          <textarea data-testid="fault-reply-text" rows={3} maxLength={4000} placeholder={t('fault_reply_placeholder')} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <div class="row gap">
            <button class="primary" data-testid="fault-reply-send" disabled={!text.trim()} onClick={act(async () => { const v = await post<FaultReport>(`/faults/${id}/replies`, { text }); setText(''); return v; })}>{t('fault_reply')}</button>
            {handler && !r.assignee && <button data-testid="fault-assign" onClick={act(() => post(`/admin/faults/${id}/assign`, {}).then(() => get<FaultReport>(`/faults/${id}`)))}>{t('fault_take')}</button>}
          </div>
          {handler && <div class="row gap">
            <input data-testid="fault-resolution" maxLength={4000} placeholder={t('fault_resolution_placeholder')} value={resolution} onInput={(e) => setResolution(e.currentTarget.value)} />
            <button class="primary" data-testid="fault-resolve" disabled={!resolution.trim()} onClick={act(() => post<FaultReport>(`/admin/faults/${id}/resolve`, { resolution }))}>{t('fault_resolve')}</button>
          </div>}
        </>}
      </div>}
    </Modal>
  );
}

/** The employee's side (in 我): file a report, see one's reports, their state and answers. */
export function MyFaults() {
  const [rows, setRows] = useState<FaultReport[] | null>(null);
  const [filing, setFiling] = useState(false);
  const [open, setOpen] = useState<number | null>(null);
  const load = () => get<FaultReports>('/faults').then((r) => setRows(r.reports), () => setRows([]));
  useEffect(() => { load(); }, []);
  return (
    <section class="panel" data-testid="my-faults">
      <h3>{t('fault_reports')}</h3>
      <p class="muted">{t('fault_intro')}</p>
      <button class="primary" data-testid="fault-new" onClick={() => setFiling(true)}>{t('fault_new')}</button>
      {rows && rows.length > 0 && <table class="grid">
        <thead><tr><th>{t('fault_title')}</th><th>{t('fault_filed_at')}</th><th>{t('state')}</th><th>{t('fault_clock')}</th><th /></tr></thead>
        <tbody>{rows.map((r) => (
          <tr data-testid="fault-row"><td>{r.title}</td><td>{fmtTime(r.created_at, true)}</td><td><StatusBadge r={r} /></td>
            <td class={r.overdue && r.status !== 'resolved' ? 'warn' : 'muted'}>{clockText(r)}</td>
            <td><button class="link" data-testid="fault-open" onClick={() => setOpen(r.id)}>{t('fault_details')}</button></td></tr>
        ))}</tbody>
      </table>}
      {filing && <FileFault onClose={() => setFiling(false)} onDone={() => { setFiling(false); load(); }} />}
      {open != null && <FaultDetail id={open} handler={false} onClose={() => setOpen(null)} onChanged={load} />}
    </section>
  );
}

function FileFault({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [title, setTitle] = useState('');
  const [location, setLocation] = useState('');
  const [description, setDescription] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await post<FaultReport>('/faults', { title: title.trim(), location: location.trim(), description });
      if (file) {
        const fd = new FormData();
        fd.append('file', file, file.name);
        await api('POST', `/faults/${r.id}/files`, undefined, { raw: fd });
      }
      toast(t('fault_filed'));
      onDone();
    } catch (err) { showError(err); } finally { setBusy(false); }
  }
  return (
    <Modal title={t('fault_new')} onClose={onClose} testid="fault-form">
      <form class="stack" onSubmit={submit}>
        <label>{t('fault_title')}<input data-testid="fault-title" maxLength={200} required value={title} placeholder={t('fault_title_placeholder')} onInput={(e) => setTitle(e.currentTarget.value)} /></label>
        <label>{t('fault_location')}<input data-testid="fault-location" maxLength={200} value={location} placeholder={t('fault_location_placeholder')} onInput={(e) => setLocation(e.currentTarget.value)} /></label>
        <label>{t('fault_description')}<textarea data-testid="fault-description" rows={4} maxLength={4000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
        <label>{t('fault_attachment')}<input type="file" data-testid="fault-file" onChange={(e) => setFile(e.currentTarget.files?.[0] || null)} /></label>
        <div class="row-end"><button type="button" data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button><button class="primary" type="submit" data-testid="fault-submit" disabled={busy || !title.trim()}>{t('submit')}</button></div>
      </form>
    </Modal>
  );
}

/** The system administrator's queue: the most urgent deadline first, overdue marked. */
export function FaultQueue() {
  const [status, setStatus] = useState('active');
  const [data, setData] = useState<FaultQueueAnswer | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const load = () => get<FaultQueueAnswer>(`/admin/faults?status=${status}&limit=100`).then(setData, showError);
  useEffect(() => { load(); const iv = setInterval(load, 60000); return () => clearInterval(iv); }, [status]);
  const c = data?.counts ?? { active: 0, overdue: 0, resolved: 0 };
  return (
    <div data-testid="admin-faults">
      <div class="row gap">
        <select data-testid="fault-filter" value={status} aria-label={t('state')} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="active">{t('fault_filter_active')}（{c.active ?? 0}）</option>
          <option value="overdue">{t('fault_filter_overdue')}（{c.overdue ?? 0}）</option>
          <option value="resolved">{t('fault_filter_resolved')}（{c.resolved ?? 0}）</option>
          <option value="all">{t('fault_filter_all')}</option>
        </select>
        <span class="muted">{t('fault_sla', { h: data?.sla_hours ?? 24 })}</span>
        {c.overdue > 0 && <span class="badge urgent" data-testid="fault-overdue-count">{t('fault_overdue_count', { n: c.overdue })}</span>}
      </div>
      <table class="grid">
        <thead><tr><th>#</th><th>{t('fault_title')}</th><th>{t('fault_reporter')}</th><th>{t('fault_filed_at')}</th><th>{t('fault_clock')}</th><th>{t('state')}</th><th>{t('fault_assignee')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(data?.reports || []).map((r) => (
          <tr data-testid="fault-queue-row" class={r.overdue && r.status !== 'resolved' ? 'late' : ''}>
            <td>{r.id}</td><td>{r.title}{r.file && <span class="badge">{t('fault_has_file')}</span>}</td><td>{r.reporter.name}</td><td>{fmtTime(r.created_at, true)}</td>
            <td data-testid="fault-clock" class={r.overdue && r.status !== 'resolved' ? 'warn' : ''}>{clockText(r)}</td>
            <td><StatusBadge r={r} /></td><td>{r.assignee?.name || '—'}</td>
            <td class="actions"><button class="link" data-testid="fault-open" onClick={() => setOpen(r.id)}>{t('fault_details')}</button></td>
          </tr>
        ))}</tbody>
      </table>
      {data && data.reports.length === 0 && <div class="muted pad">{t('none')}</div>}
      {open != null && <FaultDetail id={open} handler onClose={() => setOpen(null)} onChanged={load} />}
    </div>
  );
}

function AlertList({ rows, testid }: { rows: OpsAlert[] | null; testid: string }) {
  if (!rows) return null;
  if (rows.length === 0) return <div class="badge ok" data-testid={testid + '-none'}>{t('ops_all_clear')}</div>;
  return (
    <ul class="ops-alerts" data-testid={testid}>{rows.map((a) => (
      <li data-testid="ops-alert" data-code={a.code} class={'sev-' + a.severity}>
        <span class={a.severity === 'critical' ? 'badge urgent' : a.severity === 'warning' ? 'badge warn' : 'badge'}>{t('ops_sev_' + a.severity)}</span>
        <b>{a.title}</b> <span class="muted">{a.detail}</span>
      </li>
    ))}</ul>
  );
}

/** The system administrator's monitor: what is wrong now, and notifications given up. */
export function OpsMonitor() {
  const [alerts, setAlerts] = useState<OpsAlert[] | null>(null);
  const [dead, setDead] = useState<DeadLetters | null>(null);
  const [at, setAt] = useState('');
  const load = () => {
    get<OpsAlerts>('/admin/ops/alerts').then((r) => { setAlerts(r.alerts); setAt(r.checked_at); }, showError);
    get<DeadLetters>('/admin/ops/dead-letters?limit=50').then(setDead, showError);
  };
  useEffect(() => { load(); const iv = setInterval(load, 30000); return () => clearInterval(iv); }, []);
  return (
    <div data-testid="admin-ops">
      <div class="row gap"><h3>{t('ops_alerts')}</h3><span class="muted">{at && fmtTime(at, true)}</span><button class="link" onClick={load}>{t('refresh')}</button></div>
      <AlertList rows={alerts} testid="ops-alerts" />
      <p class="muted">{t('ops_metrics_hint')}</p>
      <h3>{t('ops_dead_letters')}（{dead?.total ?? 0}）</h3>
      {dead && dead.dead_letters.length === 0 && <div class="muted">{t('none')}</div>}
      {dead && dead.dead_letters.length > 0 && <table class="grid" data-testid="dead-letters">
        <thead><tr><th>{t('time')}</th><th>{t('ops_channel')}</th><th>{t('ops_to')}</th><th>{t('ops_attempts')}</th><th>{t('reason')}</th></tr></thead>
        <tbody>{dead.dead_letters.map((d) => <tr><td>{fmtTime(d.at, true)}</td><td>{t('ops_channel_' + d.channel)}</td><td>{d.to}</td><td>{d.attempts}</td><td class="wrap">{d.error}</td></tr>)}</tbody>
      </table>}
    </div>
  );
}

/** The security administrator's risks now (above the login alerts). */
export function SecurityRisks() {
  const [rows, setRows] = useState<OpsAlert[] | null>(null);
  useEffect(() => { get<OpsAlerts>('/admin/security/risks').then((r) => setRows(r.alerts), showError); }, []);
  return <div class="stack" data-testid="security-risks"><h3>{t('ops_security_risks')}</h3><AlertList rows={rows} testid="risk-list" /></div>;
}

function isoDay(d: Date) { return d.toISOString().slice(0, 10); }

/** The inspection report: the period, the format, a download (the server renders it). */
export function InspectionReport() {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86400000)));
  const [to, setTo] = useState(isoDay(today));
  const [format, setFormat] = useState('html');
  const [busy, setBusy] = useState(false);
  async function download(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const res = await fetch(`/api/v1/admin/reports/inspection?from=${from}&to=${to}&format=${format}`, { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) {
        let msg = t('error_generic');
        try { msg = (await res.json()).error.message || msg; } catch { /* not JSON */ }
        throw new Error(msg);
      }
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `mixun-inspection-${from}-${to}.${format}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      toast(t('report_ready'));
    } catch (err) { showError(err); } finally { setBusy(false); }
  }
  return (
    <div data-testid="admin-inspection">
      <p class="muted">{t('report_intro')}</p>
      <form class="row gap" onSubmit={download}>
        <label>{t('report_from')}<input type="date" data-testid="report-from" value={from} max={to} onInput={(e) => setFrom(e.currentTarget.value)} required /></label>
        <label>{t('report_to')}<input type="date" data-testid="report-to" value={to} min={from} onInput={(e) => setTo(e.currentTarget.value)} required /></label>
        <select data-testid="report-format" value={format} aria-label={t('report_format')} onChange={(e) => setFormat(e.currentTarget.value)}>
          <option value="html">HTML</option><option value="pdf">PDF</option>
        </select>
        <button class="primary" type="submit" data-testid="report-download" disabled={busy}>{busy ? t('report_making') : t('report_download')}</button>
      </form>
    </div>
  );
}
