import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, del, get, patch, post, uuid } from './api';
import { t } from './i18n';
import {
  Attachment, Conversation, Member, Message, Pending, S, changed, convTitle, dropPending, ingest, loadConversations, loadOlder,
  openConversation, peerOf, pendingFor, refreshConfig, retryPending, sendText, showError, sortedConversations, thread, toast, useStore,
} from './store';
import { Person, PersonCard, PersonRow, statusOf, usePeopleSearch } from './directory';
import { Avatar, Icon, Modal, StatusDot, fmtTime } from './ui';

// ================================================================= conversation list
export function ConversationList() {
  useStore();
  const list = sortedConversations();
  if (!S.convsLoaded) return <div class="muted pad">{t('loading')}</div>;
  if (!list.length) return <div class="empty-hint" data-testid="no-conversations">{t('no_conversations')}</div>;
  return (
    <ul class="conv-list" data-testid="conversation-list">
      {list.map((c) => <ConversationItem key={c.id} c={c} />)}
    </ul>
  );
}

function preview(m?: Message | null): string {
  if (!m) return '';
  if (m.recalled) return t('recalled');
  if (m.attachments?.length && !m.text) return m.attachments[0].kind === 'image' || m.attachments[0].mime?.startsWith('image/') ? t('image_message') : t('file_message');
  return m.text;
}

function ConversationItem({ c }: { c: Conversation }) {
  const title = convTitle(c);
  const peer = peerOf(c);
  const last = c.last_message;
  const who = c.kind === 'group' && last && last.sender ? (last.sender.id === S.me?.id ? t('you') : last.sender.name) + ': ' : '';
  return (
    <li class={'conv-item' + (S.openId === c.id ? ' active' : '')} data-testid="conversation-item" data-conversation-id={c.id}
      onClick={() => openConversation(c.id)} role="button" tabIndex={0} onKeyDown={(e) => { if (e.key === 'Enter') openConversation(c.id); }}>
      <div class="conv-avatar">
        <Avatar name={title} id={c.kind === 'group' ? c.id + 7 : peer?.id} group={c.kind === 'group'} size={40} />
        {peer && <StatusDot status={statusOf(peer)} />}
      </div>
      <div class="conv-main">
        <div class="conv-top">
          <span class="conv-title" data-testid="conversation-title">{title}</span>
          <span class="conv-time">{fmtTime(last?.created_at || c.updated_at)}</span>
        </div>
        <div class="conv-bottom">
          <span class="conv-preview">
            {!!c.urgent_unread && <span class="mark urgent" data-testid="urgent-mark">[{t('urgent_mark')}]</span>}
            {!!c.mention_count && <span class="mark mention" data-testid="mention-mark">[{t('mention_mark')}]</span>}
            {who}{preview(last)}
          </span>
          {c.unread_count > 0 && <span class="unread-badge" data-testid="unread-count">{c.unread_count > 99 ? '99+' : c.unread_count}</span>}
        </div>
      </div>
    </li>
  );
}

// ================================================================= people search results (sidebar)
export function SearchResults({ q, onDone }: { q: string; onDone: () => void }) {
  const res = usePeopleSearch(q);
  if (res == null) return <div class="muted pad">{t('loading')}</div>;
  if (!res.length) return <div class="empty-hint" data-testid="directory-empty">{t('no_results')}</div>;
  return (
    <ul class="people" data-testid="directory-results">
      {res.map((p) => <PersonRow p={p} testid="directory-result" onClick={() => { onDone(); openDirect2(p); }} />)}
    </ul>
  );
}
function openDirect2(p: Person) {
  post<Conversation>('/conversations', { kind: 'direct', members: [p.id] }).then((c) => {
    S.convs.set(c.id, { ...c, unread_count: S.convs.get(c.id)?.unread_count ?? c.unread_count ?? 0 });
    openConversation(c.id);
  }, showError);
}

