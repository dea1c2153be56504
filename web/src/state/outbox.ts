// Sending: the outbox keeps unsent messages in order and resends them with the same client_id.
import { ApiError, post, uuid } from '../api';
import { t } from '../i18n';
import { S, changed, toast } from './core';
import { applyMessage } from './threads';
import { nextDlp, openDlp } from './dlp';
import { restoreDraft } from './drafts';
import type { Message, Pending } from './types';

// The sender learns that what the group received was masked, and what was masked.
function toldMasked(m: Message) {
  const what = (m.dlp?.findings || []).map((f: any) => String(f.masked ?? '')).filter(Boolean).join('、');
  toast(what ? t('dlp_masked_sent_what', { what }) : t('dlp_masked_sent'), 'info');
}

export function pendingFor(id: number) { return S.outbox.filter((p) => p.conversation_id === id); }
export function removePending(client_id: string) {
  const i = S.outbox.findIndex((p) => p.client_id === client_id);
  if (i >= 0) { S.outbox.splice(i, 1); changed(); }
}

export function sendText(conversation_id: number, text: string, urgent: boolean, reply_to?: number) {
  const p: Pending = { client_id: uuid(), conversation_id, text, urgent, reply_to, state: 'sending', created_at: new Date().toISOString() };
  S.outbox.push(p);
  changed();
  flushOutbox();
}

let flushing = false;
let flushAgain = false;
export async function flushOutbox() {
  if (flushing) { flushAgain = true; return; }
  flushing = true;
  try {
    do {
      flushAgain = false;
      for (const p of [...S.outbox]) {
        if (p.state === 'failed' || !S.outbox.includes(p)) continue;
        p.state = 'sending'; changed();
        try {
          const body: any = { text: p.text, client_id: p.client_id };
          if (p.urgent) body.urgent = true;
          if (p.reply_to) body.reply_to = p.reply_to;
          if (p.confirm) body.confirm = true;
          const m = await post<Message>(`/conversations/${p.conversation_id}/messages`, body);
          removePending(p.client_id);
          if (m?.dlp?.action === 'mask') toldMasked(m);
          if (m && m.id) applyMessage({ ...m, conversation_id: m.conversation_id ?? p.conversation_id }, false);
          const c = S.convs.get(p.conversation_id);
          if (c && m && (!c.last_message || c.last_message.seq <= m.seq)) { c.last_message = m; c.last_seq = m.seq; }
        } catch (e) {
          if (e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.status === 429)) {
            // Offline or the server is restarting: keep this and every later message queued, in order,
            // and resend them with the same client_id (the server deduplicates).
            for (const q of S.outbox) if (q.state !== 'failed') q.state = 'queued';
            changed();
            scheduleRetry();
            flushAgain = false;
            return;
          }
          p.state = 'failed';
          p.error = e instanceof ApiError ? e.message : t('send_failed');
          if (e instanceof ApiError && (e.code === 'dlp_blocked' || e.code === 'dlp_confirm_required')) {
            openDlp({ kind: e.code === 'dlp_blocked' ? 'blocked' : 'confirm', message: e.message, findings: e.detail.findings || [], pending: p });
            // A blocked message was sent to no one: its text goes back to the composer to be fixed.
            if (e.code === 'dlp_blocked') { removePending(p.client_id); restoreDraft(p.conversation_id, p.text); }
          } else if (e instanceof ApiError && e.code === 'sending_suspended') {
            openDlp({ kind: 'suspended', message: e.message, findings: [], until: e.detail.suspended_until });
            removePending(p.client_id); restoreDraft(p.conversation_id, p.text);
          }
          changed();
        }
      }
    } while (flushAgain);
  } finally {
    flushing = false;
  }
}
let retryTimer: any;
function scheduleRetry() { clearTimeout(retryTimer); retryTimer = setTimeout(() => flushOutbox(), 3000); }

export function confirmDlp() {
  const d = S.dlp; nextDlp();
  if (d?.kind !== 'confirm') { changed(); return; }
  if (d?.retry) d.retry();
  if (d?.pending) { d.pending.confirm = true; d.pending.state = 'sending'; if (!S.outbox.includes(d.pending)) S.outbox.push(d.pending); flushOutbox(); }
  changed();
}
export function cancelDlp() {
  const d = S.dlp; nextDlp();
  if (d?.kind === 'confirm' && d.pending) { removePending(d.pending.client_id); restoreDraft(d.pending.conversation_id, d.pending.text); }
  changed();
}
export function retryPending(p: Pending) { p.state = 'sending'; p.error = undefined; flushOutbox(); }
export function dropPending(p: Pending) { removePending(p.client_id); }
