// The message list: a bounded window of messages in the DOM, scrolling, loading older ones.
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';
import { Conversation, Message, S, loadOlder, pendingFor, thread } from '../store';
import { Modal } from '../ui';
import { MessageItem, PendingItem, ReceiptsModal } from './message_item';
import { useEffect } from 'preact/hooks';
import { loadSystem } from '../store';
import { SystemLines, linesBetween } from './group_extras';
import { MessageMenu } from './message_actions';
import { ZoomImage } from './previews';

const MAX = 150; // messages in the DOM at once
const STEP = 50;

export function MessageList({ c, onReply, onEdit }: { c: Conversation; onReply: (m: Message) => void; onEdit: (m: Message) => void }) {
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
  // A search hit to show: put it in the window, scroll it to the middle and highlight it once.
  const focus = S.focus && S.focus.conversation_id === c.id ? S.focus : null;
  const focusIdx = focus ? th.list.findIndex((m) => m.id === focus.message_id) : -1;
  const focused = useRef(0);
  if (focus && focusIdx >= 0 && focused.current !== focus.at && (focusIdx < start || focusIdx >= end)) {
    start = Math.max(0, focusIdx - MAX / 2); end = Math.min(len, start + MAX);
    stick.current = false;
  }

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
    if (focus && focusIdx >= 0 && focused.current !== focus.at) {
      const node = el.querySelector<HTMLElement>(`[data-mid="${focus.message_id}"]`);
      if (node) {
        focused.current = focus.at; initial.current.done = true; stick.current = false;
        el.scrollTop = Math.max(0, node.offsetTop - el.clientHeight / 2 + node.offsetHeight / 2);
        node.classList.add('focused');
        setTimeout(() => node.classList.remove('focused'), 3000);
        return;
      }
    }
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
  useEffect(() => { loadSystem(c.id); }, [c.id]);
  // System lines go between the messages they happened between (by time); before the first loaded
  // message only once the whole history is there.
  const sysBefore = (i: number) => linesBetween(c.id, i > 0 ? visible[i - 1].created_at : (start === 0 && th.loadedAll ? null : visible[0].created_at), visible[i].created_at);
  return (
    <div class="msg-scroll" ref={box} onScroll={onScroll} data-testid="message-list">
      <div class="msg-top">
        {start > 0 || !th.loadedAll ? (th.loadingOlder ? t('loading') : <button class="link" data-testid="load-older" onClick={() => { if (box.current) box.current.scrollTop = 0; onScroll(); }}>{t('load_more')}</button>) : (th.loaded ? t('beginning') : t('loading'))}
      </div>
      {visible.map((m, i) => (
        <>
          <SystemLines lines={sysBefore(i)} />
          {sepSeq === m.seq && <div class="unread-sep" data-testid="unread-separator"><span>{t('unread_separator')}</span></div>}
          <MessageItem key={m.id} m={m} c={c} mine={m.sender.id === me} canModerate={canModerate}
            cont={i > 0 && sepSeq !== m.seq && visible[i - 1].sender.id === m.sender.id && !m.reply_to && Date.parse(m.created_at) - Date.parse(visible[i - 1].created_at) < 180000}
            onReply={onReply} onEdit={onEdit} onPreview={setPreview} onReceipts={setReceipts} />
        </>
      ))}
      {end === len && th.loaded && <SystemLines lines={linesBetween(c.id, visible.length ? visible[visible.length - 1].created_at : null, null)} />}
      {pend.map((p) => <PendingItem key={p.client_id} p={p} />)}
      {end < len && <button class="jump-latest" data-testid="jump-latest" onClick={jumpLatest}>{t('jump_latest')} ↓</button>}
      {preview != null && (
        <Modal title={t('image_preview')} onClose={() => setPreview(null)} wide testid="image-preview">
          <div class="preview-tools"><a class="button" data-testid="preview-download" href={`/api/v1/attachments/${preview}`} download>{t('download')}</a></div>
          <ZoomImage id={preview} />
        </Modal>
      )}
      {receipts && <ReceiptsModal m={receipts} onClose={() => setReceipts(null)} />}
      <MessageMenu c={c} onReply={onReply} />
    </div>
  );
}