// ================================================================= open conversation
export function ChatView() {
  useStore();
  const c = S.openId != null ? S.convs.get(S.openId) : undefined;
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [panel, setPanel] = useState<'members' | 'card' | null>(null);
  useEffect(() => { setReplyTo(null); setEditing(null); setPanel(null); }, [S.openId]);
  if (!c) return <div class="chat-empty" data-testid="chat-empty"><div class="empty-logo" aria-hidden="true">密</div>{t('select_conversation')}</div>;
  const peer = peerOf(c);
  return (
    <section class="chat" data-testid="chat" data-conversation-id={c.id}>
      <header class="chat-head">
        <div class="chat-title">
          <h2 data-testid="chat-title">{convTitle(c)}</h2>
          {peer ? (
            <button class="link sub" data-testid="chat-peer-card" onClick={() => setPanel('card')}><StatusDot status={statusOf(peer)} /> {t(statusOf(peer))}</button>
          ) : (
            <span class="sub">{c.members.length} {t('members')}</span>
          )}
        </div>
        {c.kind === 'group' && <button class="ghost" data-testid="group-manage" onClick={() => setPanel('members')}>{t('members')}</button>}
      </header>
      <MessageList key={c.id} c={c} onReply={(m) => { setEditing(null); setReplyTo(m); }} onEdit={(m) => { setReplyTo(null); setEditing(m); }} />
      <Composer c={c} replyTo={replyTo} editing={editing} clear={() => { setReplyTo(null); setEditing(null); }} />
      {panel === 'members' && <MembersPanel c={c} onClose={() => setPanel(null)} />}
      {panel === 'card' && peer && <PersonCard id={peer.id} onClose={() => setPanel(null)} />}
    </section>
  );
}

const MAX = 150; // messages in the DOM at once
const STEP = 50;

function MessageList({ c, onReply, onEdit }: { c: Conversation; onReply: (m: Message) => void; onEdit: (m: Message) => void }) {
  const th = thread(c.id);
  const len = th.list.length;
  const box = useRef<HTMLDivElement>(null);
  const [win, setWin] = useState({ start: Math.max(0, len - MAX), end: len });
  const stick = useRef(true);
  const anchor = useRef<{ id: string; top: number } | null>(null);
  const initial = useRef<{ done: boolean; readSeq: number }>({ done: false, readSeq: S.sepFrom?.id === c.id ? S.sepFrom.seq : (c.read_seq ?? 0) });
  const [preview, setPreview] = useState<number | null>(null);
  const [receipts, setReceipts] = useState<Message | null>(null);

  // Follow new messages when stuck to the bottom; keep the window bounded.
  let { start, end } = win;
  if (stick.current && end !== len) { end = len; start = Math.max(0, end - MAX); }
  if (end > len) end = len;
  if (start > end) start = Math.max(0, end - MAX);
  if (win.start !== start || win.end !== end) queueMicrotask(() => setWin({ start, end }));

  const pend = end === len ? pendingFor(c.id) : [];
  const visible = th.list.slice(start, end);
  const me = S.me!.id;
  const sepSeq = useMemo(() => {
    const r = initial.current.readSeq;
    const firstUnread = th.list.find((m) => m.seq > r && m.sender.id !== me);
    return firstUnread ? firstUnread.seq : null;
  }, [th.loaded, c.id]);

  function remember() {
    const el = box.current;
    if (!el) return;
    const top = el.getBoundingClientRect().top;
    for (const child of Array.from(el.querySelectorAll<HTMLElement>('[data-mid]'))) {
      const r = child.getBoundingClientRect();
      if (r.bottom > top) { anchor.current = { id: child.dataset.mid!, top: r.top - top }; return; }
    }
  }

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (!initial.current.done && th.loaded) {
      initial.current.done = true;
      const sep = el.querySelector<HTMLElement>('[data-testid="unread-separator"]');
      if (sep && sep.offsetTop > el.clientHeight / 2) { el.scrollTop = sep.offsetTop - 60; stick.current = false; }
      else el.scrollTop = el.scrollHeight;
      return;
    }
    if (anchor.current) {
      const a = anchor.current; anchor.current = null;
      const node = el.querySelector<HTMLElement>(`[data-mid="${a.id}"]`);
      if (node) el.scrollTop += node.getBoundingClientRect().top - el.getBoundingClientRect().top - a.top;
      return;
    }
    if (stick.current) el.scrollTop = el.scrollHeight;
  });

  async function onScroll() {
    const el = box.current;
    if (!el) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    stick.current = fromBottom < 40 && win.end >= len;
    if (el.scrollTop < 300) {
      if (win.start > 0) {
        remember();
        const ns = Math.max(0, win.start - STEP);
        setWin({ start: ns, end: Math.min(win.end, ns + MAX) });
        stick.current = false;
      } else if (!th.loadedAll && !th.loadingOlder) {
        remember();
        const n = await loadOlder(c.id);
        if (n) setWin((w) => ({ start: 0, end: Math.min(w.end + n, MAX) }));
      }
    } else if (fromBottom < 300 && win.end < len) {
      remember();
      const ne = Math.min(len, win.end + STEP);
      setWin({ start: Math.max(win.start, ne - MAX), end: ne });
    }
  }

  function jumpLatest() {
    stick.current = true;
    setWin({ start: Math.max(0, len - MAX), end: len });
  }

  const canModerate = c.kind === 'group' && (c.my_role === 'owner' || c.my_role === 'admin');
  return (
    <div class="msg-scroll" ref={box} onScroll={onScroll} data-testid="message-list">
      <div class="msg-top">
        {start > 0 || !th.loadedAll ? (th.loadingOlder ? t('loading') : <button class="link" data-testid="load-older" onClick={() => { if (box.current) box.current.scrollTop = 0; onScroll(); }}>{t('load_more')}</button>) : (th.loaded ? t('beginning') : t('loading'))}
      </div>
      {visible.map((m, i) => (
        <>
          {sepSeq === m.seq && <div class="unread-sep" data-testid="unread-separator"><span>{t('unread_separator')}</span></div>}
          <MessageItem key={m.id} m={m} c={c} mine={m.sender.id === me} canModerate={canModerate}
            cont={i > 0 && sepSeq !== m.seq && visible[i - 1].sender.id === m.sender.id && !m.reply_to && Date.parse(m.created_at) - Date.parse(visible[i - 1].created_at) < 180000}
            onReply={onReply} onEdit={onEdit} onPreview={setPreview} onReceipts={setReceipts} />
        </>
      ))}
      {pend.map((p) => <PendingItem key={p.client_id} p={p} />)}
      {end < len && <button class="jump-latest" data-testid="jump-latest" onClick={jumpLatest}>{t('jump_latest')} ↓</button>}
      {preview != null && (
        <Modal title={t('image_preview')} onClose={() => setPreview(null)} wide testid="image-preview">
          <img class="preview-img" src={`/api/v1/attachments/${preview}`} alt={t('image_preview')} />
        </Modal>
      )}
      {receipts && <ReceiptsModal m={receipts} onClose={() => setReceipts(null)} />}
    </div>
  );
}

