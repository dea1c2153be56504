// Group life and message actions in the store: system lines (系统消息), per-person 置顶 / 消息免打扰,
// 群公告 read state, dissolution, reactions, and the multi-select of messages.
import { api, get, post } from '../api';
import { S, changed, showError } from './core';
import { thread } from './threads';
import type { ConversationPrefs, SystemLine as SystemLineShape } from '../api-types';
import type { Conversation, Frame, Message } from './types';

const put = <T = any>(p: string, b: unknown) => api<T>('PUT', p, b);

export type SystemLine = SystemLineShape;
export type Reaction = { emoji: string; users: { id: number; name: string }[] };

export const G = {
  system: new Map<number, SystemLine[]>(), // by conversation, oldest first
  systemLoaded: new Set<number>(),
  selecting: null as number | null, // the conversation whose messages are being picked
  selected: new Set<number>(),
  dissolved: new Set<number>(),
};

function addLines(lines: SystemLine[] | undefined) {
  if (!lines || !lines.length) return;
  for (const l of lines) {
    const list = G.system.get(l.conversation_id) ?? [];
    if (!list.some((x) => x.id === l.id)) { list.push(l); list.sort((a, b) => a.id - b.id); }
    G.system.set(l.conversation_id, list);
  }
  changed();
}

export async function loadSystem(id: number) {
  const c = S.convs.get(id);
  if (!c || c.kind !== 'group' || G.systemLoaded.has(id)) return;
  G.systemLoaded.add(id);
  try { const r = await get<{ system: SystemLine[] }>(`/conversations/${id}/system`); addLines(r.system); } catch { G.systemLoaded.delete(id); }
}

/** Read the system lines again (after a (re)connect: lines written meanwhile may never arrive live). */
export function reloadSystem(id: number) {
  G.systemLoaded.delete(id);
  return loadSystem(id);
}

/** Group-life parts of an event frame (called by the realtime router for every frame). */
export function onGroupEvent(f: Frame) {
  if ('system' in f && Array.isArray(f.system)) addLines(f.system);
  const nv = f.type === 'conversation.updated' ? f.conversation.notice : null;
  if (f.type === 'conversation.updated' && nv) {
    // A new 群公告 from someone else: shown to us once (the server keeps who has opened it).
    const c = S.convs.get(f.conversation.id);
    if (c && (c.notice?.version ?? 0) < nv.version && nv.by?.id !== S.me?.id) c.notice_unread = true;
  }
  switch (f.type) {
    case 'conversation.prefs': {
      const c = S.convs.get(f.conversation_id);
      if (c) { c.pinned = f.pinned; c.muted = f.muted; c.notice_unread = f.notice_unread; changed(); }
      break;
    }
    case 'conversation.dissolved':
      G.dissolved.add(f.conversation_id);
      S.convs.delete(f.conversation_id);
      if (S.openId === f.conversation_id) S.openId = null;
      changed();
      break;
    case 'message.reactions': {
      const m = thread(f.conversation_id).byId.get(f.message_id);
      if (m) { m.reactions = f.reactions; changed(); }
      break;
    }
    default: break;
  }
}

export async function setPrefs(c: Conversation, prefs: { pinned?: boolean; muted?: boolean }) {
  try {
    const r = await put<ConversationPrefs>(`/conversations/${c.id}/prefs`, prefs);
    c.pinned = r.pinned; c.muted = r.muted; changed();
  } catch (e) { showError(e); }
}

export async function noticeSeen(c: Conversation) {
  c.notice_unread = false; changed();
  try { await post(`/conversations/${c.id}/notice/seen`, { version: c.notice?.version ?? 0 }); } catch { /* shown again next time */ }
}

export async function react(m: Message, emoji: string) {
  const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.users.some((u) => u.id === S.me?.id));
  try {
    const r = await post<{ reactions: Reaction[] }>(`/messages/${m.id}/reactions`, { emoji, on: !mine });
    m.reactions = r.reactions; changed();
  } catch (e) { showError(e); }
}

export function startSelect(c: number, first?: number) {
  G.selecting = c; G.selected = new Set(first != null ? [first] : []); changed();
}
export function toggleSelect(id: number) {
  if (G.selected.has(id)) G.selected.delete(id); else G.selected.add(id);
  changed();
}
export function endSelect() { G.selecting = null; G.selected = new Set(); changed(); }
