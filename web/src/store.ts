// Application state, the WebSocket connection and the outbox. Everything lives in memory only:
// message content is never written to localStorage, sessionStorage or IndexedDB.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, get, onAuthProblem, post, uuid } from './api';
import { t } from './i18n';

export type Me = {
  id: number; username: string; name: string; employee_no?: string; phone?: string; unit?: string; unit_id?: number;
  position?: string; status?: string; roles: string[]; totp_enabled?: boolean; must_change_password?: boolean; must_enroll_totp?: boolean;
  locked?: boolean;
};
export type Member = { id: number; name: string; role?: string };
export type Attachment = { id: number; kind?: string; mime?: string; size?: number; width?: number; height?: number; name?: string; filename?: string; scan_status?: string };
export type Message = {
  id: number; conversation_id: number; seq: number; sender: { id: number; name: string }; text: string; created_at: string;
  kind?: string; edited?: boolean; edited_at?: string; recalled?: boolean; urgent?: boolean; reply_to?: number | null | { id: number };
  mentions?: number[]; attachments?: Attachment[]; read_count?: number; recipient_count?: number; client_id?: string;
  urgent_recipients?: { id: number; name: string; phone?: string; read?: boolean }[]; dlp?: { action?: string; findings?: any[] } | null;
};
export type Conversation = {
  id: number; kind: 'direct' | 'group'; name?: string; members: Member[]; my_role?: string; unread_count: number;
  mention_count?: number; urgent_unread?: number | boolean; last_message?: Message | null; last_seq?: number; read_seq?: number; updated_at?: string;
};
export type Pending = {
  client_id: string; conversation_id: number; text: string; urgent: boolean; reply_to?: number; confirm?: boolean;
  state: 'sending' | 'queued' | 'failed'; error?: string; created_at: string;
};
export type Thread = { list: Message[]; byId: Map<number, Message>; loadedAll: boolean; loadingOlder: boolean; loaded: boolean };
export type ClientConfig = { idle_lock_minutes?: number; locale?: string; max_message_length?: number; max_file_bytes?: number; antivirus?: string; files_without_scanner?: string };
export type Dlp = { kind: 'blocked' | 'confirm'; message: string; findings: any[]; pending?: Pending; retry?: () => void };

export const S = {
  tab: 'chats' as 'chats' | 'contacts' | 'me' | 'admin',
  phase: 'boot' as 'boot' | 'login' | 'password' | 'totp' | 'main',
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

// ---------------------------------------------------------------- session
onAuthProblem((e) => {
  if (e.status === 401) { resetSession(); S.phase = 'login'; changed(); }
  else if (e.code === 'password_change_required') { S.phase = 'password'; changed(); }
  else if (e.code === 'totp_enrollment_required') { S.phase = 'totp'; changed(); }
});

// The scanner's state can change while the client runs; the composer re-reads it before each file.
export async function refreshConfig() {
  try { S.config = await get<ClientConfig>('/client-config'); changed(); } catch { /* keep the last one */ }
}

export async function boot() {
  try { S.config = await get<ClientConfig>('/client-config'); } catch { S.config = {}; }
  try {
    S.me = await api<Me>('GET', '/me', undefined, { quiet: true });
    afterAuth();
  } catch {
    S.phase = 'login';
  }
  changed();
}

export function afterAuth() {
  const me = S.me!;
  if (me.locked) { S.phase = 'main'; S.locked = true; } // locked on the server: the lock screen only
  else if (me.must_change_password) S.phase = 'password';
  else if (me.must_enroll_totp) S.phase = 'totp';
  else { S.phase = 'main'; startRealtime(); }
  changed();
}

export async function reloadMe() {
  S.me = await get<Me>('/me');
  afterAuth();
}

export function isAdminOnly(me: Me | null) {
  if (!me) return false;
  return me.roles.some((r) => r === 'sysadmin' || r === 'secadmin' || r === 'auditor');
}

export function resetSession() {
  stopRealtime();
  S.me = null; S.convs = new Map(); S.threads = new Map(); S.outbox = []; S.openId = null; S.convsLoaded = false;
  S.lastEventSeq = null; S.everOnline = false; S.tab = 'chats'; S.locked = false; S.dlp = null; S.presence = new Map();
  updateTitle();
}

export async function logout() {
  try { await post('/auth/logout'); } catch { /* already gone */ }
  resetSession(); S.phase = 'login'; changed();
}

// ---------------------------------------------------------------- conversations
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
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
  }
  S.convsLoaded = true;
  updateTitle();
  changed();
}

async function ensureConversation(id: number, c?: Conversation) {
  if (c) { S.convs.set(id, { ...S.convs.get(id), ...c }); changed(); return; }
  if (S.convs.has(id)) return;
  try { const conv = await get<Conversation>(`/conversations/${id}`); S.convs.set(id, conv); changed(); } catch { /* ignore */ }
}