/** Message text as text nodes; @mentions of members highlighted. Never HTML. */
function MessageText({ text, members }: { text: string; members: Member[] }) {
  const names = members.map((m) => m.name).filter(Boolean).sort((a, b) => b.length - a.length);
  if (!names.length || text.indexOf('@') < 0) return <>{text}</>;
  const parts: any[] = [];
  let i = 0, buf = '';
  while (i < text.length) {
    if (text[i] === '@') {
      const name = names.find((n) => text.startsWith(n, i + 1));
      if (name) {
        if (buf) parts.push(buf);
        buf = '';
        parts.push(<span class={'mention' + (name === S.me?.name ? ' me' : '')}>@{name}</span>);
        i += name.length + 1;
        continue;
      }
    }
    buf += text[i++];
  }
  if (buf) parts.push(buf);
  return <>{parts}</>;
}

function replyId(m: Message): number | null {
  const r = m.reply_to as any;
  if (r == null) return null;
  return typeof r === 'object' ? r.id : r;
}

function MessageItem(props: { m: Message; c: Conversation; mine: boolean; canModerate: boolean; cont?: boolean; onReply: (m: Message) => void; onEdit: (m: Message) => void; onPreview: (id: number) => void; onReceipts: (m: Message) => void }) {
  const { m, c, mine } = props;
  const th = thread(c.id);
  const rid = replyId(m);
  const quoted = rid != null ? th.byId.get(rid) ?? (typeof m.reply_to === 'object' ? (m.reply_to as any) : null) : null;
  const recallable = !m.recalled && (mine || props.canModerate);
  async function recall() {
    try { await post(`/messages/${m.id}/recall`); } catch (e) { showError(e); }
  }
  const [confirmRecall, setConfirmRecall] = useState(false);
  const images = (m.attachments || []).filter((a) => a.kind === 'image' || a.mime?.startsWith('image/'));
  const files = (m.attachments || []).filter((a) => !images.includes(a));
  return (
    <div class={'msg-row' + (mine ? ' mine' : '') + (m.urgent ? ' urgent' : '') + (props.cont && !m.urgent ? ' cont' : '')} data-mid={m.id} data-seq={m.seq}>
      {!mine && (props.cont && !m.urgent ? <span class="avatar-gap" /> : <Avatar name={m.sender.name} id={m.sender.id} size={34} />)}
      <div class="msg-col">
        <div class="msg-meta">
          {!mine && <span class="msg-sender" data-testid="message-sender">{m.sender.name}</span>}
          <span class="msg-time">{fmtTime(m.created_at)}</span>
          {m.urgent && <span class="badge urgent">{t('urgent_mark')}</span>}
        </div>
        {quoted && (
          <div class="quote" data-testid="message-quote">
            <b>{quoted.sender?.name}</b>: {quoted.recalled ? t('recalled') : (quoted.text || (quoted.attachments?.length ? t('image_message') : ''))}
          </div>
        )}
        <div class={'bubble' + (m.recalled ? ' recalled' : '')} data-testid="message" data-message-id={m.id}>
          {m.recalled ? t('recalled') : (
            <>
              {m.text && <MessageText text={m.text} members={c.members} />}
              {images.map((a) => (
                <img class="msg-img" src={`/api/v1/attachments/${a.id}/thumbnail`} alt={a.name || a.filename || t('image')} title={a.name || a.filename || ''}
                  data-testid="message-image" loading="lazy" onClick={() => props.onPreview(a.id)}
                  ref={(el) => { if (el && a.width && a.height) { const w = Math.min(240, a.width); el.style.width = w + 'px'; el.style.aspectRatio = `${a.width} / ${a.height}`; } }} />
              ))}
              {files.map((a) => <FileChip a={a} />)}
            </>
          )}
        </div>
        <div class="msg-foot">
          {m.edited && !m.recalled && <span class="edited" data-testid="message-edited">({t('edited')})</span>}
          {mine && !m.recalled && <ReadState m={m} c={c} onClick={() => props.onReceipts(m)} />}
        </div>
        {mine && m.urgent && m.urgent_recipients && m.urgent_recipients.length > 0 && (
          <div class="urgent-box" data-testid="urgent-recipients">
            <div><Icon name="phone" size={14} /> {t('urgent_recipients')}</div>
            {m.urgent_recipients.map((r) => <div class="urgent-r">{r.name} <b>{r.phone || '—'}</b> <span class={r.read ? 'ok' : 'warn'}>{r.read ? t('read') : t('unread')}</span></div>)}
          </div>
        )}
      </div>
      <div class="msg-actions" role="toolbar">
        {!m.recalled && <button class="icon-btn" title={t('reply')} data-testid="action-reply" onClick={() => props.onReply(m)}><Icon name="reply" size={16} /></button>}
        {mine && !m.recalled && !m.attachments?.length && <button class="icon-btn" title={t('edit')} data-testid="action-edit" onClick={() => props.onEdit(m)}><Icon name="edit" size={16} /></button>}
        {recallable && <button class="icon-btn" title={t('recall')} data-testid="action-recall" onClick={() => setConfirmRecall(true)}><Icon name="recall" size={16} /></button>}
      </div>
      {confirmRecall && (
        <Modal title={t('recall')} onClose={() => setConfirmRecall(false)} testid="recall-dialog">
          <p>{t('recall_confirm')}</p>
          <div class="row-end">
            <button onClick={() => setConfirmRecall(false)}>{t('cancel')}</button>
            <button class="danger" data-testid="recall-confirm" onClick={() => { setConfirmRecall(false); recall(); }}>{t('recall')}</button>
          </div>
        </Modal>
      )}
    </div>
  );
}

