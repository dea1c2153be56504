// The unread count in the window title and desktop notifications.
import { t } from '../i18n';
import { S } from './core';
import { openConversation } from './conversations';
import type { Message } from './types';

export function totalUnread() { let n = 0; S.convs.forEach((c) => { if (!c.muted) n += c.unread_count || 0; }); return n; }
export function updateTitle() {
  const n = totalUnread();
  document.title = n > 0 ? t('new_messages_title', { n: n > 99 ? '99+' : n }) : t('app_name');
}

export function notify(m: Message) {
  if (!S.me || m.sender?.id === S.me.id) return;
  if (!document.hidden && S.openId === m.conversation_id) return;
  // 消息免打扰: no notification, unless the message mentions us (@所有人 included) or is urgent.
  if (S.convs.get(m.conversation_id)?.muted && !m.urgent && !m.mentions?.includes(S.me.id)) return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || S.locked) return;
  try {
    const body = m.recalled ? '' : m.kind === 'image' ? t('image_message') : m.attachments?.length && !m.text ? t('file_message') : m.text.slice(0, 80);
    const n = new Notification(t('notification_new', { name: m.sender.name }), { body, tag: 'mixun-' + m.conversation_id, silent: false });
    n.onclick = () => { window.focus(); openConversation(m.conversation_id); n.close(); };
  } catch { /* some browsers need a service worker */ }
}
