// People administration under separation of duties (issue 19): sysadmin runs accounts, secadmin grants
// roles, and any act on an administrator's or a compliance officer's account is a request that an
// administrator of the other kind approves (审批). Destructive acts ask for confirmation first.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, get, patch, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { Modal, fmtTime, roleName } from './ui';
import { DEPART_KINDS, departKind, w } from './labels_org';
import type { AdminUser, AdminUserPage, Approval, ApprovalDone, ApprovalFiled, Approvals as ApprovalsAnswer, DirectoryUnit, DirectoryUnits, PasswordReset } from './api-types';

const GRANTABLE = ['unit_head', 'hr', 'compliance'];

function myRoles(): string[] { return S.me?.roles || []; }

// A 202 answer means the act was filed for approval, not done.
function announce(r: any) {
  if (r && r.pending && r.approval) toast(t('submitted_for_approval', { role: roleName(r.approval.decider_role) }));
  else toast(t('saved'));
}

// Every modal dialog carries data-testid dialog / dialog-ok / dialog-cancel (INTERFACE.md, December);
// the inner testid keeps older hooks working.
export function Dialog(props: { title: string; inner?: string; ok?: string; danger?: boolean; okDisabled?: boolean; onOk?: () => void; onCancel: () => void; children?: ComponentChildren }) {
  return (
    <Modal title={props.title} onClose={props.onCancel} testid="dialog">
      <div class="stack" data-testid={props.inner}>
        {props.children}
        <div class="row gap">
          {props.onOk && <button class={props.danger ? 'danger' : 'primary'} data-testid="dialog-ok" disabled={props.okDisabled} onClick={props.onOk}>{props.ok || t('confirm')}</button>}
          <button data-testid="dialog-cancel" onClick={props.onCancel}>{props.onOk ? t('cancel') : t('close')}</button>
        </div>
      </div>
    </Modal>
  );
}

function stateBadge(u: AdminUser) {
  if (u.departed) return <span class="badge warn" data-testid="user-state" data-state="departed">{t('departed')}</span>;
  if (u.disabled) return <span class="badge warn" data-testid="user-state" data-state="disabled">{t('disabled')}</span>;
  if (u.locked) return <span class="badge warn" data-testid="user-state" data-state="locked">{t('locked')}</span>;
  return <span class="badge ok" data-testid="user-state" data-state="active">{t('active')}</span>;
}