function fmtSize(n?: number): string {
  if (n == null) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

// A file in a message: its name and size, and whether it may be downloaded yet (D7: only once scanned).
function FileChip({ a }: { a: Attachment }) {
  const name = a.name || a.filename || t('file_message');
  const st = a.scan_status || 'clean';
  const ready = st === 'clean' || st === 'unscanned' || st === 'reencoded';
  const pack = a.kind === 'secure_pack';
  const body = (
    <>
      <Icon name={pack ? 'lock' : 'file'} size={16} />
      <span class="file-name">{name}</span>
      <span class="file-size muted">{fmtSize(a.size)}</span>
      <span class={'file-state ' + st} data-testid="file-scan-state">{t('scan_' + st)}</span>
    </>
  );
  return ready
    ? <a class={'file-chip' + (pack ? ' pack' : '')} data-testid="message-file" href={`/api/v1/attachments/${a.id}`} download={name}>{body}</a>
    : <span class={'file-chip off' + (pack ? ' pack' : '')} data-testid="message-file" title={t('scan_' + st)}>{body}</span>;
}

function ReadState({ m, c, onClick }: { m: Message; c: Conversation; onClick: () => void }) {
  const total = m.recipient_count ?? (c.members.length - 1);
  const n = m.read_count ?? 0;
  let label: string;
  if (c.kind === 'direct') label = n > 0 ? t('read') : t('unread');
  else label = total > 0 && n >= total ? t('all_read') : t('read_n', { n });
  return <button class={'link read-state' + (n > 0 && n >= total ? ' all' : '')} data-testid="read-state" onClick={onClick}>{label}</button>;
}

function ReceiptsModal({ m, onClose }: { m: Message; onClose: () => void }) {
  const [r, setR] = useState<any>(null);
  useEffect(() => { get(`/messages/${m.id}/receipts`).then(setR, (e) => { showError(e); onClose(); }); }, [m.id]);
  return (
    <Modal title={t('receipts')} onClose={onClose} testid="receipts">
      {!r ? t('loading') : (
        <div class="receipts">
          <div><h4>{t('read')} ({r.read?.length ?? 0})</h4><ul>{(r.read || []).map((x: any) => <li>{x.name} <span class="muted">{fmtTime(x.read_at)}</span></li>)}</ul></div>
          <div><h4>{t('unread')} ({r.unread?.length ?? 0})</h4><ul>{(r.unread || []).map((x: any) => <li>{x.name}{x.phone ? <span class="muted"> {x.phone}</span> : null}</li>)}</ul></div>
          {r.urgent_phones?.length > 0 && <div><h4>{t('urgent_phone_hint')}</h4><ul>{r.urgent_phones.map((x: any) => <li>{typeof x === 'string' ? x : `${x.name ?? ''} ${x.phone ?? ''}`}</li>)}</ul></div>}
        </div>
      )}
    </Modal>
  );
}

function PendingItem({ p }: { p: Pending }) {
  return (
    <div class="msg-row mine pending" data-client-id={p.client_id}>
      <div class="msg-col">
        <div class="msg-meta"><span class="msg-time">{p.state === 'queued' ? t('queued') : p.state === 'failed' ? t('send_failed') : t('sending')}</span>{p.urgent && <span class="badge urgent">{t('urgent_mark')}</span>}</div>
        <div class="bubble" data-testid="message" data-pending="true"><MessageText text={p.text} members={[]} /></div>
        {p.state === 'failed' && (
          <div class="msg-foot fail">{p.error} <button class="link" onClick={() => retryPending(p)}>{t('retry')}</button> <button class="link" onClick={() => dropPending(p)}>{t('cancel')}</button></div>
        )}
      </div>
    </div>
  );
}

// ================================================================= composer
function Composer({ c, replyTo, editing, clear }: { c: Conversation; replyTo: Message | null; editing: Message | null; clear: () => void }) {
  const [text, setText] = useState('');
  const [urgent, setUrgent] = useState(false);
  const [mention, setMention] = useState<{ q: string; at: number; idx: number } | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const docInput = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [packing, setPacking] = useState(false);
  const drafts = useRef(new Map<number, string>()); // in memory only
  const max = S.config.max_message_length || 5000;

  useEffect(() => { setText(drafts.current.get(c.id) || ''); setUrgent(false); ta.current?.focus(); }, [c.id]);
  useEffect(() => { if (editing) { setText(editing.text); ta.current?.focus(); } }, [editing]);
  useEffect(() => { if (replyTo) ta.current?.focus(); }, [replyTo]);
  useEffect(() => {
    const el = ta.current; if (!el) return;
    el.style.height = 'auto'; el.style.height = Math.min(200, el.scrollHeight) + 'px';
  }, [text]);

  const candidates = useMemo(() => {
    if (!mention || c.kind !== 'group') return [];
    const q = mention.q.toLowerCase();
    return c.members.filter((m) => m.id !== S.me?.id && m.name.toLowerCase().includes(q)).slice(0, 8);
  }, [mention, c]);

  function update(v: string) {
    setText(v);
    drafts.current.set(c.id, v);
    const el = ta.current;
    const caret = el ? el.selectionStart : v.length;
    const before = v.slice(0, caret);
    const mm = /(^|\s|[^\w@])@([^\s@]{0,20})$/.exec(before);
    if (mm && c.kind === 'group') setMention({ q: mm[2], at: caret - mm[2].length - 1, idx: 0 });
    else setMention(null);
  }

  function pick(m: Member) {
    if (!mention) return;
    const el = ta.current;
    const caret = el ? el.selectionStart : text.length;
    const v = text.slice(0, mention.at) + '@' + m.name + ' ' + text.slice(caret);
    setText(v); drafts.current.set(c.id, v); setMention(null);
    const pos = mention.at + m.name.length + 2;
    requestAnimationFrame(() => { if (ta.current) { ta.current.focus(); ta.current.setSelectionRange(pos, pos); } });
  }

  async function submit() {
    const v = text.replace(/\s+$/, '');
    if (!v.trim()) return;
    if (v.length > max) { toast(`≤ ${max}`, 'error'); return; }
    if (editing) {
      try {
        const m = await patch<Message>(`/messages/${editing.id}`, { text: v });
        if (m && m.id) ingest({ ...m, conversation_id: m.conversation_id ?? c.id });
        setText(''); drafts.current.delete(c.id); clear();
      } catch (e) { handleSendError(e, () => {}); }
      return;
    }
    sendText(c.id, v, urgent, replyTo?.id);
    setText(''); drafts.current.delete(c.id); setUrgent(false); clear();
  }

  function onKey(e: KeyboardEvent) {
    if (mention && candidates.length) {
      if (e.key === 'ArrowDown') { e.preventDefault(); setMention({ ...mention, idx: (mention.idx + 1) % candidates.length }); return; }
      if (e.key === 'ArrowUp') { e.preventDefault(); setMention({ ...mention, idx: (mention.idx + candidates.length - 1) % candidates.length }); return; }
      if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); pick(candidates[mention.idx]); return; }
      if (e.key === 'Escape') { setMention(null); return; }
    }
    if (e.key === 'Escape' && (editing || replyTo)) { clear(); setText(''); return; }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  }

  async function upload(f: File) {
    if (!f.type.startsWith('image/')) { sendFile(f); return; }
    const fd = new FormData();
    fd.append('file', f, f.name);
    fd.append('client_id', uuid());
    try {
      const m = await api<Message>('POST', `/conversations/${c.id}/images`, undefined, { raw: fd });
      if (m && m.id) ingest({ ...m, conversation_id: m.conversation_id ?? c.id });
    } catch (e) { handleSendError(e, () => {}); }
  }

  // A document: the server judges its type, inspects it and scans it; a warning asks, then resends.
  async function sendFile(f: File, confirm = false, clientId = uuid()) {
    const limit = S.config.max_file_bytes;
    if (limit && f.size > limit) { toast(t('file_too_large', { mb: Math.floor(limit / 1048576) }), 'error'); return; }
    refreshConfig();
    const fd = new FormData();
    fd.append('file', f, f.name);
    fd.append('client_id', clientId);
    if (confirm) fd.append('confirm', 'true');
    setBusy(true);
    try {
      const m = await api<Message>('POST', `/conversations/${c.id}/files`, undefined, { raw: fd });
      if (m && m.id) ingest({ ...m, conversation_id: m.conversation_id ?? c.id });
    } catch (e) { handleSendError(e, () => sendFile(f, true, clientId)); } finally { setBusy(false); }
  }

  function onPaste(e: ClipboardEvent) {
    const items = e.clipboardData?.files;
    if (items && items.length && items[0].type.startsWith('image/')) { e.preventDefault(); upload(items[0]); }
  }

  return (
    <div class="composer-wrap">
      {(replyTo || editing) && (
        <div class="composer-ctx" data-testid={editing ? 'editing-bar' : 'reply-bar'}>
          <span>{editing ? t('editing') : t('replying_to', { name: replyTo!.sender.name })}: <i>{(editing || replyTo)!.text.slice(0, 60)}</i></span>
          <button class="icon-btn" aria-label={t('cancel')} onClick={() => { if (editing) setText(''); clear(); }}>×</button>
        </div>
      )}
      {mention && candidates.length > 0 && (
        <ul class="mention-pop" data-testid="mention-list" role="listbox">
          {candidates.map((m, i) => (
            <li class={i === mention.idx ? 'sel' : ''} data-testid="mention-option" role="option" onMouseDown={(e) => { e.preventDefault(); pick(m); }}>
              <Avatar name={m.name} id={m.id} size={22} /> {m.name}
            </li>
          ))}
        </ul>
      )}
      <div class="toolbar">
        <button class="icon-btn" title={t('image')} data-testid="image-button" onClick={() => file.current?.click()}><Icon name="image" size={20} /></button>
        <input type="file" accept="image/*" class="hidden" data-testid="image-input" ref={file}
          onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) upload(f); e.currentTarget.value = ''; }} />
        <button class="icon-btn" title={t('file')} data-testid="file-button" disabled={busy} onClick={() => docInput.current?.click()}><Icon name="file" size={20} /></button>
        <input type="file" class="hidden" data-testid="file-input" ref={docInput}
          onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) sendFile(f); e.currentTarget.value = ''; }} />
        <button class="icon-btn" title={t('secure_pack')} data-testid="pack-button" onClick={() => setPacking(true)}><Icon name="lock" size={20} /></button>
        {S.config.antivirus === 'unavailable' && (
          <span class="av-warn" data-testid="antivirus-warning" title={t('av_unavailable_' + (S.config.files_without_scanner || 'wait'))}>⚠ {t('av_unavailable')}</span>
        )}
        {busy && <span class="muted small" data-testid="file-sending">{t('file_sending')}</span>}
        <label class={'urgent-toggle' + (urgent ? ' on' : '')} title={t('urgent')}>
          <input type="checkbox" data-testid="urgent-toggle" checked={urgent} onChange={(e) => setUrgent(e.currentTarget.checked)} /> ⚠ {t('urgent')}
        </label>
        <span class="count muted">{text.length > max * 0.8 ? `${text.length}/${max}` : ''}</span>
      </div>
      {packing && <SecurePack c={c} onClose={() => setPacking(false)} />}
      <div class="composer-row">
        <textarea ref={ta} data-testid="composer" rows={1} placeholder={t('composer_placeholder')} value={text}
          onInput={(e) => update(e.currentTarget.value)} onKeyDown={onKey} onPaste={onPaste} maxLength={max + 100} />
        <button class="primary send" data-testid="send-button" onClick={submit} disabled={!text.trim()}>{editing ? t('save') : t('send')}</button>
      </div>
    </div>
  );
}

