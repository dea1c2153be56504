// DLP dialogs: a refused send, a warning to confirm, a suspension, and the escalation notices the server
// sends (dlp.violation_notice) to the person concerned and to their unit head. A notice that arrives while
// the dialog for the block that caused it is open joins that dialog instead of stacking a second one.
import { S, changed } from './core';
import type { Dlp, DlpNotice } from './types';

const queue: Dlp[] = [];
// The notice caused by a block can arrive on the socket before the HTTP answer that carries the block:
// it waits a moment for that dialog to join.
let held: { notice: DlpNotice; timer: any } | null = null;

export function openDlp(d: Dlp) {
  if (d.kind === 'blocked' && held) { d.notice = held.notice; clearTimeout(held.timer); held = null; }
  if (S.dlp) {
    if (d.kind === 'notice' && S.dlp.kind === 'blocked' && !S.dlp.notice && d.notice?.user_id === S.me?.id) { S.dlp.notice = d.notice; changed(); return; }
    queue.push(d);
    return;
  }
  S.dlp = d;
  changed();
}

/** Close the current dialog; the next queued one (if any) shows. */
export function nextDlp() {
  S.dlp = queue.shift() ?? null;
  changed();
}

export function onViolationNotice(n: DlpNotice) {
  if (n.user_id === S.me?.id && !S.dlp && !held) {
    held = { notice: n, timer: setTimeout(() => { const h = held; held = null; if (h) openDlp({ kind: 'notice', message: '', findings: [], notice: h.notice }); }, 1500) };
    return;
  }
  openDlp({ kind: 'notice', message: '', findings: [], notice: n });
}
