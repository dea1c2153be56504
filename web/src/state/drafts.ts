// Composer drafts per conversation. They are kept on the server (PUT /drafts/{id}), never in browser
// storage, so they survive a reload; the list shows [草稿] for a conversation with one.
import { api, get } from '../api';
import { S, changed } from './core';

const timers = new Map<number, any>();
const unsaved = new Map<number, string>();

export function draftOf(id: number): string { return S.drafts.get(id) ?? ''; }

export async function loadDrafts() {
  try {
    const r = await get<{ drafts: Record<string, string> }>('/drafts');
    for (const [id, text] of Object.entries(r.drafts)) if (!S.drafts.has(Number(id))) S.drafts.set(Number(id), text);
    S.draftRestored++;
    changed();
  } catch { /* administrators without chat: no drafts */ }
}

function save(id: number) {
  clearTimeout(timers.get(id)); timers.delete(id);
  if (!unsaved.has(id)) return;
  const text = unsaved.get(id)!; unsaved.delete(id);
  api('PUT', `/drafts/${id}`, { text }, { quiet: true }).catch(() => {});
}

export function setDraft(id: number, text: string) {
  const had = S.drafts.has(id);
  if (text) S.drafts.set(id, text); else S.drafts.delete(id);
  if (had !== !!text) changed(); // the list's [草稿] mark
  unsaved.set(id, text);
  clearTimeout(timers.get(id));
  timers.set(id, setTimeout(() => save(id), text ? 800 : 0));
}

/** Give text back to the composer (a blocked or suspended send), keeping anything typed since. */
export function restoreDraft(id: number, text: string) {
  const now = draftOf(id);
  setDraft(id, now && now !== text ? text + '\n' + now : text);
  S.draftRestored++;
  changed();
}

// Leaving or reloading the page: what was typed in the last moment still reaches the server.
addEventListener('pagehide', () => {
  for (const [id, text] of unsaved) {
    try { fetch(`/api/v1/drafts/${id}`, { method: 'PUT', keepalive: true, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) }); } catch { /* best effort */ }
  }
  unsaved.clear();
});
