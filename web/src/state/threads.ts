// Each conversation's loaded messages, and applying messages, edits, recalls, receipts and scan verdicts.
import { get } from '../api';
import { S, changed } from './core';
import { chatShown, ensureConversation, markRead } from './conversations';
import { notify, updateTitle } from './notify';
import { removePending } from './outbox';
import type { AttachmentScannedFrame, Message, MessagePage, ReadFrame, Thread } from './types';

export function thread(id: number): Thread {
  let th = S.threads.get(id);
  if (!th) { th = { list: [], byId: new Map(), loadedAll: false, loadingOlder: false, loaded: false }; S.threads.set(id, th); }
  return th;
}

export function insert(th: Thread, m: Message): boolean {
  const old = th.byId.get(m.id);
  if (old) { Object.assign(old, m); return false; }
  th.byId.set(m.id, m);
  const l = th.list;
  if (!l.length || l[l.length - 1].seq < m.seq) l.push(m);
  else {
    let lo = 0, hi = l.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (l[mid].seq < m.seq) lo = mid + 1; else hi = mid; }
    l.splice(lo, 0, m);
  }
  return true;
}

const PAGE = 100;
export async function loadLatest(id: number) {
  const th = thread(id);
  const c = S.convs.get(id);
  const unread = c ? Math.max(0, (c.last_seq ?? 0) - (c.read_seq ?? 0)) : 0;
  const limit = Math.min(200, Math.max(50, unread + 20));
  const r = await get<MessagePage>(`/conversations/${id}/messages?limit=${limit}` + `&before_seq=${c?.last_seq ? c.last_seq + 1 : 2147483647}`);
  for (const m of r.messages) insert(th, m);
  if (r.messages.length < limit) th.loadedAll = true;
  th.loaded = true;
  await loadNewer(id);
  changed();
  markRead(id);
}

export async function loadNewer(id: number) {
  const th = thread(id);
  for (let i = 0; i < 50; i++) {
    const after = th.list.length ? th.list[th.list.length - 1].seq : 0;
    const r = await get<MessagePage>(`/conversations/${id}/messages?after_seq=${after}&limit=200`);
    let added = false;
    for (const m of r.messages) { if (insert(th, m)) { added = true; bumpSummary(m, false); } }
    if (r.messages.length < 200 || !added) break;
  }
  changed();
}

export async function loadOlder(id: number): Promise<number> {
  const th = thread(id);
  if (th.loadedAll || th.loadingOlder || !th.list.length) return 0;
  th.loadingOlder = true;
  changed();
  try {
    const first = th.list[0].seq;
    const r = await get<MessagePage>(`/conversations/${id}/messages?before_seq=${first}&limit=${PAGE}`);
    let n = 0;
    for (const m of r.messages) if (m.seq < first && insert(th, m)) n++;
    if (r.messages.length < PAGE || n === 0) th.loadedAll = true;
    return n;
  } finally {
    th.loadingOlder = false;
    changed();
  }
}

export function bumpSummary(m: Message, live: boolean) {
  const c = S.convs.get(m.conversation_id);
  if (!c) return;
  if (!c.last_message || c.last_message.seq <= m.seq) { c.last_message = m; c.last_seq = m.seq; }
  const mine = m.sender?.id === S.me?.id;
  const visible = chatShown(c.id);
  if (!mine && !visible && m.seq > (c.read_seq ?? 0) && live) {
    c.unread_count = (c.unread_count || 0) + 1;
    if (m.mentions?.includes(S.me!.id)) c.mention_count = (c.mention_count || 0) + 1;
    if (m.urgent) c.urgent_unread = (Number(c.urgent_unread) || 0) + 1;
  }
}

export function applyMessage(m: Message, live: boolean, kind: 'created' | 'edited' | 'recalled' = 'created') {
  const id = m.conversation_id;
  const th = S.threads.get(id);
  if (th && th.loaded) insert(th, m);
  else if (th) insert(th, m);
  if (m.client_id) removePending(m.client_id);
  else if (kind === 'created' && m.sender?.id === S.me?.id) {
    // Our own message echoed before the POST answered: retire the matching pending bubble.
    const p = S.outbox.find((x) => x.conversation_id === id && x.state === 'sending' && x.text === m.text);
    if (p) removePending(p.client_id);
  }
  if (kind === 'created' && m.sender && m.sender.id !== S.me?.id) {
    // Sending advances the sender's own read position on the server (without a conversation.read event):
    // mirror it so our earlier messages show as read by them.
    onRead({ conversation_id: id, user_id: m.sender.id, seq: m.seq - 1 });
  }
  if (kind === 'created') {
    if (!S.convs.has(id)) {
      // A conversation we did not know yet: its server summary already counts this message.
      ensureConversation(id).then(() => {
        const c = S.convs.get(id);
        if (c && (!c.last_message || c.last_message.seq <= m.seq)) { c.last_message = m; c.last_seq = m.seq; }
        if (live) notify(m);
        updateTitle(); changed();
      });
    }
    else {
      const c = S.convs.get(id)!;
      const isNew = !c.last_message || c.last_message.seq < m.seq;
      if (isNew) { bumpSummary(m, live); if (live) notify(m); }
    }
  } else {
    const c = S.convs.get(id);
    if (c?.last_message?.id === m.id) c.last_message = m;
  }
  if (S.openId === id) markRead(id);
  updateTitle();
  changed();
}

export function ingest(m: Message) { applyMessage(m, false); }

const receiptRefresh = new Map<number, any>();
export function onRead(f: Pick<ReadFrame, 'conversation_id' | 'user_id' | 'seq'>) {
  const id = f.conversation_id;
  const c = S.convs.get(id);
  if (f.user_id === S.me?.id) {
    if (c) { c.read_seq = Math.max(c.read_seq ?? 0, f.seq); if ((c.last_seq ?? 0) <= f.seq) { c.unread_count = 0; c.mention_count = 0; c.urgent_unread = 0; } }
    updateTitle(); changed(); return;
  }
  const th = S.threads.get(id);
  if (!th || !c) return;
  if (c.kind === 'direct') {
    for (const m of th.list) if (m.sender.id === S.me?.id && m.seq <= f.seq) {
      m.read_count = Math.max(1, m.recipient_count ?? 1);
      if (m.urgent_recipients) m.urgent_recipients.forEach((r) => { if (r.id === f.user_id) r.read = true; });
    }
    changed();
  } else {
    clearTimeout(receiptRefresh.get(id));
    receiptRefresh.set(id, setTimeout(async () => {
      const list = th.list.filter((m) => m.sender.id === S.me?.id);
      if (!list.length) return;
      const from = Math.max(0, list[list.length - 1].seq - 200);
      try {
        const r = await get<MessagePage>(`/conversations/${id}/messages?after_seq=${from}&limit=200`);
        for (const m of r.messages) insert(th, m);
        changed();
      } catch { /* ignore */ }
    }, 400));
  }
}

export function onScanned(f: AttachmentScannedFrame) {
  // A file that waited for the virus scanner has its verdict: downloadable, or not.
  const th = S.threads.get(f.conversation_id);
  const m = th?.byId.get(f.message_id);
  const a = m?.attachments?.find((x) => x.id === f.attachment_id);
  if (a) { a.scan_status = f.scan_status; changed(); }
}
