// compliance's archive search and the files of archived messages.
import { useState } from 'preact/hooks';
import { get } from './api';
import { t } from './i18n';
import { showError } from './store';
import { Icon, fmtTime } from './ui';

export function Archive() {
  const [q, setQ] = useState('');
  const [reason, setReason] = useState('');
  const [res, setRes] = useState<any[] | null>(null);
  async function search(e: Event) {
    e.preventDefault();
    try {
      const qs = new URLSearchParams({ reason: reason.trim(), q: q.trim(), limit: '50' });
      const r = await get<any>(`/compliance/archive/search?${qs}`);
      setRes(r.results || []);
    } catch (err) { showError(err); }
  }
  return (
    <div data-testid="admin-archive">
      <form class="row gap" onSubmit={search}>
        <input data-testid="archive-q" placeholder={t('archive_query')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <input data-testid="archive-reason" placeholder={t('archive_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
        <button class="primary" type="submit" data-testid="archive-search">{t('search')}</button>
      </form>
      <p class="hint">{t('archive_hint')}</p>
      {res && res.length === 0 && <div class="muted pad">{t('no_results')}</div>}
      {res && res.length > 0 && (
        <table class="grid">
          <thead><tr><th>{t('time')}</th><th>{t('name')}</th><th>#</th><th>{t('archive_text')}</th></tr></thead>
          <tbody>{res.map((r) => (
            <tr data-testid="archive-row"><td>{fmtTime(r.created_at || r.at, true)}</td><td>{r.sender?.name}</td>
              <td>{r.conversation?.name || r.conversation?.id || r.conversation_id}:{r.seq}{r.version ? ` v${r.version}` : ''}{r.kind ? ` ${r.kind}` : ''}</td>
              <td class="wrap">{r.text}<ArchiveFiles atts={r.attachments} href={(a) => `/api/v1/compliance/archive/attachments/${a.id}?${new URLSearchParams({ reason: reason.trim() })}`} /></td></tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}

// Files of an archived or reviewed message, including those kept from inside a secure pack; each
// opening is audited by the server (with the stated reason for archive searches).
export function ArchiveFiles({ atts, href }: { atts?: any[]; href: (a: any) => string }) {
  if (!atts?.length) return null;
  return (
    <div class="archive-files">
      {atts.map((a) => {
        const ok = ['clean', 'unscanned', 'reencoded'].includes(a.scan_status);
        const label = `${a.filename}${a.archive_only ? ` (${t('pack_inner')})` : a.kind === 'secure_pack' ? ` (${t('secure_pack')})` : ''}`;
        return ok
          ? <a class="file-chip" data-testid="archive-file" href={href(a)} download={a.filename}><Icon name="file" size={14} /> {label}</a>
          : <span class="file-chip off" data-testid="archive-file"><Icon name="file" size={14} /> {label} · {t('scan_' + a.scan_status)}</span>;
      })}
    </div>
  );
}
