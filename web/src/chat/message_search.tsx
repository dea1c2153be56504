// Searching one's own messages from the sidebar: each hit shows its conversation, sender, time and the
// text with the query marked (as text, never HTML); a click opens the conversation at that message.
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';
import { S, SearchHit, convTitle, openMessage, searchMessages, showError } from '../store';
import { fmtTime } from '../ui';

export function MessageSearchBox({ q, setQ }: { q: string; setQ: (q: string) => void }) {
  return (
    <input class="search msg-search" type="search" data-testid="message-search" placeholder={t('search_messages')} title={t('search_messages_hint')}
      value={q} maxLength={200} onInput={(e) => setQ(e.currentTarget.value)} onKeyDown={(e) => { if (e.key === 'Escape') setQ(''); }} />
  );
}

function Snippet({ text, q }: { text: string; q: string }) {
  const i = text.toLowerCase().indexOf(q.toLowerCase());
  if (i < 0 || !q) return <>{text.slice(0, 120)}</>;
  const from = Math.max(0, i - 30);
  return <>{from > 0 ? '…' : ''}{text.slice(from, i)}<mark>{text.slice(i, i + q.length)}</mark>{text.slice(i + q.length, i + q.length + 80)}</>;
}

export function MessageSearchResults({ q, onDone }: { q: string; onDone: () => void }) {
  const [res, setRes] = useState<SearchHit[] | null>(null);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    setRes(null);
    const timer = setTimeout(() => {
      searchMessages(q.trim()).then((r) => { if (n === seq.current) setRes(r); }, (e) => { if (n === seq.current) { setRes([]); showError(e); } });
    }, 250);
    return () => clearTimeout(timer);
  }, [q]);
  if (res == null) return <div class="muted pad">{t('loading')}</div>;
  if (!res.length) return <div class="empty-hint" data-testid="message-search-empty">{t('no_messages_found')}</div>;
  return (
    <ul class="conv-list search-hits" data-testid="message-search-results">
      {res.map((h) => {
        const c = S.convs.get(h.conversation_id);
        return (
          <li class="conv-item" data-testid="message-search-result" data-message-id={h.message_id} role="button" tabIndex={0}
            onClick={() => { onDone(); openMessage(h); }} onKeyDown={(e) => { if (e.key === 'Enter') { onDone(); openMessage(h); } }}>
            <div class="conv-main">
              <div class="conv-top"><span class="conv-title">{c ? convTitle(c) : t('conversation')}</span><span class="conv-time">{fmtTime(h.created_at)}</span></div>
              <div class="hit-text"><b>{h.sender.name}：</b><Snippet text={h.text} q={q.trim()} /></div>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
