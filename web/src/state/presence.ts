// Presence: a snapshot of every contact's status on each (re)connect, live changes on top. Changes are
// live-only events, so without the snapshot anyone who came online before we did would show as offline.
import { get } from '../api';
import { S, changed } from './core';
import type { Presence } from '../api-types';

let asked = 0;
const changedAt = new Map<number, number>();

export function onPresenceChanged(userId: number, status: string) {
  S.presence.set(userId, status);
  changedAt.set(userId, Date.now());
  changed();
}

export async function refreshPresence() {
  const started = Date.now();
  asked = started;
  try {
    const r = await get<Presence>('/presence');
    if (asked !== started) return; // a newer snapshot is on its way
    for (const [id, status] of Object.entries(r.presence)) {
      const uid = Number(id);
      // A live change that arrived while the snapshot was in flight is newer than the snapshot.
      if ((changedAt.get(uid) ?? 0) >= started) continue;
      S.presence.set(uid, status);
    }
    changed();
  } catch { /* admins without contacts, or offline: live events still apply */ }
}

// A conversation with someone who was not yet a contact: their status is not in the snapshot.
let pendingRefresh: any;
export function presenceMissing(ids: number[]) {
  if (!ids.some((id) => id !== S.me?.id && !S.presence.has(id))) return;
  clearTimeout(pendingRefresh);
  pendingRefresh = setTimeout(refreshPresence, 200);
}
