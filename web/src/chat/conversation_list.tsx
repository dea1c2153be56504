// The sidebar: the conversation list and the people search results.
import { locale, t } from '../i18n';
import { Conversation, Message, S, convTitle, openConversation, openDirect, peerOf, showError, sortedConversations, useStore } from '../store';
import { Person, PersonRow, statusOf, usePeopleSearch } from '../directory';
import { Avatar, StatusDot, fmtTime } from '../ui';

export function ConversationList() {
  useStore();
  const list = sortedConversations();
  if (!S.convsLoaded) return <div class="muted pad">{t('loading')}</div>;
  if (!list.length) return <div class="empty-hint" data-testid="no-conversations">{t('no_conversations')}</div>;
  return (
    <ul class="conv-list" data-testid="conversation-list">
      {list.map((c) => <ConversationItem key={c.id} c={c} />)}
    </ul>
  );
}

function preview(m?: Message | null): string {
  if (!m) return '';
  if (m.recalled) return t('recalled');
  if (m.attachments?.length && !m.text) return m.attachments[0].kind === 'image' || m.attachments[0].mime?.startsWith('image/') ? t('image_message') : t('file_message');
  return m.text;
}

function ConversationItem({ c }: { c: Conversation }) {
  const title = convTitle(c);
  const peer = peerOf(c);
  const last = c.last_message;
  const draft = S.openId !== c.id ? S.drafts.get(c.id) : undefined;
  const who = c.kind === 'group' && last && last.sender ? (last.sender.id === S.me?.id ? t('you') : last.sender.name) + (locale === 'en' ? ': ' : '：') : '';
  return (
    <li class={'conv-item' + (S.openId === c.id ? ' active' : '') + (c.pinned ? ' pinned' : '')} data-testid="conversation-item" data-conversation-id={c.id} data-pinned={c.pinned ? 'true' : undefined}
      onClick={() => openConversation(c.id)} role="button" tabIndex={0} onKeyDown={(e) => { if (e.key === 'Enter') openConversation(c.id); }}>
      <div class="conv-avatar">
        <Avatar name={title} id={c.kind === 'group' ? c.id + 7 : peer?.id} group={c.kind === 'group'} size={40} />
        {peer && <StatusDot status={statusOf(peer)} />}
      </div>
      <div class="conv-main">
        <div class="conv-top">
          <span class="conv-title" data-testid="conversation-title">{title}</span>
          <span class="conv-time">{fmtTime(last?.created_at || c.updated_at)}</span>
        </div>
        <div class="conv-bottom">
          <span class="conv-preview">
            {!!c.urgent_unread && <span class="mark urgent" data-testid="urgent-mark">[{t('urgent_mark')}]</span>}
            {!!c.mention_count && <span class="mark mention" data-testid="mention-mark">[{t('mention_mark')}]</span>}
            {draft ? <><span class="mark draft" data-testid="draft-mark">[{t('draft_mark')}]</span>{draft}</> : <>{who}{preview(last)}</>}
          </span>
          {c.muted && <span class="muted-icon" data-testid="muted-mark" title={t('mute')}>🔕</span>}
          {(c.unread_count ?? 0) > 0 && <span class={'unread-badge' + (c.muted ? ' muted-badge' : '')} data-testid="unread-count">{c.unread_count! > 99 ? '99+' : c.unread_count}</span>}
        </div>
      </div>
    </li>
  );
}

// ================================================================= people search results (sidebar)
export function SearchResults({ q, onDone }: { q: string; onDone: () => void }) {
  const res = usePeopleSearch(q);
  if (res == null) return <div class="muted pad">{t('loading')}</div>;
  if (!res.length) return <div class="empty-hint" data-testid="directory-empty">{t('no_results')}</div>;
  return (
    <ul class="people" data-testid="directory-results">
      {res.map((p) => <PersonRow p={p} testid="directory-result" onClick={() => { onDone(); openDirect2(p); }} />)}
    </ul>
  );
}
function openDirect2(p: Person) {
  openDirect(p.id).catch(showError);
}
