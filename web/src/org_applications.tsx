// Accounts by application (issue 21 item 1): anyone files one for a new employee; the unit head, then HR
// approve; the system administrator opens the account and sees its one-time password once.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { fmtTime, roleName } from './ui';
import { Dialog } from './admin_people';
import { FUNCTIONS, w } from './labels_org';
import { GroupRequests } from './group_requests';

type Scope = 'mine' | 'todo' | 'all';

function canSeeAll(roles: string[]) { return roles.some((r) => ['unit_head', 'hr', 'sysadmin'].includes(r)); }

export function Applications() {
  useStore();
  const roles = S.me?.roles || [];
  const decider = canSeeAll(roles);
  const [scope, setScope] = useState<Scope>(decider ? 'todo' : 'mine');
  const [data, setData] = useState<any>(null);
  const [filing, setFiling] = useState(false);
  const [approving, setApproving] = useState<any | null>(null);
  const [rejecting, setRejecting] = useState<any | null>(null);
  const [opened, setOpened] = useState<any | null>(null);
  const load = () => get<any>(`/applications?scope=${scope}&limit=100`).then(setData, showError);
  useEffect(() => { load(); }, [scope]);
  const scopes: Scope[] = decider ? ['todo', 'mine', 'all'] : ['mine'];
  return (
    <div data-testid="applications" class="stack">
      <div class="row gap wrap">
        <div class="row gap" role="tablist">
          {scopes.map((x) => (
            <button role="tab" aria-selected={scope === x} class={scope === x ? 'active' : ''} data-testid={'applications-' + x} onClick={() => setScope(x)}>
              {w('applications_' + x)}{x === 'todo' && data?.todo_count ? ` (${data.todo_count})` : ''}
            </button>
          ))}
        </div>
        <button class="primary" data-testid="application-new" onClick={() => setFiling(true)}>{w('application_new')}</button>
      </div>
      <p class="hint">{w('application_hint')}</p>
      <div class="table-scroll" style={{ overflowX: 'auto' }}>
        <table class="grid">
          <thead><tr><th>{t('name')}</th><th>{t('employee_no')}</th><th>{t('unit')}</th><th>{t('position')}</th><th>{w('applicant')}</th><th>{w('progress')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>{(data?.applications || []).map((a: any) => (
            <tr data-testid="application-row" data-status={a.status} data-employee-no={a.employee_no}>
              <td>{a.name}</td><td>{a.employee_no}</td><td>{a.unit}</td><td>{a.position}</td>
              <td>{a.applicant?.name}<div class="muted small">{fmtTime(a.created_at, true)}</div></td>
              <td class="wrap">
                <span class={'badge ' + (a.status === 'rejected' ? 'warn' : a.status === 'allocated' ? 'ok' : '')} data-testid="application-status">{w('status_' + a.status)}</span>
                {(a.steps || []).map((st: any) => (
                  <div class="muted small" data-testid="application-step">{w('stage_' + st.stage)}：{st.by?.name || ''} {w('decision_' + st.decision)}{st.reason && st.decision === 'rejected' ? `（${st.reason}）` : ''}</div>
                ))}
                {a.status === 'allocated' && a.username && <div class="small">{t('username')}：{a.username}</div>}
              </td>
              <td class="actions">
                {a.can_decide && (<>
                  <button class="link" data-testid="application-approve" onClick={() => setApproving(a)}>{a.status === 'pending_sysadmin' ? w('allocate') : w('approve')}</button>
                  <button class="link danger" data-testid="application-reject" onClick={() => setRejecting(a)}>{t('reject')}</button>
                </>)}
              </td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {data && (data.applications || []).length === 0 && <div class="muted pad">{t('none')}</div>}
      <GroupRequests />
      {filing && <FileApplication onClose={() => setFiling(false)} onDone={(name) => { setFiling(false); setScope('mine'); load(); toast(`${w('application_filed')}（${name}）`); }} />}
      {approving && <ApproveDialog a={approving} onClose={() => setApproving(null)} onDone={(r) => { setApproving(null); if (r.password) setOpened(r); else toast(t('saved')); load(); }} />}
      {rejecting && <RejectDialog a={rejecting} onClose={() => setRejecting(null)} onDone={() => { setRejecting(null); toast(t('saved')); load(); }} />}
      {opened && (
        <Dialog title={w('allocated_title')} inner="one-time-password" ok={t('ok')} onOk={() => setOpened(null)} onCancel={() => setOpened(null)}>
          <p>{w('allocated_done', { name: opened.name, username: opened.username })}</p>
          <p><code class="big" data-testid="one-time-password-value">{opened.password}</code></p>
        </Dialog>
      )}
    </div>
  );
}

function FileApplication({ onClose, onDone }: { onClose: () => void; onDone: (name: string) => void }) {
  const [f, setF] = useState<Record<string, string>>({ name: '', employee_no: '', unit_id: '', position: '', phone: '', username: '', note: '' });
  const [fns, setFns] = useState<string[]>(['chat']);
  const [units, setUnits] = useState<any[]>([]);
  useEffect(() => { get<any>('/directory/units').then((r) => setUnits(r.units || []), () => setUnits([])); }, []);
  const field = (k: string, label: string, required = false) => (
    <label>{label}<input data-testid={'application-' + k} value={f[k]} required={required} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: any = { name: f.name.trim(), employee_no: f.employee_no.trim(), unit_id: Number(f.unit_id), position: f.position.trim(), functions: fns, note: f.note.trim() };
    if (f.phone.trim()) body.phone = f.phone.trim();
    if (f.username.trim()) body.username = f.username.trim();
    try { await post('/applications', body); onDone(body.name); } catch (err) { showError(err); }
  };
  return (
    <Dialog title={w('application_new')} inner="application-dialog" onCancel={onClose}>
      <form class="stack" onSubmit={submit}>
        {field('name', t('name'), true)}{field('employee_no', t('employee_no'), true)}
        <label>{t('unit')}
          <select data-testid="application-unit" value={f.unit_id} required onChange={(e) => setF({ ...f, unit_id: e.currentTarget.value })}>
            <option value="">—</option>
            {units.map((u) => <option value={u.id}>{u.path}</option>)}
          </select>
        </label>
        {field('position', t('position'))}{field('phone', t('phone'))}
        <fieldset class="stack"><legend>{w('functions')}</legend>
          {FUNCTIONS.map((fn) => (
            <label class="check"><input type="checkbox" data-testid={'application-fn-' + fn} checked={fns.includes(fn)} onChange={(e) => setFns(e.currentTarget.checked ? [...fns, fn] : fns.filter((x) => x !== fn))} /> {w('fn_' + fn)}</label>
          ))}
        </fieldset>
        {field('username', w('username_optional'))}{field('note', w('note'))}
        <button class="primary" type="submit" data-testid="application-submit">{t('submit')}</button>
      </form>
    </Dialog>
  );
}

function ApproveDialog({ a, onClose, onDone }: { a: any; onClose: () => void; onDone: (r: any) => void }) {
  const alloc = a.status === 'pending_sysadmin';
  const [username, setUsername] = useState(a.username || (a.employee_no || '').toLowerCase());
  const go = async () => {
    try { onDone(await post<any>(`/applications/${a.id}/approve`, alloc ? { username: username.trim() } : {})); } catch (e) { showError(e); }
  };
  return (
    <Dialog title={`${a.name} · ${alloc ? w('allocate') : w('approve')}`} inner="application-approve-dialog" ok={alloc ? w('allocate') : w('approve')} okDisabled={alloc && !username.trim()} onOk={go} onCancel={onClose}>
      <p>{a.unit} · {a.position} · {t('employee_no')} {a.employee_no}</p>
      <p class="muted">{w('functions')}：{(a.functions || []).map((x: string) => w('fn_' + x)).join('、')}</p>
      {alloc && <>
        <p class="hint">{w('allocate_hint')}</p>
        <label>{t('username')}<input data-testid="application-username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} /></label>
      </>}
      {!alloc && <p class="hint">{roleName(a.waiting_for)}</p>}
    </Dialog>
  );
}

function RejectDialog({ a, onClose, onDone }: { a: any; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const go = async () => { try { await post(`/applications/${a.id}/reject`, { reason: reason.trim() }); onDone(); } catch (e) { showError(e); } };
  return (
    <Dialog title={`${a.name} · ${t('reject')}`} inner="application-reject-dialog" ok={t('reject')} danger okDisabled={reason.trim().length < 2} onOk={go} onCancel={onClose}>
      <textarea data-testid="application-reject-reason" placeholder={w('reject_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
    </Dialog>
  );
}
