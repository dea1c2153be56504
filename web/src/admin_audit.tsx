// The auditor's screen: the audit trail, its verification and export.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { t } from './i18n';
import { showError } from './store';
import { fmtTime, roleName } from './ui';
import { Pager } from './admin';

export function Audit() {
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<any>(null);
  const [verify, setVerify] = useState<any>(null);
  const [verifying, setVerifying] = useState(false);
  const load = (a = action, who = actor, off = offset) => {
    const qs = new URLSearchParams({ limit: '50', offset: String(off) });
    if (a.trim()) qs.set('action', a.trim());
    if (/^\d+$/.test(who.trim())) qs.set('actor', who.trim());
    return get<any>(`/admin/audit?${qs}`).then(setData, showError);
  };
  useEffect(() => { load(); }, [offset]);
  const rows: any[] = data?.records || data?.events || data?.audit || data?.items || [];
  const filterActor = (id: number) => { setActor(String(id)); setOffset(0); load(action, String(id), 0); };
  const exportHref = '/api/v1/audit/export' + (action.trim() ? '?' + new URLSearchParams({ action: action.trim() }) : '');
  return (
    <div data-testid="admin-audit">
      <div class="row gap">
        <button class="primary" data-testid="audit-verify" disabled={verifying} onClick={async () => {
          setVerifying(true);
          try { setVerify(await get<any>('/audit/verify')); } catch (e) { showError(e); } finally { setVerifying(false); }
        }}>{verifying ? t('loading') : t('audit_verify')}</button>
        <a class="button" data-testid="audit-export" href={exportHref} download="audit.jsonl">{t('audit_export')}</a>
      </div>
      {verify && (
        <div class={verify.ok ? 'form-ok' : 'form-error'} data-testid="audit-verify-result" data-ok={String(!!verify.ok)} role="status">
          {verify.ok ? t('audit_verify_ok', { n: verify.count ?? 0, last: verify.last_id ?? 0 })
            : `${t('audit_verify_bad', { id: verify.first_bad_id ?? '?' })}${verify.reason ? ' — ' + verify.reason : ''}`}
          {verify.anchored_at ? <div class="muted">{t('audit_anchored', { at: fmtTime(verify.anchored_at, true) })}</div> : null}
        </div>
      )}
      <form class="row gap" onSubmit={(e) => { e.preventDefault(); setOffset(0); load(action, actor, 0); }}>
        <input placeholder={t('action') + ' (auth. / dlp. / …)'} value={action} onInput={(e) => setAction(e.currentTarget.value)} data-testid="audit-action" />
        <input placeholder={t('audit_actor_hint')} inputMode="numeric" value={actor} onInput={(e) => setActor(e.currentTarget.value)} data-testid="audit-actor" />
        <button type="submit" data-testid="audit-search">{t('search')}</button>
        {(action || actor) && <button type="button" class="link" onClick={() => { setAction(''); setActor(''); setOffset(0); load('', '', 0); }}>{t('audit_clear')}</button>}
      </form>
      <table class="grid">
        <thead><tr><th>#</th><th>{t('time')}</th><th>{t('actor')}</th><th>{t('action')}</th><th>{t('target')}</th><th>{t('state')}</th><th>{t('ip')}</th></tr></thead>
        <tbody>{rows.map((r) => (
          <tr data-testid="audit-row" data-action={r.action}><td>{r.id ?? r.seq}</td><td>{fmtTime(r.at || r.created_at || r.time, true)}</td>
            <td>{r.actor_id != null ? <button class="link" data-testid="audit-actor-filter" onClick={() => filterActor(r.actor_id)}>{r.actor_name || r.actor_username || `#${r.actor_id}`}</button> : '—'}{r.actor_role ? ` (${roleName(r.actor_role)})` : ''}</td><td>{r.action}</td>
            <td class="ua" title={r.details ? JSON.stringify(r.details) : ''}>{typeof r.target === 'object' ? JSON.stringify(r.target) : r.target ?? ''}{r.details ? ' ' + JSON.stringify(r.details) : ''}</td><td>{r.outcome}</td><td>{r.ip}</td></tr>
        ))}</tbody>
      </table>
      <Pager offset={offset} next={data?.next_offset} setOffset={setOffset} size={50} />
    </div>
  );
}
