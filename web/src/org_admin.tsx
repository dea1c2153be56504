// HR's organisation (issue 21 items 3-5): the unit tree (create, rename, move, merge, close), people's
// real names, numbers, units and positions (each correction audited and HR-verified), departures.
// HR reaches no message content and grants no roles: those screens are not here.
import { useEffect, useState } from 'preact/hooks';
import { get, patch, post } from './api';
import { locale, t } from './i18n';
import { showError, toast } from './store';
import { Dialog } from './admin_people';
import { DEPART_KINDS, w } from './labels_org';
import { fmtTime } from './ui';
import type { LdapSyncStatus as LdapSyncAnswer, OrgPeople, OrgPersonRow, OrgUnit, OrgUnits, UnitMerged } from './api-types';

function kindLabel(k: string) { return k === 'resignation' || k === 'transfer' ? w('depart_' + k) : t('depart_' + k); }

// The LDAP / Active Directory sync's last run (when, what it counted, what went wrong), in words.
export function LdapSyncStatus() {
  const [s, setS] = useState<LdapSyncAnswer | null>(null);
  useEffect(() => { get<LdapSyncAnswer>('/org/ldap-sync').then(setS, showError); }, []);
  if (!s) return null;
  const last = s.last;
  const counts = { created: 0, moved: 0, renamed: 0, updated: 0, departed: 0, unchanged: 0, units_created: 0, ...(last?.counts || {}) };
  return (
    <section class="card" data-testid="ldap-sync">
      <h3>{w('ldap_title')}</h3>
      {!s.configured && !last && <p class="muted" data-testid="ldap-sync-off">{w('ldap_off')}</p>}
      {s.configured && !last && <p class="muted">{w('ldap_never')}</p>}
      {last && (
        <div class="stack" data-testid="ldap-sync-last" data-ok={last.ok ? 'true' : 'false'}>
          <div class="row gap wrap">
            <span>{w('ldap_last', { when: fmtTime(last.finished_at || last.started_at, true) })}</span>
            <span class={'badge ' + (last.ok ? 'ok' : 'warn')}>{last.ok ? w('ldap_ok') : w('ldap_failed')}</span>
            {last.dry_run && <span class="badge">{w('ldap_dry')}</span>}
          </div>
          {last.ok || Object.keys(last.counts || {}).length ? <div data-testid="ldap-sync-counts">{w('ldap_counts', counts)}</div> : null}
          {last.errors?.length > 0 && (
            <div data-testid="ldap-sync-errors">
              <div>{w('ldap_errors', { n: last.errors.length })}</div>
              <ul class="small">{last.errors.map((e) => <li>{locale === 'en' ? e.en : e.zh}</li>)}</ul>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

type UnitAct = { kind: 'rename' | 'move' | 'merge' | 'close' | 'child'; unit: any };

export function OrgUnits() {
  const [units, setUnits] = useState<OrgUnit[]>([]);
  const [act, setAct] = useState<UnitAct | null>(null);
  const [name, setName] = useState('');
  const [target, setTarget] = useState('');
  const [showClosed, setShowClosed] = useState(false);
  const load = () => get<OrgUnits>('/org/units').then((r) => setUnits(r.units), showError);
  useEffect(() => { load(); }, []);
  const open = units.filter((u) => !u.closed);
  const start = (kind: UnitAct['kind'], unit: any) => { setAct({ kind, unit }); setName(kind === 'rename' ? unit.name : ''); setTarget(''); };
  const run = async () => {
    if (!act) return;
    const u = act.unit;
    try {
      if (act.kind === 'rename') await patch(`/org/units/${u.id}`, { name: name.trim() });
      else if (act.kind === 'move') await patch(`/org/units/${u.id}`, { parent_id: target ? Number(target) : null });
      else if (act.kind === 'child') await post('/org/units', { name: name.trim(), parent_id: u ? u.id : null });
      else if (act.kind === 'close') await post(`/org/units/${u.id}/close`);
      else if (act.kind === 'merge') { const r = await post<UnitMerged>(`/org/units/${u.id}/merge`, { into_id: Number(target) }); toast(w('unit_merged', { n: r.people_moved })); }
      if (act.kind !== 'merge') toast(t('saved'));
      setAct(null);
      load();
    } catch (e) { showError(e); }
  };
  const depth = (u: OrgUnit) => (u.path.match(/\//g) || []).length;
  const shown = showClosed ? units : open;
  const title = act ? (act.kind === 'child' ? w('unit_add_child') : w('unit_' + act.kind)) + (act.unit ? ` · ${act.unit.path}` : '') : '';
  const candidates = act ? open.filter((x) => x.id !== act.unit?.id && !x.path.startsWith((act.unit?.path || '\u0000') + '/')) : [];
  return (
    <div data-testid="org-units" class="stack">
      <LdapSyncStatus />
      <div class="row gap wrap">
        <button class="primary" data-testid="org-unit-new" onClick={() => start('child', null)}>{t('create_unit')}</button>
        <label class="check"><input type="checkbox" data-testid="org-show-closed" checked={showClosed} onChange={(e) => setShowClosed(e.currentTarget.checked)} /> {w('unit_closed')}</label>
      </div>
      <ul class="org-tree">
        {shown.map((u) => (
          <li data-testid="org-unit-row" data-path={u.path} data-closed={u.closed ? 'true' : 'false'} style={{ paddingLeft: `${depth(u) * 1.25}em` }}>
            <span class="org-unit-name">{u.name}</span>
            <span class="muted small"> {w('unit_people', { n: u.people })}</span>
            {u.closed && <span class="badge warn"> {w('unit_closed')}</span>}
            {!u.closed && (
              <span class="actions">
                <button class="link" data-testid="org-unit-child" onClick={() => start('child', u)}>{w('unit_add_child')}</button>
                <button class="link" data-testid="org-unit-rename" onClick={() => start('rename', u)}>{w('unit_rename')}</button>
                <button class="link" data-testid="org-unit-move" onClick={() => start('move', u)}>{w('unit_move')}</button>
                <button class="link" data-testid="org-unit-merge" onClick={() => start('merge', u)}>{w('unit_merge')}</button>
                <button class="link danger" data-testid="org-unit-close" onClick={() => start('close', u)}>{w('unit_close')}</button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {act && (
        <Dialog title={title} inner="org-unit-dialog" ok={act.kind === 'child' ? t('create') : t('confirm')} danger={act.kind === 'close' || act.kind === 'merge'}
          okDisabled={(['rename', 'child'].includes(act.kind) && !name.trim()) || (act.kind === 'merge' && !target)} onOk={run} onCancel={() => setAct(null)}>
          {(act.kind === 'rename' || act.kind === 'child') && <input data-testid="org-unit-name" placeholder={act.kind === 'rename' ? w('unit_new_name') : t('unit_name')} value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          {(act.kind === 'move' || act.kind === 'merge') && (
            <label>{act.kind === 'move' ? w('unit_new_parent') : w('unit_merge_into')}
              <select data-testid="org-unit-target" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
                <option value="">{act.kind === 'move' ? w('unit_top_level') : '—'}</option>
                {candidates.map((x) => <option value={x.id}>{x.path}</option>)}
              </select>
            </label>
          )}
          {act.kind === 'merge' && <p class="hint">{w('unit_merge_hint')}</p>}
          {act.kind === 'close' && <p>{w('unit_close_confirm', { name: act.unit.name })}</p>}
        </Dialog>
      )}
    </div>
  );
}

export function OrgPeople() {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<OrgPeople | null>(null);
  const [units, setUnits] = useState<OrgUnit[]>([]);
  const [editing, setEditing] = useState<OrgPersonRow | null>(null);
  const [leaving, setLeaving] = useState<OrgPersonRow | null>(null);
  const load = () => get<OrgPeople>(`/org/people?q=${encodeURIComponent(q)}&limit=50&offset=${offset}`).then(setData, showError);
  useEffect(() => { load(); }, [offset]);
  useEffect(() => { get<OrgUnits>('/org/units').then((r) => setUnits(r.units.filter((u) => !u.closed)), showError); }, []);
  return (
    <div data-testid="org-people" class="stack">
      <form class="row gap" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(); }}>
        <input data-testid="org-people-search" placeholder={t('search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="submit">{t('search')}</button>
      </form>
      <div class="table-scroll" style={{ overflowX: 'auto' }}>
        <table class="grid">
          <thead><tr><th>{t('name')}</th><th>{t('employee_no')}</th><th>{t('unit')}</th><th>{t('position')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>{(data?.people || []).filter((p) => !p.administrator).map((p) => (
            <tr data-testid="org-person-row" data-username={p.username}>
              <td>{p.name} {p.hr_verified ? <span class="badge verified" data-testid="hr-verified">✔ {t('hr_verified')}</span> : <span class="muted small">{w('not_verified')}</span>}</td>
              <td>{p.employee_no}</td><td>{p.unit}</td><td>{p.position}</td>
              <td>{p.departed ? <span class="badge warn" data-testid="org-person-state">{t('departed')}{p.departure_reason ? ` · ${kindLabel(p.departure_reason)}` : ''}</span> : <span class="badge ok" data-testid="org-person-state">{t('active')}</span>}</td>
              <td class="actions">
                {!p.departed && !p.privileged && <>
                  <button class="link" data-testid="org-person-edit" onClick={() => setEditing(p)}>{w('person_edit')}</button>
                  <button class="link danger" data-testid="org-person-depart" onClick={() => setLeaving(p)}>{t('depart')}</button>
                </>}
                {!p.departed && p.privileged && <span class="muted small">{w('admin_only_sysadmin')}</span>}
              </td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      <div class="row gap pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>{t('prev')}</button>
        <button disabled={data?.next_offset == null} onClick={() => data?.next_offset != null && setOffset(data.next_offset)}>{t('next')}</button>
      </div>
      {editing && <EditPerson p={editing} units={units} onClose={() => setEditing(null)} onDone={() => { setEditing(null); toast(t('saved')); load(); }} />}
      {leaving && <DepartPerson p={leaving} path={`/org/people/${leaving.id}/depart`} onClose={() => setLeaving(null)} onDone={() => { setLeaving(null); toast(t('saved')); load(); }} />}
    </div>
  );
}

function EditPerson({ p, units, onClose, onDone }: { p: any; units: any[]; onClose: () => void; onDone: () => void }) {
  const [f, setF] = useState<Record<string, string>>({ name: p.name || '', employee_no: p.employee_no || '', unit_id: String(p.unit_id || ''), position: p.position || '', phone: p.phone || '' });
  const save = async () => {
    const body: any = {};
    if (f.name.trim() !== p.name) body.name = f.name.trim();
    if (f.employee_no.trim() !== (p.employee_no || '')) body.employee_no = f.employee_no.trim();
    if (f.unit_id && Number(f.unit_id) !== p.unit_id) body.unit_id = Number(f.unit_id);
    if (f.position.trim() !== (p.position || '')) body.position = f.position.trim();
    if (f.phone.trim() !== (p.phone || '')) body.phone = f.phone.trim();
    try { await patch(`/org/people/${p.id}`, body); onDone(); } catch (e) { showError(e); }
  };
  const input = (k: string, label: string) => <label>{label}<input data-testid={'org-person-' + k} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>;
  return (
    <Dialog title={`${p.name} · ${w('person_edit')}`} inner="org-person-dialog" ok={t('save')} okDisabled={!f.name.trim()} onOk={save} onCancel={onClose}>
      <p class="hint">{w('person_edit_hint')}</p>
      {input('name', t('name'))}{input('employee_no', t('employee_no'))}
      <label>{t('unit')}
        <select data-testid="org-person-unit" value={f.unit_id} onChange={(e) => setF({ ...f, unit_id: e.currentTarget.value })}>
          {units.map((u) => <option value={u.id}>{u.path}</option>)}
        </select>
      </label>
      {input('position', t('position'))}{input('phone', t('phone'))}
    </Dialog>
  );
}

// Shared by HR (/org/people/{id}/depart) and sysadmin (/admin/users/{id}/depart).
export function DepartPerson({ p, path, onClose, onDone }: { p: any; path: string; onClose: () => void; onDone: (r: any) => void }) {
  const [reason, setReason] = useState('termination');
  const [pledged, setPledged] = useState(false);
  const go = async () => { try { onDone(await post<any>(path, { reason, pledged })); } catch (e) { showError(e); } };
  return (
    <Dialog title={`${p.name} · ${t('depart')}`} inner="depart-dialog" ok={t('depart')} danger onOk={go} onCancel={onClose}>
      <p class="hint">{t('depart_hint')}</p>
      <label>{w('departure_kind')}
        <select data-testid="depart-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
          {DEPART_KINDS.map((r) => <option value={r}>{kindLabel(r)}</option>)}
        </select>
      </label>
      <label class="check"><input type="checkbox" data-testid="depart-pledged" checked={pledged} onChange={(e) => setPledged(e.currentTarget.checked)} /> {w('depart_pledged')}</label>
    </Dialog>
  );
}
