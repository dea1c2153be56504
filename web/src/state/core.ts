// The one in-memory store, its change notification and the toast. Message content is never written
// to localStorage, sessionStorage or IndexedDB.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { t } from '../i18n';
import type { ClientConfig, Conversation, Dlp, Me, Pending, Thread } from './types';

export const S = {
  tab: 'chats' as 'chats' | 'contacts' | 'me' | 'admin' | 'announcements' | 'drive',
  phase: 'boot' as 'boot' | 'login' | 'password' | 'totp' | 'rules' | 'main',
  me: null as Me | null,
  config: {} as ClientConfig,
  locked: false,
  convs: new Map<number, Conversation>(),
  convsLoaded: false,
  openId: null as number | null,
  sepFrom: null as { id: number; seq: number } | null,
  threads: new Map<number, Thread>(),
  outbox: [] as Pending[],
  conn: 'connecting' as 'connecting' | 'online' | 'reconnecting',
  everOnline: false,
  lastEventSeq: null as number | null,
  presence: new Map<number, string>(),
  toast: null as { text: string; kind?: 'error' | 'info' } | null,
  dlp: null as Dlp | null,
  drafts: new Map<number, string>(),
  draftRestored: 0,
  focus: null as { conversation_id: number; message_id: number; at: number } | null,
  version: 0,
};

const listeners = new Set<() => void>();
let scheduled = false;
export function changed() {
  S.version++;
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => { scheduled = false; listeners.forEach((f) => f()); });
}
export function useStore() {
  const [, set] = useState(0);
  useEffect(() => { const f = () => set((x) => x + 1); listeners.add(f); return () => { listeners.delete(f); }; }, []);
  return S;
}

let toastTimer: any;
export function toast(text: string, kind: 'error' | 'info' = 'info') {
  S.toast = { text, kind };
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { S.toast = null; changed(); }, 5000);
  changed();
}
export function showError(e: unknown) {
  toast(e instanceof ApiError ? e.message : t('error_generic'), 'error');
}
