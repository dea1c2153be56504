// The open conversation's header: its title, the other person's status or the member count.
import { t } from '../i18n';
import { Conversation, convTitle, openConversation, peerOf } from '../store';
import { statusOf } from '../directory';
import { Icon, StatusDot } from '../ui';

export function ChatHeader({ c, onPanel }: { c: Conversation; onPanel: (p: 'members' | 'card' | 'settings' | 'files') => void }) {
  const peer = peerOf(c);
  return (
    <header class="chat-head">
      <button class="icon-btn back" data-testid="back" aria-label={t('back')} title={t('back')} onClick={() => openConversation(null)}><Icon name="back" size={22} /></button>
      <div class="chat-title">
        <h2 data-testid="chat-title">{convTitle(c)}</h2>
        {peer ? (
          <button class="link sub" data-testid="chat-peer-card" onClick={() => onPanel('card')}><StatusDot status={statusOf(peer)} /> <span data-testid="chat-status">{t(statusOf(peer))}</span></button>
        ) : (
          <span class="sub">{c.members.length} {t('members')}</span>
        )}
      </div>
      {c.kind === 'group' && <button class="ghost" data-testid="group-files-button" title={t('group_files')} onClick={() => onPanel('files')}>{t('group_files')}</button>}
      {c.kind === 'group' && <button class="ghost" data-testid="group-manage" onClick={() => onPanel('members')}>{t('members')}</button>}
      <button class="ghost" data-testid="conv-settings-button" title={t('conv_settings')} onClick={() => onPanel('settings')}>⋯</button>
    </header>
  );
}
