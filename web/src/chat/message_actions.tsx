// Message actions: the context menu (right click, or long press on a phone), copy, quote, forward one by
// one or merged (合并转发), multi-select, reactions and a quick 收到, and report (D8).
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post } from '../api';
import { t } from '../i18n';
import { Conversation, G, Message, S, convTitle, endSelect, ingest, react, showError, sortedConversations, startSelect, toast, toggleSelect, useStore } from '../store';
import { Modal, fmtTime } from '../ui';
import { handleSendError } from './send_errors';

export const QUICK = ['收到', '👍', '❤️', '😄', '🙏', '👌', '🎉', 'OK'];

type MenuAt = { m: Message; x: number; y: number };
let openMenu: ((at: MenuAt | null) => void) | null = null;

/** Handlers for a message bubble: right click, and a long press (touch) open the menu. */
export function menuHandlers(m: Message) {
  let timer: any = null;
  const show = (x: number, y: number) => { if (openMenu && !m.recalled) openMenu({ m, x, y }); };
  return {
    onContextMenu: (e: MouseEvent) => { e.preventDefault(); show(e.clientX, e.clientY); },
    onTouchStart: (e: TouchEvent) => { const p = e.touches[0]; timer = setTimeout(() => show(p.clientX, p.clientY), 500); },
    onTouchEnd: () => clearTimeout(timer),
    onTouchMove: () => clearTimeout(timer),
  };
}

function plain(m: Message): string {
  if (m.kind === 'merged') return m.text.split('\n')[0];
  if (m.text) return m.text;
  return (m.attachments || []).map((a) => (a.kind === 'image' ? t('image_message') : `[${t('file_message')}] ${a.filename || ''}`)).join(' ');
}

/** The menu itself (one per chat), and the dialogs it opens. */
export function MessageMenu({ c, onReply }: { c: Conversation; onReply: (m: Message) => void }) {
  useStore();
  const [at, setAt] = useState<MenuAt | null>(null);
  const [forward, setForward] = useState<{ ids: number[]; merged: boolean } | null>(null);
  const [report, setReport] = useState<Message | null>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => { openMenu = setAt; return () => { openMenu = null; }; }, []);
  useEffect(() => {
    if (!at) return;
    const close = (e: Event) => { if (!box.current?.contains(e.target as Node)) setAt(null); };
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') setAt(null); };
    setTimeout(() => { document.addEventListener('mousedown', close); document.addEventListener('touchstart', close); }, 0);
    window.addEventListener('keydown', esc);
    return () => { document.removeEventListener('mousedown', close); document.removeEventListener('touchstart', close); window.removeEventListener('keydown', esc); };
  }, [at]);
  useEffect(() => {
    const el = box.current;
    if (!el || !at) return;
    const w = el.offsetWidth, h = el.offsetHeight;
    el.style.left = Math.max(4, Math.min(at.x, window.innerWidth - w - 4)) + 'px';
    el.style.top = Math.max(4, Math.min(at.y, window.innerHeight - h - 4)) + 'px';
  });
  const m = at?.m;
  const act = (f: () => void) => () => { setAt(null); f(); };
  async function copy(msg: Message) {
    try { await navigator.clipboard.writeText(plain(msg)); toast(t('copied')); } catch { toast(t('copy_failed'), 'error'); }
  }
  const selecting = G.selecting === c.id;
  return (
    <>
      {m && (
        <div class="ctx-menu" ref={box} role="menu" data-testid="message-menu">
          <div class="ctx-quick">
            {QUICK.slice(0, 5).map((e) => <button class="quick" data-testid="reaction-option" data-emoji={e} onClick={act(() => react(m, e))}>{e}</button>)}
          </div>
          <button role="menuitem" data-testid="menu-copy" onClick={act(() => copy(m))}>{t('copy')}</button>
          <button role="menuitem" data-testid="menu-quote" onClick={act(() => onReply(m))}>{t('quote')}</button>
          <button role="menuitem" data-testid="menu-forward" onClick={act(() => setForward({ ids: [m.id], merged: false }))}>{t('forward')}</button>
          <button role="menuitem" data-testid="menu-select" onClick={act(() => startSelect(c.id, m.id))}>{t('multi_select')}</button>
          {m.sender.id !== S.me?.id && <button role="menuitem" data-testid="menu-report" onClick={act(() => setReport(m))}>{t('report')}</button>}
        </div>
      )}
      {selecting && (
        <div class="select-bar" data-testid="select-bar">
          <span>{t('selected_n', { n: G.selected.size })}</span>
          <button data-testid="forward-each" disabled={!G.selected.size} onClick={() => setForward({ ids: [...G.selected], merged: false })}>{t('forward_each')}</button>
          <button data-testid="forward-merged" disabled={!G.selected.size} onClick={() => setForward({ ids: [...G.selected], merged: true })}>{t('forward_merged')}</button>
          <button data-testid="select-cancel" onClick={endSelect}>{t('cancel')}</button>
        </div>
      )}
      {forward && <ForwardDialog ids={forward.ids} merged={forward.merged} onClose={(done) => { setForward(null); if (done) endSelect(); }} />}
      {report && <ReportDialog m={report} onClose={() => setReport(null)} />}
    </>
  );
}

