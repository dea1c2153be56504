// Searching one's own messages (GET /search/messages) and opening a hit in its conversation: the
// conversation is loaded back to the hit (no gaps in a thread), then the list scrolls to it, highlighted.
import { get } from '../api';
import { S, changed, showError } from './core';
import { openConversation } from './conversations';
import { insert, thread } from './threads';
import type { Message } from './types';

export type SearchHit = { message_id: number; conversation_id: number; seq: number; sender: { id: number; name: string }; text: string; created_at: string };

export async function searchMessages(q: string, limit = 50): Promise<SearchHit[]> {
  const r = await get<{ results: SearchHit[] }>(`/search/messages?q=${encodeURIComponent(q)}&limit=${limit}`);
  return r.results;
}

async function untilLoaded(id: number) {
  for (let i = 0; i < 200 && !thread(id).loaded; i++) await new Promise((r) => setTimeout(r, 25));
}

export async function openMessage(hit: SearchHit) {
  const id = hit.conversation_id;
  S.focus = { conversation_id: id, message_id: hit.message_id, at: Date.now() };
  openConversation(id);
  try {
    await untilLoaded(id);
    const th = thread(id);
    // Page back from the oldest loaded message to a little before the hit.
    while (!th.loadedAll && th.list.length && th.list[0].seq > hit.seq - 20) {
      const first = th.list[0].seq;
      const r = await get<{ messages: Message[] }>(`/conversations/${id}/messages?before_seq=${first}&limit=200`);
      for (const m of r.messages) insert(th, m);
      if (r.messages.length < 200) th.loadedAll = true;
      if (!r.messages.length) break;
    }
    changed();
  } catch (e) { showError(e); }
}
