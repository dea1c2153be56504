// The auditor's screen: the audit trail by person (name, username or employee number), its
// verification and export. Actions, roles, targets and details are shown in words, not codes.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { locale, t } from './i18n';
import { showError } from './store';
import { fmtTime } from './ui';
import { Pager } from './admin';
import type { AuditPerson, AuditRecord, AuditTrail, AuditVerification } from './api-types';
import { actionLabel, actionOptions, detailLines, rolesLabel, targetLabel, word } from './labels_compliance';

const zh = () => locale !== 'en';

export function Audit() {
  const [action, setAction] = useState('');
  const [person, setPerson] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<AuditTrail | null>(null);
  const [verify, setVerify] = useState<AuditVerification | null>(null);
  const [verifying, setVerifying] = useState(false);
  const load = (a = action, who = person, off = offset) => {
    const qs = new URLSearchParams({ limit: '50', offset: String(off) });
    if (a) qs.set('action', a);
    if (who.trim()) qs.set('person', who.trim());
    return get<AuditTrail>(`/admin/audit?${qs}`).then(setData, showError);
  };
  useEffect(() => { load(); }, [offset]);
  const rows: AuditRecord[] = data?.records || [];
  const people: AuditPerson[] | undefined = data?.people;
  const filterPerson = (who: string) => { setPerson(who); setOffset(0); load(action, who, 0); };
  const exportHref = '/api/v1/audit/export' + (action ? '?' + new URLSearchParams({ action }) : '');
  return (
    <div data-testid="admin-audit">
      <div class="row gap">
        <button class="primary" data-testid="audit-verify" disabled={verifying} onClick={async () => {
          setVerifying(true);
          try { setVerify(await get<AuditVerification>('/audit/verify')); } catch (e) { showError(e); } finally { setVerifying(false); }
        }}>{verifying ? t('loading') : t('audit_verify')}</button>
        <a class="button" data-testid="audit-export" href={exportHref} download="audit.jsonl">{t('audit_export')}</a>
      </div>
      {verify && (
        <div class={verify.ok ? 'form-ok' : 'form-error'} data-testid="audit-verify-result" data-ok={String(!!verify.ok)} role="status">
          {verify.ok ? t('audit_verify_ok', { n: verify.count ?? 0, last: verify.last_id ?? 0 })
            : `${t('audit_verify_bad', { id: verify.first_bad_id ?? '?' })}${verify.reason ? ' — ' + verify.reason : ''}`}
          {verify.anchored_at ? <div class="muted">{t('audit_anchored', { at: `#${verify.anchored_at}` })}</div> : null}
        </div>
      )}
      <form class="row gap wrap-row" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(action, person, 0); }}>
        <input placeholder={zh() ? '人员：姓名、用户名或工号' : 'Person: name, username or employee no.'} value={person}
          onInput={(e) => setPerson(e.currentTarget.value)} data-testid="audit-person" aria-label={zh() ? '人员' : 'Person'} />
        <select value={action} onChange={(e) => setAction(e.currentTarget.value)} data-testid="audit-action" aria-label={t('action')}>
          <option value="">{zh() ? '全部操作' : 'All actions'}</option>
          {actionOptions().map((o) => <option value={o.code}>{o.label}</option>)}
        </select>
        <button type="submit" data-testid="audit-search">{t('search')}</button>
        {(action || person) && <button type="button" class="link" onClick={() => { setAction(''); setPerson(''); setOffset(0); load('', '', 0); }}>{t('audit_clear')}</button>}
      </form>
      {people && (
        <div class="hint" data-testid="audit-people" data-count={people.length}>
          {people.length
            ? (zh() ? '匹配人员：' : 'Matched: ') + people.map((p) => `${p.name}（${p.username}${p.employee_no ? '，' + p.employee_no : ''}）`).join('、')
            : (zh() ? `没有找到“${person.trim()}”，请核对姓名、用户名或工号。` : `Nobody matches “${person.trim()}”.`)}
        </div>
      )}
      <table class="grid audit-grid">
        <thead><tr><th>#</th><th>{t('time')}</th><th>{t('actor')}</th><th>{t('action')}</th><th>{t('target')}</th><th>{zh() ? '详情' : 'Details'}</th><th>{t('state')}</th><th>{t('ip')}</th></tr></thead>
        <tbody>{rows.map((r) => (
          <tr data-testid="audit-row" data-action={r.action}>
            <td>{r.id}</td>
            <td>{fmtTime(r.at, true)}</td>
            <td>{r.actor_id != null
              ? <button class="link" data-testid="audit-actor-filter" onClick={() => filterPerson(r.actor_username || String(r.actor_id))}>{r.actor_name ? `${r.actor_name}（${r.actor_username}）` : `#${r.actor_id}`}</button>
              : (zh() ? '系统' : 'System')}
              {r.actor_role ? <div class="muted">{rolesLabel(r.actor_role)}</div> : null}</td>
            <td data-testid="audit-action-label">{actionLabel(r.action)}</td>
            <td data-testid="audit-target">{targetLabel(r.target, r.target_name)}</td>
            <td class="wrap" data-testid="audit-details">{detailLines(r.details, r.detail_names).map((l) => <div>{l}</div>)}</td>
            <td>{word(r.outcome)}</td>
            <td>{r.ip}</td>
          </tr>
        ))}</tbody>
      </table>
      {rows.length === 0 && data && <div class="muted pad" data-testid="audit-empty">{t('no_results')}</div>}
      <Pager offset={offset} next={data?.next_offset} setOffset={setOffset} size={50} />
    </div>
  );
}