export function sortedConversations(): Conversation[] {
  const ts = (c: Conversation) => c.last_message?.created_at || c.updated_at || '';
  return [...S.convs.values()].sort((a, b) => (ts(b) > ts(a) ? 1 : ts(b) < ts(a) ? -1 : b.id - a.id));
}

export async function openDirect(userId: number) {
  const c = await post<Conversation>('/conversations', { kind: 'direct', members: [userId] });
  S.convs.set(c.id, { ...S.convs.get(c.id), ...c, unread_count: S.convs.get(c.id)?.unread_count ?? 0 });
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

export function thread(id: number): Thread {
  let th = S.threads.get(id);
  if (!th) { th = { list: [], byId: new Map(), loadedAll: false, loadingOlder: false, loaded: false }; S.threads.set(id, th); }
  return th;
}

function insert(th: Thread, m: Message): boolean {
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
  const r = await get<{ messages: Message[] }>(`/conversations/${id}/messages?limit=${limit}` + `&before_seq=${c?.last_seq ? c.last_seq + 1 : 2147483647}`);
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
    const r = await get<{ messages: Message[] }>(`/conversations/${id}/messages?after_seq=${after}&limit=200`);
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
    const r = await get<{ messages: Message[] }>(`/conversations/${id}/messages?before_seq=${first}&limit=${PAGE}`);
    let n = 0;
    for (const m of r.messages) if (m.seq < first && insert(th, m)) n++;
    if (r.messages.length < PAGE || n === 0) th.loadedAll = true;
    return n;
  } finally {
    th.loadingOlder = false;
    changed();
  }
}

const readTimers = new Map<number, any>();
export function markRead(id: number) {
  const c = S.convs.get(id);
  const th = S.threads.get(id);
  if (!c || !th || !th.list.length || S.locked || document.hidden) return;
  const seq = th.list[th.list.length - 1].seq;
  if ((c.read_seq ?? 0) >= seq && !c.unread_count) return;
  c.read_seq = Math.max(c.read_seq ?? 0, seq);
  c.unread_count = 0; c.mention_count = 0; c.urgent_unread = 0;
  updateTitle();
  changed();
  clearTimeout(readTimers.get(id));
  readTimers.set(id, setTimeout(() => { post(`/conversations/${id}/read`, { seq }).catch(() => {}); }, 300));
}

function bumpSummary(m: Message, live: boolean) {
  const c = S.convs.get(m.conversation_id);
  if (!c) return;
  if (!c.last_message || c.last_message.seq <= m.seq) { c.last_message = m; c.last_seq = m.seq; }
  const mine = m.sender?.id === S.me?.id;
  const visible = S.openId === c.id && !document.hidden && !S.locked;
  if (!mine && !visible && m.seq > (c.read_seq ?? 0) && live) {
    c.unread_count = (c.unread_count || 0) + 1;
    if (m.mentions?.includes(S.me!.id)) c.mention_count = (c.mention_count || 0) + 1;
    if (m.urgent) c.urgent_unread = (Number(c.urgent_unread) || 0) + 1;
  }
}

