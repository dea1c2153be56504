// The conversation list, which conversation is open, and read positions.
import { ApiError, get, post } from '../api';
import { S, changed, showError } from './core';
import { updateTitle } from './notify';
import { isAdminOnly } from './session';
import { loadLatest, thread } from './threads';
import { presenceMissing } from './presence';
import type { Conversation, ConversationPublic, Member } from './types';

export function convTitle(c: Conversation): string {
  if (c.kind === 'group') return c.name || c.members.map((m) => m.name).join('、');
  const other = c.members.find((m) => m.id !== S.me?.id);
  return other?.name || c.name || S.me?.name || '';
}
export function peerOf(c: Conversation): Member | undefined {
  return c.kind === 'direct' ? c.members.find((m) => m.id !== S.me?.id) : undefined;
}

export async function loadConversations() {
  if (isAdminOnly(S.me) && !S.me!.unit) { S.convsLoaded = true; changed(); return; }
  try {
    const r = await get<{ conversations: Conversation[] }>('/conversations?limit=200');
    const next = new Map<number, Conversation>();
    for (const c of r.conversations) {
      const old = S.convs.get(c.id);
      if (old && S.openId === c.id) c.unread_count = 0;
      next.set(c.id, c);
    }
    S.convs = next;
    presenceMissing(r.conversations.flatMap((c) => c.members.map((m) => m.id)));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
  }
  S.convsLoaded = true;
  updateTitle();
  changed();
}

// An event carries the conversation's public part only (ConversationPublic): it updates what is known.
export async function ensureConversation(id: number, c?: Conversation | ConversationPublic) {
  if (c) { S.convs.set(id, { ...S.convs.get(id), ...c } as Conversation); presenceMissing(c.members?.map((m) => m.id) ?? []); changed(); return; }
  if (S.convs.has(id)) return;
  try { const conv = await get<Conversation>(`/conversations/${id}`); S.convs.set(id, conv); changed(); } catch { /* ignore */ }
}

export function sortedConversations(): Conversation[] {
  const ts = (c: Conversation) => c.last_message?.created_at || c.updated_at || '';
  // 置顶 first, each part newest first.
  return [...S.convs.values()].sort((a, b) => (Number(!!b.pinned) - Number(!!a.pinned)) || (ts(b) > ts(a) ? 1 : ts(b) < ts(a) ? -1 : b.id - a.id));
}

export async function openDirect(userId: number) {
  const c = await post<Conversation>('/conversations', { kind: 'direct', members: [userId] });
  S.convs.set(c.id, { ...S.convs.get(c.id), ...c, unread_count: S.convs.get(c.id)?.unread_count ?? 0 });
  presenceMissing(c.members.map((m) => m.id));
  openConversation(c.id);
}

export function openConversation(id: number | null) {
  S.openId = id;
  if (id != null) {
    S.tab = 'chats';
    const c = S.convs.get(id);
    S.sepFrom = { id, seq: c && c.unread_count ? (c.read_seq ?? 0) : Number.MAX_SAFE_INTEGER };
  }
  changed();
  if (id != null) {
    const th = thread(id);
    if (!th.loaded) loadLatest(id).catch(showError);
    else markRead(id);
  }
}

// Narrow screens show either the list or the open conversation, never both.
export const narrowScreen = typeof matchMedia === 'function' ? matchMedia('(max-width: 760px)') : null;

/** Whether the conversation is on screen: only then may it be marked read. */
export function chatShown(id: number): boolean {
  if (S.openId !== id || document.hidden || S.locked) return false;
  return S.tab === 'chats' || (S.tab === 'contacts' && !narrowScreen?.matches);
}

export function setTab(tab: typeof S.tab) {
  S.tab = tab;
  changed();
  if (S.openId != null) markRead(S.openId);
}

const readTimers = new Map<number, any>();
export function markRead(id: number) {
  const c = S.convs.get(id);
  const th = S.threads.get(id);
  if (!c || !th || !th.list.length || !chatShown(id)) return;
  const seq = th.list[th.list.length - 1].seq;
  if ((c.read_seq ?? 0) >= seq && !c.unread_count) return;
  c.read_seq = Math.max(c.read_seq ?? 0, seq);
  c.unread_count = 0; c.mention_count = 0; c.urgent_unread = 0;
  updateTitle();
  changed();
  clearTimeout(readTimers.get(id));
  readTimers.set(id, setTimeout(() => { post(`/conversations/${id}/read`, { seq }).catch(() => {}); }, 300));
}

document.addEventListener('visibilitychange', () => { if (!document.hidden && S.openId != null) markRead(S.openId); });
narrowScreen?.addEventListener?.('change', () => { if (S.openId != null) markRead(S.openId); });
