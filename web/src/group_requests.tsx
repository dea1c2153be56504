// Groups with other units that wait for the unit head (issue 21 item 8): the requester sees where each of
// their requests stands (and may withdraw one still waiting); a unit head approves (the group is made as
// asked) or rejects with a reason. Shown under 我的 → 申请, next to the account applications.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { S, showError, toast, useStore } from './store';
import { fmtTime } from './ui';
import { Dialog } from './admin_people';
import { w } from './labels_org';
import type { GroupRequest, GroupRequests } from './api-types';

type Scope = 'mine' | 'todo';

export function GroupRequests() {
  useStore();
  const head = (S.me?.roles || []).includes('unit_head');
  const [scope, setScope] = useState<Scope>('mine');
  const [data, setData] = useState<GroupRequests | null>(null);
  const [rejecting, setRejecting] = useState<GroupRequest | null>(null);
  const [reason, setReason] = useState('');
  const load = () => get<GroupRequests>(`/group-requests?scope=${scope}`).then(setData, showError);
  useEffect(() => { load(); }, [scope]);
  useEffect(() => { if (head && data && scope === 'mine' && data.todo_count > 0 && !(data.requests || []).length) setScope('todo'); }, [data]);
  const act = async (path: string, body?: any) => { try { await post(path, body); toast(t('saved')); load(); } catch (e) { showError(e); } };
  const rows: GroupRequest[] = data?.requests || [];
  return (
    <section class="stack" data-testid="group-requests">
      <h3>{w('group_requests')}</h3>
      {head && (
        <div class="row gap" role="tablist">
          {(['mine', 'todo'] as Scope[]).map((x) => (
            <button role="tab" aria-selected={scope === x} class={scope === x ? 'active' : ''} data-testid={'group-requests-' + x} onClick={() => setScope(x)}>
              {w('group_requests_' + x)}{x === 'todo' && data?.todo_count ? ` (${data.todo_count})` : ''}
            </button>
          ))}
        </div>
      )}
      <ul class="stack plain">
        {rows.map((r) => (
          <li class="card" data-testid="group-request-row" data-status={r.status}>
            <div class="row gap wrap">
              <strong>{r.name}</strong>
              <span class={'badge ' + (r.status === 'approved' ? 'ok' : r.status === 'rejected' ? 'warn' : '')} data-testid="group-request-status">{w('greq_' + r.status)}</span>
              <span class="muted small">{fmtTime(r.created_at, true)}</span>
            </div>
            {scope === 'todo' && <div class="small">{w('greq_requester')}：{r.requester?.name}（{r.unit}）</div>}
            <div class="small wrap">{w('greq_members')}：{r.members.map((m) => `${m.name}（${m.unit}）`).join('、')}</div>
            {r.status === 'pending' && r.approvers?.length > 0 && <div class="muted small" data-testid="group-request-waiting">{w('greq_waiting', { names: r.approvers.map((p) => p.name).join('、') })}</div>}
            {r.decided_by && r.status !== 'withdrawn' && <div class="muted small">{w('greq_decided', { name: r.decided_by.name, when: fmtTime(r.decided_at ?? undefined, true) })}</div>}
            {r.status === 'rejected' && r.reason && <div class="small" data-testid="group-request-reason">{w('greq_reason')}：{r.reason}</div>}
            <div class="row gap">
              {r.can_decide && <>
                <button class="primary" data-testid="group-request-approve" onClick={() => act(`/group-requests/${r.id}/approve`)}>{w('approve')}</button>
                <button class="danger" data-testid="group-request-reject" onClick={() => { setReason(''); setRejecting(r); }}>{t('reject')}</button>
              </>}
              {scope === 'mine' && r.status === 'pending' && <button data-testid="group-request-withdraw" onClick={() => act(`/group-requests/${r.id}/withdraw`)}>{w('greq_withdraw')}</button>}
            </div>
          </li>
        ))}
      </ul>
      {data && rows.length === 0 && <div class="muted">{t('none')}</div>}
      {rejecting && (
        <Dialog title={`${rejecting.name} · ${t('reject')}`} inner="group-request-reject-dialog" ok={t('reject')} danger okDisabled={reason.trim().length < 2}
          onOk={async () => { await act(`/group-requests/${rejecting.id}/reject`, { reason: reason.trim() }); setRejecting(null); }} onCancel={() => setRejecting(null)}>
          <textarea data-testid="group-request-reject-reason" placeholder={w('reject_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Dialog>
      )}
    </section>
  );
}