function applyMessage(m: Message, live: boolean, kind: 'created' | 'edited' | 'recalled' = 'created') {
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

// ---------------------------------------------------------------- sending
export function pendingFor(id: number) { return S.outbox.filter((p) => p.conversation_id === id); }
function removePending(client_id: string) {
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
            S.dlp = { kind: e.code === 'dlp_blocked' ? 'blocked' : 'confirm', message: e.message, findings: e.detail.findings || [], pending: p };
            if (e.code === 'dlp_blocked') removePending(p.client_id);
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
  const d = S.dlp; S.dlp = null;
  if (d?.retry) d.retry();
  if (d?.pending) { d.pending.confirm = true; d.pending.state = 'sending'; if (!S.outbox.includes(d.pending)) S.outbox.push(d.pending); flushOutbox(); }
  changed();
}
export function cancelDlp() {
  const d = S.dlp; S.dlp = null;
  if (d?.pending) removePending(d.pending.client_id);
  changed();
  return d?.pending?.text;
}
export function retryPending(p: Pending) { p.state = 'sending'; p.error = undefined; flushOutbox(); }
export function dropPending(p: Pending) { removePending(p.client_id); }

// ---------------------------------------------------------------- realtime
let ws: WebSocket | null = null;
let wsTimer: any;
let backoff = 500;
let running = false;
let pingTimer: any;

export function startRealtime() {
  if (running) return;
  running = true;
  S.conn = 'connecting';
  connect();
  loadConversations().catch(showError);
}
export function stopRealtime() {
  running = false;
  clearTimeout(wsTimer); clearInterval(pingTimer);
  if (ws) { ws.onclose = null; ws.close(); ws = null; }
}

function connect() {
  if (!running) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let sock: WebSocket;
  try { sock = new WebSocket(`${proto}//${location.host}/api/v1/ws`); } catch { retry(); return; }
  ws = sock;
  sock.onmessage = (ev) => { let f: any; try { f = JSON.parse(ev.data); } catch { return; } onFrame(f); };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null; clearInterval(pingTimer);
    if (!running) return;
    if (ev.code === 4023) { stopRealtime(); S.locked = true; changed(); return; } // locked (another tab?)
    S.conn = S.everOnline ? 'reconnecting' : 'connecting';
    changed();
    if (ev.code === 4401 || ev.code === 4001 || ev.code === 1008) {
      // Possibly the session ended: ask the server (a 401 sends us to the login page).
      get('/me').then(() => retry(), () => {});
      return;
    }
    retry();
  };
}
function retry() {
  clearTimeout(wsTimer);
  wsTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

function onFrame(f: any) {
  if (f.type === 'hello') {
    backoff = 500;
    const wasOnline = S.everOnline;
    if (S.lastEventSeq == null) S.lastEventSeq = f.last_event_seq ?? 0;
    else if (typeof f.last_event_seq === 'number' && f.last_event_seq < S.lastEventSeq) {
      // The server's counter went backwards (e.g. restored data): start over from it, reload by HTTP.
      S.lastEventSeq = f.last_event_seq;
    }
    else ws?.send(JSON.stringify({ type: 'resume', after_event_seq: S.lastEventSeq }));
    S.conn = 'online'; S.everOnline = true;
    clearInterval(pingTimer);
    pingTimer = setInterval(() => { try { ws?.send(JSON.stringify({ type: 'ping' })); } catch { /* closed */ } }, 25000);
    changed();
    if (wasOnline) {
      // Belt and braces after a reconnect: refresh the list and the open conversation (dedupe by id).
      loadConversations().catch(() => {});
      if (S.openId != null && S.threads.get(S.openId)?.loaded) loadNewer(S.openId).catch(() => {});
    }
    flushOutbox();
    return;
  }
  if (f.type === 'pong' || f.type === 'error') return;
  if (typeof f.event_seq === 'number') {
    if (S.lastEventSeq != null && f.event_seq <= S.lastEventSeq) return; // already seen
    S.lastEventSeq = f.event_seq;
  }
  switch (f.type) {
    case 'message.created': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'created'); break;
    case 'message.edited': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'edited'); break;
    case 'message.recalled': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'recalled'); break;
    case 'conversation.read': onRead(f); break;
    case 'conversation.created':
    case 'conversation.updated':
    case 'conversation.member_added':
      if (f.conversation) ensureConversation(f.conversation.id, f.conversation);
      break;
    case 'conversation.member_removed':
      if (f.conversation) {
        const still = f.conversation.members?.some((m: Member) => m.id === S.me?.id);
        if (still === false || f.user_id === S.me?.id) { S.convs.delete(f.conversation.id); if (S.openId === f.conversation.id) S.openId = null; changed(); }
        else ensureConversation(f.conversation.id, f.conversation);
      }
      break;
    case 'attachment.scanned': onScanned(f); break;
    case 'presence.changed': S.presence.set(f.user_id, f.status); changed(); break;
    case 'security.login_flagged': // the person's own notice: a lockout or a second machine
      if (f.alert?.user_id === S.me?.id) toast(t((f.alert.reasons || []).includes('locked_out') ? 'notice_locked_out' : 'notice_login_flagged', { ip: f.alert.ip || '' }), 'error');
      break;
    default: break;
  }
}

const receiptRefresh = new Map<number, any>();
function onRead(f: any) {
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
        const r = await get<{ messages: Message[] }>(`/conversations/${id}/messages?after_seq=${from}&limit=200`);
        for (const m of r.messages) insert(th, m);
        changed();
      } catch { /* ignore */ }
    }, 400));
  }
}

// ---------------------------------------------------------------- title badge and notifications
function onScanned(f: any) {
  // A file that waited for the virus scanner has its verdict: downloadable, or not.
  const th = S.threads.get(f.conversation_id);
  const m = th?.byId.get(f.message_id);
  const a = m?.attachments?.find((x) => x.id === f.attachment_id);
  if (a) { a.scan_status = f.scan_status; changed(); }
}

export function totalUnread() { let n = 0; S.convs.forEach((c) => { n += c.unread_count || 0; }); return n; }
export function updateTitle() {
  const n = totalUnread();
  document.title = n > 0 ? t('new_messages_title', { n: n > 99 ? '99+' : n }) : t('app_name');
}

function notify(m: Message) {
  if (!S.me || m.sender?.id === S.me.id) return;
  if (!document.hidden && S.openId === m.conversation_id) return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || S.locked) return;
  try {
    const body = m.recalled ? '' : m.kind === 'image' ? t('image_message') : m.attachments?.length && !m.text ? t('file_message') : m.text.slice(0, 80);
    const n = new Notification(t('notification_new', { name: m.sender.name }), { body, tag: 'mixun-' + m.conversation_id, silent: false });
    n.onclick = () => { window.focus(); openConversation(m.conversation_id); n.close(); };
  } catch { /* some browsers need a service worker */ }
}

document.addEventListener('visibilitychange', () => { if (!document.hidden && S.openId != null) markRead(S.openId); });
