// Drive administration: quotas (sysadmin), the non-work type list and reported files (secadmin),
// departed people's drives (HR names who receives one).
import { useEffect, useState } from 'preact/hooks';
import { api, get, post } from './api';
import { t } from './i18n';
import { showError, toast } from './store';
import { fmtTime } from './ui';
import { PersonRow, usePeopleSearch } from './directory';
import { fmtSize } from './drive';
import type { AdminUser, AdminUserPage, DriveBlockedType, DriveBlockedTypes, DriveHandoverRow, DriveHandovers, DriveQuotas, DriveReport, DriveReports } from './api-types';

const GB = 1024 ** 3;

export function DriveQuotas() {
  const [r, setR] = useState<DriveQuotas | null>(null);
  const [units, setUnits] = useState<any[]>([]);
  const [who, setWho] = useState<'user' | 'unit'>('user');
  const [q, setQ] = useState('');
  const [people, setPeople] = useState<AdminUser[]>([]);
  const [target, setTarget] = useState<{ id: number; name: string } | null>(null);
  const [gb, setGb] = useState('20');
  const load = () => get<DriveQuotas>('/admin/drive/quotas').then(setR, showError);
  useEffect(() => { load(); get<any>('/admin/units').then((x) => setUnits(x.units || []), () => {}); }, []);
  useEffect(() => {
    if (who !== 'user' || !q.trim()) { setPeople([]); return; }
    get<AdminUserPage>(`/admin/users?q=${encodeURIComponent(q.trim())}&limit=10`).then((x) => setPeople(x.users), () => {});
  }, [q, who]);
  async function save() {
    if (!target) return;
    const bytes = Math.round(Number(gb) * GB);
    try {
      await api('PUT', '/admin/drive/quotas', { quota_bytes: bytes, [who === 'user' ? 'user_id' : 'unit_id']: target.id });
      toast(t('saved')); setTarget(null); setQ(''); load();
    } catch (e) { showError(e); }
  }
  return (
    <div data-testid="admin-drive-quotas" class="stack">
      <div class="muted small">{r && t('drive_quota_defaults', { quota: fmtSize(r.default_quota), limit: fmtSize(r.file_limit) })}</div>
      <div class="row gap">
        <select data-testid="quota-scope" value={who} onChange={(e) => { setWho(e.currentTarget.value as any); setTarget(null); }}>
          <option value="user">{t('drive_quota_person')}</option><option value="unit">{t('drive_quota_unit')}</option>
        </select>
        {who === 'user'
          ? <input data-testid="quota-person-search" placeholder={t('search_people')} value={target && who === 'user' ? target.name : q} onInput={(e) => { setTarget(null); setQ(e.currentTarget.value); }} />
          : <select data-testid="quota-unit" onChange={(e) => { const u = units.find((x) => String(x.id) === e.currentTarget.value); setTarget(u ? { id: u.id, name: u.path } : null); }}>
              <option value="">—</option>{units.map((u) => <option value={u.id}>{u.path || u.name}</option>)}
            </select>}
        <label class="row gap">{t('drive_quota_gb')}<input data-testid="quota-gb" type="number" min="0" step="1" value={gb} onInput={(e) => setGb(e.currentTarget.value)} /></label>
        <button class="primary" data-testid="quota-save" disabled={!target} onClick={save}>{t('save')}</button>
      </div>
      {who === 'user' && !target && people.length > 0 && (
        <ul class="people small">{people.map((p) => <li class="person-row" data-testid="quota-person-option" onClick={() => setTarget({ id: p.id, name: p.name })}>{p.name} <span class="muted small">{p.username} {p.unit}</span></li>)}</ul>
      )}
      <table class="grid">
        <thead><tr><th>{t('drive_quota_for')}</th><th>{t('drive_quota')}</th><th>{t('drive_used')}</th><th>{t('time')}</th><th /></tr></thead>
        <tbody>{(r?.quotas || []).map((x) => (
          <tr data-testid="quota-row"><td>{x.user_id ? x.name : `${t('drive_quota_unit')}：${x.name}`}</td><td>{fmtSize(x.quota_bytes)}</td><td>{x.used != null ? fmtSize(x.used) : ''}</td><td>{fmtTime(x.set_at, true)}</td>
            <td><button class="link danger" onClick={async () => { try { await api('DELETE', `/admin/drive/quotas/${x.id}`); load(); } catch (e) { showError(e); } }}>{t('drive_quota_clear')}</button></td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}

export function DriveTypes() {
  const [types, setTypes] = useState<DriveBlockedType[]>([]);
  const [ext, setExt] = useState('');
  const [label, setLabel] = useState('');
  const load = () => get<DriveBlockedTypes>('/admin/drive/blocked-types').then((r) => setTypes(r.types), showError);
  useEffect(() => { load(); }, []);
  return (
    <div data-testid="admin-drive-types" class="stack">
      <div class="muted small">{t('drive_types_hint')}</div>
      <form class="row gap" onSubmit={async (e) => {
        e.preventDefault();
        try { const r = await post<DriveBlockedTypes>('/admin/drive/blocked-types', { extension: ext.trim(), label: label.trim() }); setTypes(r.types); setExt(''); setLabel(''); } catch (err) { showError(err); }
      }}>
        <input data-testid="drive-type-ext" placeholder={t('drive_type_ext')} value={ext} onInput={(e) => setExt(e.currentTarget.value)} required maxLength={17} />
        <input data-testid="drive-type-label" placeholder={t('drive_type_label')} value={label} onInput={(e) => setLabel(e.currentTarget.value)} maxLength={100} />
        <button class="primary" type="submit" data-testid="drive-type-add">{t('add')}</button>
      </form>
      <table class="grid"><tbody>{types.map((x) => (
        <tr data-testid="drive-type-row" data-ext={x.extension}><td>.{x.extension}</td><td>{x.label}</td>
          <td><button class="link danger" data-testid="drive-type-remove" onClick={async () => { try { const r = await api<DriveBlockedTypes>('DELETE', `/admin/drive/blocked-types/${x.extension}`); setTypes(r.types); } catch (e) { showError(e); } }}>{t('remove')}</button></td></tr>
      ))}</tbody></table>
    </div>
  );
}

export function DriveReports() {
  const [status, setStatus] = useState('open');
  const [rows, setRows] = useState<DriveReport[] | null>(null);
  const [deciding, setDeciding] = useState<{ id: number; action: 'remove' | 'dismiss' } | null>(null);
  const [reason, setReason] = useState('');
  const load = () => get<DriveReports>(`/admin/drive/reports?status=${status}`).then((r) => setRows(r.reports), showError);
  useEffect(() => { load(); }, [status]);
  return (
    <div data-testid="admin-drive-reports" class="stack">
      <div class="row gap">
        <select data-testid="drive-reports-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {['open', 'removed', 'dismissed', 'all'].map((s) => <option value={s}>{t('drive_report_' + s)}</option>)}
        </select>
        <span class="muted small">{t('drive_reports_hint')}</span>
      </div>
      <table class="grid">
        <thead><tr><th>{t('drive_name')}</th><th>{t('drive_place')}</th><th>{t('drive_reporter')}</th><th>{t('reason')}</th><th>{t('time')}</th><th /></tr></thead>
        <tbody>{(rows || []).map((r) => (
          <tr data-testid="drive-report-row" data-name={r.item.name}>
            <td>{r.item.name}<div class="muted small">{fmtSize(r.item.size)} · {r.item.mime}</div></td>
            <td>{r.item.conversation_id ? `${t('group_files')}：${r.item.conversation_name}` : `${t('drive')}：${r.item.owner_name}`}<div class="muted small">{t('drive_uploader')}：{r.item.uploader_name}</div></td>
            <td>{r.reporter_name}</td><td>{r.reason}{r.decision_reason && <div class="muted small">{t('drive_decision')}：{r.decision_reason}</div>}</td>
            <td>{fmtTime(r.created_at, true)}</td>
            <td>{r.status === 'open' && <>
              <button class="link danger" data-testid="drive-report-remove" onClick={() => { setReason(''); setDeciding({ id: r.id, action: 'remove' }); }}>{t('drive_remove_file')}</button>
              <button class="link" data-testid="drive-report-dismiss" onClick={() => { setReason(''); setDeciding({ id: r.id, action: 'dismiss' }); }}>{t('drive_dismiss')}</button>
            </>}</td>
          </tr>
        ))}</tbody>
      </table>
      {rows && rows.length === 0 && <div class="muted pad">{t('none')}</div>}
      {deciding && (
        <div class="stack decide-box" data-testid="drive-decision">
          <textarea data-testid="drive-decision-reason" rows={2} maxLength={500} value={reason} placeholder={t('drive_decision_placeholder')} onInput={(e) => setReason(e.currentTarget.value)} />
          <div class="row-end"><button data-testid="dialog-cancel" onClick={() => setDeciding(null)}>{t('cancel')}</button>
            <button class="primary" data-testid="drive-decision-ok" disabled={reason.trim().length < 4} onClick={async () => {
              try { await post(`/admin/drive/reports/${deciding.id}/decision`, { action: deciding.action, reason: reason.trim() }); setDeciding(null); toast(t('saved')); load(); } catch (e) { showError(e); }
            }}>{deciding.action === 'remove' ? t('drive_remove_file') : t('drive_dismiss')}</button></div>
        </div>
      )}
    </div>
  );
}

export function DriveHandovers() {
  const [rows, setRows] = useState<DriveHandoverRow[] | null>(null);
  const [picking, setPicking] = useState<DriveHandoverRow | null>(null);
  const [chosen, setChosen] = useState<{ id: number; name: string; unit?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [q, setQ] = useState('');
  const res = usePeopleSearch(q);
  const load = () => get<DriveHandovers>('/admin/drive/handovers').then((r) => setRows(r.handovers), showError);
  useEffect(() => { load(); }, []);
  const open = (r: DriveHandoverRow) => { setQ(''); setChosen(null); setPicking(r); };
  const close = () => { setPicking(null); setChosen(null); };
  async function confirm() {
    if (!picking || !chosen) return;
    setBusy(true);
    try {
      const r = await post<any>(`/admin/users/${picking.user_id}/drive-handover`, { to_user_id: chosen.id });
      toast(t('drive_handed_over', { name: chosen.name, files: r.files }));
      close();
      load();
    } catch (e) { showError(e); } finally { setBusy(false); }
  }
  // Neither the departed person nor whoever holds the drive now can receive it.
  const options = (res || []).filter((p) => picking && p.id !== picking.user_id && p.id !== picking.holder_id);
  return (
    <div data-testid="admin-drive-handovers" class="stack">
      <div class="muted small">{t('drive_handover_hint')}</div>
      <table class="grid">
        <thead><tr><th>{t('name')}</th><th>{t('drive_departed_at')}</th><th>{t('drive_files')}</th><th>{t('drive_holder')}</th><th /></tr></thead>
        <tbody>{(rows || []).map((r) => (
          <tr data-testid="drive-handover-row" data-user-id={r.user_id}>
            <td>{r.name}<div class="muted small">{[r.unit, r.username].filter(Boolean).join(' · ')}</div></td>
            <td>{fmtTime(r.departed_at ?? undefined, true)}</td>
            <td>{t('drive_handover_count', { files: r.files })} · {fmtSize(r.bytes)}</td>
            <td data-testid="drive-handover-holder">{r.holder_name
              ? <>{r.holder_name}{r.holder_id === r.manager_id && <div class="muted small">{t('drive_handover_manager')}</div>}</>
              : <span class="danger-text">{t('drive_handover_waiting')}</span>}</td>
            <td><button class="link" data-testid="drive-handover-pick" onClick={() => open(r)}>{r.holder_name ? t('drive_handover_change') : t('drive_handover_name')}</button></td>
          </tr>
        ))}</tbody>
      </table>
      {rows && rows.length === 0 && <div class="muted pad">{t('drive_handover_none')}</div>}
      {picking && (
        <div class="stack decide-box" data-testid="drive-handover-dialog">
          {!chosen && <>
            <div>{t('drive_handover_to', { name: picking.name })}</div>
            {picking.manager_id != null && picking.manager_id !== picking.holder_id && (
              <button data-testid="drive-handover-manager" onClick={() => setChosen({ id: picking.manager_id!, name: picking.manager_name ?? '', unit: picking.unit })}>
                {t('drive_handover_to_manager', { name: picking.manager_name ?? '' })}</button>
            )}
            <input data-testid="drive-handover-search" placeholder={t('drive_handover_search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
            {res && q.trim() && options.length === 0 && <div class="muted small">{t('no_results')}</div>}
            {options.length > 0 && <ul class="people small">{options.map((p) => (
              <PersonRow p={p} testid="drive-handover-option" onClick={() => setChosen({ id: p.id, name: p.name, unit: p.unit })} />
            ))}</ul>}
            <div class="row-end"><button data-testid="dialog-cancel" onClick={close}>{t('cancel')}</button></div>
          </>}
          {chosen && <>
            <div data-testid="drive-handover-confirm-text">{t('drive_handover_confirm', {
              name: picking.name, files: picking.files, size: fmtSize(picking.bytes),
              to: chosen.unit ? `${chosen.name}（${chosen.unit}）` : chosen.name })}</div>
            {picking.holder_name && <div class="muted small">{t('drive_handover_from_holder', { name: picking.holder_name })}</div>}
            <div class="row-end">
              <button data-testid="dialog-cancel" disabled={busy} onClick={() => setChosen(null)}>{t('back')}</button>
              <button class="primary" data-testid="drive-handover-ok" disabled={busy} onClick={confirm}>{t('drive_handover_ok')}</button>
            </div>
          </>}
        </div>
      )}
    </div>
  );
}