function handleSendError(e: unknown, resend: () => void) {
  if (e instanceof ApiError && (e.code === 'dlp_blocked' || e.code === 'dlp_confirm_required')) {
    // A refused secure pack names each file and what was found in it.
    const perFile = (e.detail.files || []).flatMap((f: any) => (f.findings?.length ? f.findings : [{ detector: f.reason }])
      .map((x: any) => ({ ...x, masked: `${f.filename}${x.masked ? ': ' + x.masked : ''}` })));
    S.dlp = { kind: e.code === 'dlp_blocked' ? 'blocked' : 'confirm', message: e.message, findings: [...(e.detail.findings || []), ...perFile],
      retry: e.code === 'dlp_confirm_required' ? resend : undefined };
    changed();
  } else showError(e);
}

const PACK_RULES = [
  ['min_length', (p: string) => p.length >= 8],
  ['letters', (p: string) => /\p{L}/u.test(p)],
  ['digits', (p: string) => /\d/.test(p)],
  ['symbols', (p: string) => /[^\p{L}\d\s]/u.test(p)],
] as const;

// D2: important documents travel as an AES-256 archive whose password the sender gives by phone.
function SecurePack({ c, onClose }: { c: Conversation; onClose: () => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const passed = PACK_RULES.map(([k, f]) => [k, f(pw)] as const);
  const ok = files.length > 0 && passed.every(([, v]) => v) && pw === pw2;
  async function submit(ev: Event) {
    ev.preventDefault();
    if (!ok || busy) return;
    const fd = new FormData();
    files.forEach((f) => fd.append('files', f, f.name));
    fd.append('password', pw);
    fd.append('client_id', uuid());
    if (name.trim()) fd.append('name', name.trim());
    setBusy(true);
    try {
      const m = await api<Message & { instruction?: string }>('POST', `/conversations/${c.id}/secure-pack`, undefined, { raw: fd });
      if (m && m.id) ingest({ ...m, conversation_id: m.conversation_id ?? c.id });
      setPw(''); setPw2('');
      setDone(m.instruction || t('pack_call'));
    } catch (e) { handleSendError(e, () => {}); } finally { setBusy(false); }
  }
  if (done) {
    return (
      <Modal title={t('secure_pack')} onClose={onClose} testid="pack-dialog">
        <p class="pack-done" data-testid="pack-instruction"><Icon name="phone" size={16} /> {done}</p>
        <div class="row-end"><button class="primary" data-testid="pack-close" onClick={onClose}>{t('ok')}</button></div>
      </Modal>
    );
  }
  return (
    <Modal title={t('secure_pack')} onClose={onClose} testid="pack-dialog">
      <form class="stack" onSubmit={submit} autocomplete="off">
        <p class="hint">{t('pack_hint')}</p>
        <input type="file" multiple data-testid="pack-files" onChange={(e) => setFiles(Array.from(e.currentTarget.files || []))} />
        {files.length > 0 && <ul class="pack-list">{files.map((f) => <li>{f.name} <span class="muted">{fmtSize(f.size)}</span></li>)}</ul>}
        <label>{t('pack_name')}<input data-testid="pack-name" value={name} maxLength={120} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>{t('pack_password')}<input type="password" autocomplete="new-password" data-testid="pack-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} /></label>
        <label>{t('pack_password_again')}<input type="password" autocomplete="new-password" data-testid="pack-password2" value={pw2} onInput={(e) => setPw2(e.currentTarget.value)} /></label>
        <ul class="rules" data-testid="pack-rules">
          {passed.map(([k, v]) => <li class={v ? 'ok' : 'warn'}>{v ? '✔' : '✗'} {t('pack_rule_' + k)}</li>)}
          {pw2 && pw !== pw2 && <li class="warn">✗ {t('password_mismatch')}</li>}
        </ul>
        <div class="row-end">
          <button type="button" onClick={onClose}>{t('cancel')}</button>
          <button class="primary" type="submit" data-testid="pack-submit" disabled={!ok || busy}>{busy ? t('file_sending') : t('pack_send')}</button>
        </div>
      </form>
    </Modal>
  );
}

// ================================================================= groups
export function NewGroup({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [q, setQ] = useState('');
  const [sel, setSel] = useState<Person[]>([]);
  const res = usePeopleSearch(q);
  const [busy, setBusy] = useState(false);
  async function create() {
    setBusy(true);
    try {
      const c = await post<Conversation>('/conversations', { kind: 'group', name: name.trim(), members: sel.map((p) => p.id) });
      S.convs.set(c.id, { ...c, unread_count: 0 });
      onClose();
      openConversation(c.id);
    } catch (e) { showError(e); } finally { setBusy(false); }
  }
  return (
    <Modal title={t('new_group')} onClose={onClose} testid="new-group-dialog">
      <div class="stack">
        <label>{t('group_name')}<input data-testid="group-name" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={60} /></label>
        <div class="chips">{sel.map((p) => <span class="chip">{p.name} <button class="icon-btn" onClick={() => setSel(sel.filter((x) => x.id !== p.id))}>×</button></span>)}</div>
        <input data-testid="group-member-search" placeholder={t('search_people')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        {res && <ul class="people small">{res.filter((p) => p.id !== S.me?.id).map((p) => (
          <PersonRow p={p} testid="group-member-option" onClick={() => { if (!sel.some((x) => x.id === p.id)) setSel([...sel, p]); }}
            right={sel.some((x) => x.id === p.id) ? <span class="ok">✔</span> : null} />
        ))}</ul>}
        <button class="primary" data-testid="group-create" disabled={busy || !name.trim() || !sel.length} onClick={create}>{t('create')}</button>
      </div>
    </Modal>
  );
}

function MembersPanel({ c, onClose }: { c: Conversation; onClose: () => void }) {
  useStore();
  const [name, setName] = useState(c.name || '');
  const [q, setQ] = useState('');
  const [card, setCard] = useState<number | null>(null);
  const res = usePeopleSearch(q);
  const manage = c.my_role === 'owner' || c.my_role === 'admin';
  const owner = c.my_role === 'owner';
  const refresh = async () => { try { const n = await get<Conversation>(`/conversations/${c.id}`); S.convs.set(c.id, { ...c, ...n }); changed(); } catch (e) { showError(e); } };
  const act = (f: () => Promise<any>) => async () => { try { await f(); await refresh(); } catch (e) { showError(e); } };
  const roleLabel = (r?: string) => (r === 'owner' ? t('owner') : r === 'admin' ? t('group_admin') : t('member'));
  return (
    <Modal title={`${convTitle(c)} · ${t('members')} (${c.members.length})`} onClose={onClose} testid="members-panel">
      <div class="stack">
        {manage && (
          <div class="row">
            <input data-testid="group-rename-input" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={60} />
            <button data-testid="group-rename" onClick={act(() => patch(`/conversations/${c.id}`, { name: name.trim() }))}>{t('rename')}</button>
          </div>
        )}
        <ul class="people small" data-testid="member-list">
          {c.members.map((m) => (
            <li class="person-row" data-testid="member-row">
              <Avatar name={m.name} id={m.id} size={28} />
              <div class="person-main" onClick={() => setCard(m.id)}><div class="person-name">{m.name}</div><div class="person-sub">{roleLabel(m.role)}</div></div>
              {owner && m.id !== S.me?.id && <button class="link" onClick={act(() => post(`/conversations/${c.id}/admins`, { user_id: m.id, admin: m.role !== 'admin' }))}>{m.role === 'admin' ? t('revoke_admin') : t('make_admin')}</button>}
              {owner && m.id !== S.me?.id && <button class="link" onClick={act(() => post(`/conversations/${c.id}/owner`, { user_id: m.id }))}>{t('transfer_owner')}</button>}
              {manage && m.id !== S.me?.id && m.role !== 'owner' && <button class="link danger" data-testid="member-remove" onClick={act(() => del(`/conversations/${c.id}/members/${m.id}`))}>{t('remove')}</button>}
            </li>
          ))}
        </ul>
        {manage && (
          <>
            <div class="section-title">{t('add_members')}</div>
            <input data-testid="member-add-search" placeholder={t('search_people')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
            {res && <ul class="people small">{res.filter((p) => !c.members.some((m) => m.id === p.id)).map((p) => (
              <PersonRow p={p} testid="member-add-option" onClick={act(async () => { await post(`/conversations/${c.id}/members`, { user_ids: [p.id] }); setQ(''); })} />
            ))}</ul>}
          </>
        )}
        <button class="danger" data-testid="group-leave" onClick={async () => {
          try { await post(`/conversations/${c.id}/leave`); S.convs.delete(c.id); S.openId = null; changed(); onClose(); loadConversations().catch(() => {}); } catch (e) { showError(e); }
        }}>{t('leave')}</button>
      </div>
      {card != null && <PersonCard id={card} onClose={() => setCard(null)} />}
    </Modal>
  );
}