/** Pick a conversation to forward to; the server applies that conversation's DLP and permissions. */
export function ForwardDialog({ ids, merged, onClose }: { ids: number[]; merged: boolean; onClose: (done: boolean) => void }) {
  const [q, setQ] = useState('');
  const [busy, setBusy] = useState(false);
  const list = sortedConversations().filter((c) => !q.trim() || convTitle(c).toLowerCase().includes(q.trim().toLowerCase()));
  async function go(target: Conversation, confirm = false) {
    setBusy(true);
    try {
      const r = await post<{ messages: Message[] }>('/messages/forward', { message_ids: ids, conversation_id: target.id, merged, confirm });
      for (const m of r.messages) ingest({ ...m, conversation_id: m.conversation_id ?? target.id });
      toast(t('forwarded_to', { name: convTitle(target) }));
      onClose(true);
    } catch (e) { handleSendError(e, () => go(target, true)); } finally { setBusy(false); }
  }
  return (
    <Modal title={merged ? t('forward_merged') : t('forward')} onClose={() => onClose(false)} testid="forward-dialog">
      <div class="stack">
        <input data-testid="forward-search" placeholder={t('search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <ul class="people small forward-list">
          {list.map((c) => (
            <li class="person-row" role="button" data-testid="forward-target" data-conversation-id={c.id} onClick={() => { if (!busy) go(c); }}>
              <div class="person-main"><div class="person-name">{convTitle(c)}</div><div class="person-sub">{c.kind === 'group' ? t('group_chat') : t('direct_chat')}</div></div>
            </li>
          ))}
        </ul>
        <div class="row-end"><button data-testid="dialog-cancel" onClick={() => onClose(false)}>{t('cancel')}</button></div>
      </div>
    </Modal>
  );
}

/** 举报: to the review queue (D8), with a reason. */
export function ReportDialog({ m, onClose }: { m: Message; onClose: () => void }) {
  const [reason, setReason] = useState('');
  async function send() {
    try { await post('/reports', { message_id: m.id, reason: reason.trim() || t('report_default_reason') }); toast(t('report_sent')); onClose(); } catch (e) { showError(e); }
  }
  return (
    <Modal title={t('report')} onClose={onClose} testid="report-dialog">
      <div class="stack">
        <div class="quote">{m.sender.name}：{plain(m).slice(0, 120)}</div>
        <textarea data-testid="report-reason" rows={3} maxLength={500} placeholder={t('report_reason')} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        <p class="muted small">{t('report_hint')}</p>
        <div class="row-end">
          <button data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button>
          <button class="danger" data-testid="dialog-ok" onClick={send}>{t('report_submit')}</button>
        </div>
      </div>
    </Modal>
  );
}

/** Reactions under a message: each emoji with its count (names on hover); tap to add or take back. */
export function Reactions({ m }: { m: Message }) {
  if (!m.reactions?.length || m.recalled) return null;
  return (
    <div class="reactions" data-testid="reactions">
      {m.reactions.map((r) => {
        const mine = r.users.some((u) => u.id === S.me?.id);
        return (
          <button class={'reaction' + (mine ? ' mine' : '')} data-testid="reaction" data-emoji={r.emoji} title={r.users.map((u) => u.name).join('、')} onClick={() => react(m, r.emoji)}>
            {r.emoji} {r.emoji === '收到' ? r.users.map((u) => u.name).join('、') : r.users.length}
          </button>
        );
      })}
    </div>
  );
}

/** A merged forward in the chat: a card with its title and first lines; it opens to the messages. */
export function MergedCard({ m }: { m: Message }) {
  const [open, setOpen] = useState(false);
  const lines = m.text.split('\n');
  return (
    <>
      <button class="merged-card" data-testid="merged-card" onClick={() => setOpen(true)}>
        <div class="merged-title">{lines[0]}</div>
        {lines.slice(1, 4).map((l) => <div class="merged-line muted small">{l.slice(0, 60)}</div>)}
        <div class="merged-foot muted small">{t('chat_record')}</div>
      </button>
      {open && <BundleModal id={m.id} onClose={() => setOpen(false)} />}
    </>
  );
}

type Item = { sender: { name: string }; kind: string; text: string; created_at: string; items?: Item[] | null };
function BundleModal({ id, onClose }: { id: number; onClose: () => void }) {
  const [b, setB] = useState<{ title: string; items: Item[] } | null>(null);
  useEffect(() => { get(`/messages/${id}/bundle`).then(setB, (e) => { showError(e); onClose(); }); }, [id]);
  const render = (items: Item[]) => items.map((i) => (
    <li class="bundle-item" data-testid="bundle-item">
      <div class="muted small">{i.sender.name} {fmtTime(i.created_at, true)}</div>
      <div class="bundle-text">{i.text}</div>
      {i.items && <ul class="bundle nested">{render(i.items)}</ul>}
    </li>
  ));
  return (
    <Modal title={b?.title ?? t('chat_record')} onClose={onClose} testid="bundle-dialog">
      {!b ? t('loading') : <ul class="bundle">{render(b.items)}</ul>}
    </Modal>
  );
}

/** The checkbox shown beside each message while picking several. */
export function SelectBox({ m, c }: { m: Message; c: Conversation }) {
  if (G.selecting !== c.id || m.recalled) return null;
  return <input type="checkbox" class="msg-check" data-testid="message-select" checked={G.selected.has(m.id)} onChange={() => toggleSelect(m.id)} />;
}
