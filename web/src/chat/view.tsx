// The open conversation: header, message list, composer and its side panels.
import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n';
import { Message, S, peerOf, useStore } from '../store';
import { PersonCard } from '../directory';
import { ChatHeader } from './header';
import { MessageList } from './message_list';
import { Composer, dropTarget } from './composer';
import { MembersPanel } from './groups';
import { ConvSettings, NoticeGate } from './group_extras';
import { lazyPart } from '../lazy';

// 群文件 comes with the drive's chunk, fetched when first opened.
const GroupFilesPanel = lazyPart<{ conversationId: number; onClose: () => void }>(() => import('../drive'), 'GroupFilesPanel');

export function ChatView() {
  useStore();
  const c = S.openId != null ? S.convs.get(S.openId) : undefined;
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [panel, setPanel] = useState<'members' | 'card' | 'settings' | 'files' | null>(null);
  const [dragging, setDragging] = useState(false);
  useEffect(() => { setReplyTo(null); setEditing(null); setPanel(null); }, [S.openId]);
  if (!c) return <div class="chat-empty" data-testid="chat-empty"><div class="empty-logo" aria-hidden="true">密</div>{t('select_conversation')}</div>;
  const peer = peerOf(c);
  return (
    <section class={'chat' + (dragging ? ' dragging' : '')} data-testid="chat" data-conversation-id={c.id}
      onDragOver={(e) => { if (e.dataTransfer?.types.includes('Files')) { e.preventDefault(); if (!dragging) setDragging(true); } }}
      onDragLeave={(e) => { if (e.currentTarget === e.target) setDragging(false); }}
      onDrop={(e) => { e.preventDefault(); setDragging(false); const fs = Array.from(e.dataTransfer?.files || []); if (fs.length) dropTarget.current?.(fs); }}>
      <ChatHeader c={c} onPanel={setPanel} />
      <MessageList key={c.id} c={c} onReply={(m) => { setEditing(null); setReplyTo(m); }} onEdit={(m) => { setReplyTo(null); setEditing(m); }} />
      <Composer c={c} replyTo={replyTo} editing={editing} clear={() => { setReplyTo(null); setEditing(null); }} />
      {panel === 'members' && <MembersPanel c={c} onClose={() => setPanel(null)} />}
      {panel === 'card' && peer && <PersonCard id={peer.id} onClose={() => setPanel(null)} />}
      {panel === 'settings' && <ConvSettings c={c} onClose={() => setPanel(null)} />}
      {panel === 'files' && <GroupFilesPanel conversationId={c.id} onClose={() => setPanel(null)} />}
      <NoticeGate c={c} />
    </section>
  );
}
