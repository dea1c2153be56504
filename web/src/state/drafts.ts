// Composer drafts per conversation. The composer reads them on open; a refused send puts its text back.
import { S, changed } from './core';

export function draftOf(id: number): string { return S.drafts.get(id) ?? ''; }

export function setDraft(id: number, text: string) {
  if (text) S.drafts.set(id, text); else S.drafts.delete(id);
}

/** Give text back to the composer (a blocked or suspended send), keeping anything typed since. */
export function restoreDraft(id: number, text: string) {
  const now = draftOf(id);
  setDraft(id, now && now !== text ? text + '\n' + now : text);
  S.draftRestored++;
  changed();
}
