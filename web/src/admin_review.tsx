// The review queue (compliance and secadmin; secadmin never sees the message content).
import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api';
import { t } from './i18n';
import { showError, toast } from './store';
import { fmtTime } from './ui';
import { ArchiveFiles } from './admin_archive';
import { word } from './labels_compliance';
import type { ReviewQueue } from './api-types';

export function Review() {
  const [status, setStatus] = useState('open');
  const [data, setData] = useState<ReviewQueue | null>(null);
  const load = () => get<ReviewQueue>(`/compliance/review?status=${status}&limit=50`).then(setData, showError);
  useEffect(() => { load(); }, [status]);
  const decide = (id: number, decision: string) => async () => {
    try { await post(`/compliance/review/${id}/decision`, { decision, note: '' }); toast(t('saved')); load(); } catch (e) { showError(e); }
  };
  return (
    <div data-testid="admin-review">
      <div class="row gap">
        <select value={status} data-testid="review-status" aria-label={t('state')} onChange={(e) => setStatus(e.currentTarget.value)}>
          {['open', 'escalated', 'approved', 'rejected', 'violation'].map((x) => <option value={x}>{word(x)}</option>)}
        </select>
      </div>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('review_kind')}</th><th>{t('name')}</th><th>{t('archive_text')}</th><th>{t('reason')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(data?.items || []).map((i) => (
          <tr data-testid="review-row" class={i.sla_breached ? 'late' : ''}>
            <td>{fmtTime(i.created_at, true)}</td><td data-testid="review-kind">{word(i.kind)}</td><td>{i.subject?.name}</td><td class="wrap">{i.content_hidden
              // 三员分立: secadmin decides held items from metadata and masked findings only.
              ? <span class="muted" data-testid="review-content-hidden">{t('review_content_hidden')}{(i.dlp_findings || []).filter((x) => x.masked).map((x) => <div>{word(x.detector || '')}：{x.masked}</div>)}</span>
              : <>{i.text}<ArchiveFiles atts={i.attachments} href={(a) => `/api/v1/compliance/review/${i.id}/attachments/${a.id}`} /></>}</td><td data-testid="review-reason">{word(i.reason)}{(i.dlp_findings || []).length ? <div class="muted">{Array.from(new Set((i.dlp_findings || []).map((x) => word(x.detector || '')))).filter(Boolean).join('、')}</div> : null}</td>
            <td class="actions">{(i.status === 'open' || i.status === 'escalated') ? ['approve', 'reject', 'violation', 'escalate'].map((d) => (
              <button class="link" onClick={decide(i.id, d)}>{t('decision_' + d)}</button>
            )) : `${word(i.status)} ${i.decision_note || ''}`}</td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}