export function Users() {
  useStore();
  const roles = myRoles();
  const isSys = roles.includes('sysadmin');
  const isSec = roles.includes('secadmin');
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<AdminUserPage | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; password: string } | null>(null);
  const [oneTime, setOneTime] = useState<{ name: string; password: string } | null>(null);
  const [rolesOf, setRolesOf] = useState<AdminUser | null>(null);
  const [depart, setDepart] = useState<AdminUser | null>(null);
  const [reinstate, setReinstate] = useState<AdminUser | null>(null);
  const [confirm, setConfirm] = useState<{ message: string; ok: string; run: () => Promise<void> } | null>(null);
  const load = () => get<AdminUserPage>(`/admin/users?q=${encodeURIComponent(q)}&limit=50&offset=${offset}`).then(setData, showError);
  useEffect(() => { load(); }, [offset]);
  const ask = (message: string, ok: string, run: () => Promise<void>) => setConfirm({ message, ok, run });
  const doAsk = async () => {
    const c = confirm;
    setConfirm(null);
    if (!c) return;
    try { await c.run(); } catch (e) { showError(e); }
    load();
  };
  const self = (u: AdminUser) => u.id === S.me?.id;
  return (
    <div data-testid="admin-users">
      <div class="row gap">
        <form class="row" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(); }}>
          <input data-testid="admin-user-search" placeholder={t('search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          <button type="submit">{t('search')}</button>
        </form>
        {isSys && <button class="primary" data-testid="admin-user-create" onClick={() => setCreating(true)}>{t('create_user')}</button>}
      </div>
      <div class="table-scroll" style={{ overflowX: 'auto' }}>
        <table class="grid">
          <thead><tr><th>{t('name')}</th><th>{t('username')}</th><th>{t('employee_no')}</th><th>{t('unit')}</th><th>{t('roles')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>
            {(data?.users || []).map((u) => (
              <tr data-testid="admin-user-row" data-username={u.username}>
                <td>{u.name}</td><td>{u.username}</td><td>{u.employee_no}</td><td>{u.unit}</td>
                <td>{(u.roles || []).map(roleName).join('、')}</td>
                <td>{stateBadge(u)}{(u.pending_approvals || []).length > 0 && <span class="badge" data-testid="user-pending" title={(u.pending_approvals || []).map((k: string) => t('approval_kind_' + k)).join('、')}> {t('approval_status_pending')}</span>}</td>
                <td class="actions">
                  {isSys && !self(u) && !u.departed && (
                    <button class="link" data-testid="admin-user-toggle" onClick={() => ask(t(u.disabled ? 'confirm_enable' : 'confirm_disable', { name: u.name }), u.disabled ? t('enable') : t('disable'),
                      async () => announce(await patch(`/admin/users/${u.id}`, { disabled: !u.disabled })))}>{u.disabled ? t('enable') : t('disable')}</button>
                  )}
                  {isSys && u.locked && !u.departed && <button class="link" data-testid="admin-user-unlock" onClick={async () => { try { await post(`/admin/users/${u.id}/unlock`); toast(t('saved')); load(); } catch (e) { showError(e); } }}>{t('unlock_account')}</button>}
                  {isSys && !self(u) && !u.departed && (
                    <button class="link" data-testid="admin-user-reset" onClick={() => ask(t('confirm_reset', { name: u.name }), t('reset_password'), async () => {
                      const r = await post<PasswordReset | ApprovalFiled>(`/admin/users/${u.id}/reset-password`);
                      if ('pending' in r) announce(r); else setOneTime({ name: u.name, password: r.password });
                    })}>{t('reset_password')}</button>
                  )}
                  {isSys && !self(u) && !u.departed && u.totp_enabled && (
                    <button class="link" data-testid="admin-user-reset-2fa" onClick={() => ask(t('confirm_reset_2fa', { name: u.name }), t('reset_two_factor'),
                      async () => announce(await post(`/admin/users/${u.id}/reset-two-factor`)))}>{t('reset_two_factor')}</button>
                  )}
                  {isSec && !self(u) && !u.disabled && !(u.roles || []).some((r: string) => ['sysadmin', 'secadmin', 'auditor'].includes(r)) && (
                    <button class="link" data-testid="admin-user-roles" onClick={() => setRolesOf(u)}>{t('roles')}</button>
                  )}
                  {isSys && !self(u) && !u.departed && !(u.roles || []).some((r: string) => ['sysadmin', 'secadmin', 'auditor'].includes(r)) && (
                    <button class="link danger" data-testid="admin-user-depart" onClick={() => setDepart(u)}>{t('depart')}</button>
                  )}
                  {isSys && u.departed && <button class="link" data-testid="admin-user-reinstate" onClick={() => setReinstate(u)}>{t('reinstate')}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="row gap pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>{t('prev')}</button>
        <button disabled={data?.next_offset == null} onClick={() => data?.next_offset != null && setOffset(data.next_offset)}>{t('next')}</button>
      </div>
      {creating && <CreateUser onClose={() => setCreating(false)} onDone={(name, password) => { setCreating(false); setCreated({ name, password }); load(); }} />}
      {created && (
        <Dialog title={t('user_created')} inner="one-time-password" ok={t('ok')} onOk={() => setCreated(null)} onCancel={() => setCreated(null)}>
          <p>{t('user_created_done', { name: created.name })}</p>
          <p><code class="big" data-testid="one-time-password-value">{created.password}</code></p>
          <p class="hint">{t('user_created_roles_hint')}</p>
        </Dialog>
      )}
      {oneTime && (
        <Dialog title={t('reset_password')} inner="one-time-password" ok={t('ok')} onOk={() => setOneTime(null)} onCancel={() => setOneTime(null)}>
          <p>{t('reset_password_done', { name: oneTime.name })}</p>
          <p><code class="big" data-testid="one-time-password-value">{oneTime.password}</code></p>
        </Dialog>
      )}
      {confirm && <Dialog title={t('confirm_title')} inner="confirm-dialog" ok={confirm.ok} danger onOk={doAsk} onCancel={() => setConfirm(null)}><p>{confirm.message}</p></Dialog>}
      {depart && <DepartDialog u={depart} onClose={() => setDepart(null)} onDone={() => { setDepart(null); load(); }} />}
      {reinstate && <ReinstateDialog u={reinstate} onClose={() => setReinstate(null)} onDone={() => { setReinstate(null); load(); }} />}
      {rolesOf && <RolesDialog u={rolesOf} onClose={() => setRolesOf(null)} onSaved={() => { setRolesOf(null); load(); }} />}
    </div>
  );
}

function RolesDialog({ u, onClose, onSaved }: { u: AdminUser; onClose: () => void; onSaved: () => void }) {
  const [sel, setSel] = useState<string[]>((u.roles || []).filter((r: string) => r !== 'employee'));
  const save = async () => {
    try { announce(await api('PUT', `/admin/users/${u.id}/roles`, { roles: ['employee', ...sel] })); onSaved(); } catch (e) { showError(e); }
  };
  return (
    <Dialog title={`${u.name} · ${t('roles')}`} inner="roles-dialog" ok={t('save')} onOk={save} onCancel={onClose}>
      {GRANTABLE.map((r) => (
        <label class="check"><input type="checkbox" data-testid={'role-' + r} checked={sel.includes(r)} onChange={(e) => setSel(e.currentTarget.checked ? [...sel, r] : sel.filter((x) => x !== r))} /> {roleName(r)}</label>
      ))}
    </Dialog>
  );
}

function CreateUser({ onClose, onDone }: { onClose: () => void; onDone: (name: string, password: string) => void }) {
  const [f, setF] = useState<Record<string, string>>({ username: '', name: '', unit_path: '', password: '', phone: '', position: '', employee_no: '' });
  const [units, setUnits] = useState<DirectoryUnit[]>([]);
  useEffect(() => { get<DirectoryUnits>('/admin/units').then((r) => setUnits(r.units || []), () => setUnits([])); }, []);
  const field = (k: string, label: string, type = 'text', list?: string) => (
    <label>{label}<input type={type} list={list} data-testid={'new-user-' + k} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} required={['username', 'name', 'unit_path', 'password'].includes(k)} /></label>
  );
  const submit = async (e?: Event) => {
    e?.preventDefault();
    const body: any = { ...f };
    for (const k of ['phone', 'position', 'employee_no']) if (!body[k]) delete body[k];
    try { await post('/admin/users', body); onDone(f.name, f.password); } catch (err) { showError(err); }
  };
  return (
    <Modal title={t('create_user')} onClose={onClose} testid="dialog">
      <form class="stack" data-testid="create-user-dialog" onSubmit={submit}>
        {field('username', t('username'))}{field('name', t('name'))}
        {field('unit_path', t('unit_path'), 'text', 'known-units')}
        <datalist id="known-units">{units.map((u) => <option value={u.path} />)}</datalist>
        <span class="hint">{t('unit_pick_hint')}</span>
        {field('password', t('password'), 'password')}{field('employee_no', t('employee_no'))}{field('phone', t('phone'))}{field('position', t('position'))}
        <p class="hint">{t('user_created_roles_hint')}</p>
        <div class="row gap">
          <button class="primary" type="submit" data-testid="new-user-submit">{t('create')}</button>
          <button type="button" data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button>
        </div>
      </form>
    </Modal>
  );
}

function DepartDialog({ u, onClose, onDone }: { u: AdminUser; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('termination');
  const [pledged, setPledged] = useState(false);
  const go = async () => { try { announce(await post(`/admin/users/${u.id}/depart`, { reason, pledged })); onDone(); } catch (e) { showError(e); } };
  return (
    <Dialog title={`${u.name} · ${t('depart')}`} inner="depart-dialog" ok={t('depart')} danger onOk={go} onCancel={onClose}>
      <p class="hint">{t('depart_hint')}</p>
      <select data-testid="depart-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
        {DEPART_KINDS.map((r) => <option value={r}>{departKind(r) || t('depart_' + r)}</option>)}
      </select>
      <label class="check"><input type="checkbox" data-testid="depart-pledged" checked={pledged} onChange={(e) => setPledged(e.currentTarget.checked)} /> {w('depart_pledged')}</label>
    </Dialog>
  );
}

function ReinstateDialog({ u, onClose, onDone }: { u: AdminUser; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const go = async () => { try { announce(await post(`/admin/users/${u.id}/reinstate`, { reason: reason.trim() })); onDone(); } catch (e) { showError(e); } };
  return (
    <Dialog title={`${u.name} · ${t('reinstate')}`} inner="reinstate-dialog" ok={t('reinstate')} okDisabled={reason.trim().length < 4} onOk={go} onCancel={onClose}>
      <p class="hint">{t('reinstate_hint')}</p>
      <textarea data-testid="reinstate-reason" placeholder={t('reinstate_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
    </Dialog>
  );
}

// What a request asks for, in words.
function approvalDetail(a: any): string {
  const p = a.payload || {};
  switch (a.kind) {
    case 'update': {
      const parts: string[] = [];
      if (p.disabled === true) parts.push(t('approval_disable'));
      if (p.disabled === false) parts.push(t('approval_enable'));
      const fields = Object.keys(p).filter((k) => k !== 'disabled').map((k) => t(k === 'unit_id' ? 'unit' : k));
      if (fields.length) parts.push(t('approval_fields', { fields: fields.join('、') }));
      return parts.join('；');
    }
    case 'roles': return t('approval_roles_change', { from: (p.from || []).map(roleName).join('、'), to: (p.to || []).map(roleName).join('、') });
    case 'depart': return `${t('reason')}：${departKind(p.reason) || t('depart_' + p.reason)}${p.pledged ? '；' + w('depart_pledged') : ''}`;
    case 'reinstate': return `${t('reason')}：${p.reason || ''}`;
    default: return '';
  }
}

export function Approvals() {
  const [status, setStatus] = useState<'pending' | 'decided'>('pending');
  const [data, setData] = useState<ApprovalsAnswer | null>(null);
  const [approving, setApproving] = useState<Approval | null>(null);
  const [rejecting, setRejecting] = useState<Approval | null>(null);
  const [reason, setReason] = useState('');
  const [shown, setShown] = useState<{ name: string; password: string; grant?: boolean } | null>(null);
  const load = () => get<ApprovalsAnswer>(`/admin/approvals?status=${status}&limit=100`).then(setData, showError);
  useEffect(() => { load(); }, [status]);
  const approve = async () => {
    const a = approving;
    if (!a) return;
    setApproving(null);
    try {
      const r = await post<ApprovalDone>(`/admin/approvals/${a.id}/approve`);
      if (r.result && 'password' in r.result && r.result.password) setShown({ name: a.target?.name || '', password: r.result.password, grant: a.kind === 'roles' });
      else toast(t('saved'));
    } catch (e) { showError(e); }
    load();
  };
  const reject = async () => {
    const a = rejecting;
    if (!a) return;
    try { await post(`/admin/approvals/${a.id}/reject`, { reason: reason.trim() }); setRejecting(null); setReason(''); toast(t('saved')); } catch (e) { showError(e); }
    load();
  };
  return (
    <div data-testid="admin-approvals">
      <div class="row gap" role="tablist">
        {(['pending', 'decided'] as const).map((x) => (
          <button role="tab" aria-selected={status === x} class={status === x ? 'active' : ''} data-testid={'approvals-' + x} onClick={() => setStatus(x)}>{t('approvals_' + x)}</button>
        ))}
      </div>
      <p class="hint">{t('approvals_rule')}</p>
      <div class="table-scroll" style={{ overflowX: 'auto' }}>
        <table class="grid">
          <thead><tr><th>{t('time')}</th><th>{t('approval_kind')}</th><th>{t('approval_target')}</th><th>{t('approval_detail')}</th><th>{t('approval_requester')}</th><th>{t('state')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>{(data?.approvals || []).map((a) => (
            <tr data-testid="approval-row" data-kind={a.kind} data-status={a.status}>
              <td>{fmtTime(a.requested_at, true)}</td>
              <td>{t('approval_kind_' + a.kind)}</td>
              <td>{a.target?.name}（{a.target?.username}）</td>
              <td class="wrap">{approvalDetail(a)}</td>
              <td>{a.requested_by?.name}（{roleName(a.requester_role)}）</td>
              <td>{t('approval_status_' + a.status)}{a.decided_by ? ` · ${a.decided_by.name} ${fmtTime(a.decided_at || '', true)}` : ''}{a.decision_reason ? ` · ${a.decision_reason}` : ''}</td>
              <td class="actions">
                {a.can_decide ? (<>
                  <button class="link" data-testid="approval-approve" onClick={() => setApproving(a)}>{t('approve')}</button>
                  <button class="link danger" data-testid="approval-reject" onClick={() => { setReason(''); setRejecting(a); }}>{t('reject')}</button>
                </>) : a.status === 'pending' ? <span class="muted">{t('approval_wait', { role: roleName(a.decider_role) })}</span> : null}
              </td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {data && (data.approvals || []).length === 0 && <div class="muted pad">{t('none')}</div>}
      {approving && (
        <Dialog title={t('confirm_title')} inner="approve-dialog" ok={t('approve')} onOk={approve} onCancel={() => setApproving(null)}>
          <p>{t('approval_confirm_approve', { kind: t('approval_kind_' + approving.kind), name: approving.target?.name || '' })}</p>
          <p class="hint">{approvalDetail(approving)}</p>
        </Dialog>
      )}
      {rejecting && (
        <Dialog title={`${t('reject')} · ${t('approval_kind_' + rejecting.kind)}`} inner="reject-dialog" ok={t('reject')} danger okDisabled={reason.trim().length < 2} onOk={reject} onCancel={() => setRejecting(null)}>
          <textarea data-testid="reject-reason" placeholder={t('reject_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Dialog>
      )}
      {shown && (
        <Dialog title={shown.grant ? t('approval_kind_roles') : t('reset_password')} inner="one-time-password" ok={t('ok')} onOk={() => setShown(null)} onCancel={() => setShown(null)}>
          <p data-testid="approval-password-note">{t(shown.grant ? 'approval_grant_password_shown' : 'approval_password_shown', { name: shown.name })}</p>
          <p><code class="big" data-testid="one-time-password-value">{shown.password}</code></p>
        </Dialog>
      )}
    </div>
  );
}
