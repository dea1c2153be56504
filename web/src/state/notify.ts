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

// Notification preferences (not content) are kept in localStorage, like the language.
export type NotifyPrefs = { sound: boolean; hideText: boolean };
export function notifyPrefs(): NotifyPrefs {
  try { return { sound: true, hideText: false, ...JSON.parse(localStorage.getItem('mixun.notify') || '{}') }; } catch { return { sound: true, hideText: false }; }
}
export function setNotifyPrefs(p: NotifyPrefs) {
  try { localStorage.setItem('mixun.notify', JSON.stringify(p)); } catch { /* storage unavailable */ }
}

let audio: AudioContext | null = null;
/** A short two-tone chime, made on the spot (no sound file to load). */
export function chime() {
  (window as any).__mixunChimes = ((window as any).__mixunChimes || 0) + 1; // lets browser tests see it rang
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    [880, 1320].forEach((f, i) => {
      const o = audio!.createOscillator(); const g = audio!.createGain();
      o.frequency.value = f; g.gain.setValueAtTime(0.0001, now + i * 0.12);
      g.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02); g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
      o.connect(g).connect(audio!.destination); o.start(now + i * 0.12); o.stop(now + i * 0.12 + 0.3);
    });
  } catch { /* no audio device */ }
}

export function notify(m: Message) {
  if (!S.me || m.sender?.id === S.me.id || S.locked) return;
  if (!document.hidden && S.openId === m.conversation_id && S.tab === 'chats') return;
  // 消息免打扰: no notification, unless the message mentions us (@所有人 included) or is urgent.
  if (S.convs.get(m.conversation_id)?.muted && !m.urgent && !m.mentions?.includes(S.me.id)) return;
  const prefs = notifyPrefs();
  if (prefs.sound) chime();
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    const body = prefs.hideText ? t('notify_hidden_body') : m.recalled ? '' : m.kind === 'image' ? t('image_message') : m.attachments?.length && !m.text ? t('file_message') : m.text.slice(0, 80);
    const n = new Notification(t('notification_new', { name: m.sender.name }), { body, tag: 'mixun-' + m.conversation_id, silent: prefs.sound });
    n.onclick = () => { window.focus(); openConversation(m.conversation_id); n.close(); };
  } catch { /* some browsers need a service worker */ }
}
