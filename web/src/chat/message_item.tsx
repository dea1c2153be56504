// One message: its text, quote, images and files, read state and actions; and a pending (unsent) one.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api';
import { locale, t } from '../i18n';
import { Attachment, Conversation, Member, Message, Pending, S, dropPending, restoreDraft, retryPending, showError, thread } from '../store';
import { Avatar, Icon, Modal, fmtTime } from '../ui';
import { MergedCard, Reactions, SelectBox, menuHandlers } from './message_actions';
import { PreviewButton } from './previews';

// Texts of messages this person recalled in this session, offered back by 重新编辑 (never stored).
const recalledTexts = new Map<number, string>();

/** Message text as text nodes; @mentions of members highlighted. Never HTML. */
function MessageText({ text, members }: { text: string; members: Member[] }) {
  const names = [...members.map((m) => m.name), '所有人'].filter(Boolean).sort((a, b) => b.length - a.length);
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

export function MessageItem(props: { m: Message; c: Conversation; mine: boolean; canModerate: boolean; cont?: boolean; onReply: (m: Message) => void; onEdit: (m: Message) => void; onPreview: (id: number) => void; onReceipts: (m: Message) => void }) {
  const { m, c, mine } = props;
  const th = thread(c.id);
  const rid = replyId(m);
  const quoted = rid != null ? th.byId.get(rid) ?? (typeof m.reply_to === 'object' ? (m.reply_to as any) : null) : null;
  // The recall button shows only while a recall can succeed: within the window for one's own messages
  // (group owners and admins may recall any message); it disappears when the window closes.
  const windowMs = (S.config.recall_window_minutes ?? 2) * 60000;
  const left = mine && !props.canModerate ? Date.parse(m.created_at) + windowMs - Date.now() : 0;
  const [, tick] = useState(0);
  useEffect(() => { if (left > 0 && !m.recalled) { const h = setTimeout(() => tick((x) => x + 1), left + 50); return () => clearTimeout(h); } }, [m.id, left > 0, m.recalled]);
  const recallable = !m.recalled && (props.canModerate || (mine && left > 0));
  async function recall() {
    if (m.text) recalledTexts.set(m.id, m.text); // memory only: for 重新编辑
    try { await post(`/messages/${m.id}/recall`); } catch (e) { recalledTexts.delete(m.id); showError(e); }
  }
  const reedit = mine && m.recalled ? recalledTexts.get(m.id) : undefined;
  const [confirmRecall, setConfirmRecall] = useState(false);
  const images = (m.attachments || []).filter((a) => a.kind === 'image' || a.mime?.startsWith('image/'));
  const files = (m.attachments || []).filter((a) => !images.includes(a));
  return (
    <div class={'msg-row' + (mine ? ' mine' : '') + (m.urgent ? ' urgent' : '') + (props.cont && !m.urgent ? ' cont' : '')} data-mid={m.id} data-seq={m.seq}>
      <SelectBox m={m} c={c} />
      {!mine && (props.cont && !m.urgent ? <span class="avatar-gap" /> : <Avatar name={m.sender.name} id={m.sender.id} size={34} />)}
      <div class="msg-col">
        <div class="msg-meta">
          {!mine && <span class="msg-sender" data-testid="message-sender">{m.sender.name}</span>}
          <span class="msg-time">{fmtTime(m.created_at)}</span>
          {m.urgent && <span class="badge urgent">{t('urgent_mark')}</span>}
        </div>
        {quoted && (
          <div class="quote" data-testid="message-quote">
            <b>{quoted.sender?.name}</b>{locale === 'en' ? ': ' : '：'}{quoted.recalled ? t('recalled') : (quoted.text || (quoted.attachments?.length ? t('image_message') : ''))}
          </div>
        )}
        <div class={'bubble' + (m.recalled ? ' recalled' : '') + (m.content_destroyed ? ' destroyed' : '')} data-testid="message" data-message-id={m.id}
          data-destroyed={m.content_destroyed ? 'true' : undefined} title={m.content_destroyed ? t('content_destroyed_hint') : undefined} {...menuHandlers(m)}>
          {m.recalled ? (reedit != null
            ? <span class="recalled-note">{t('you_recalled')} <button class="link" data-testid="reedit" onClick={() => restoreDraft(c.id, reedit)}>{t('reedit')}</button></span>
            : t('recalled')) : (
            <>
              {m.kind === 'merged' ? <MergedCard m={m} /> : m.text && <MessageText text={m.text} members={c.members} />}
              {images.map((a) => (
                <img class="msg-img" src={`/api/v1/attachments/${a.id}/thumbnail`} alt={a.filename || t('image')} title={a.filename || ''}
                  data-testid="message-image" loading="lazy" onClick={() => props.onPreview(a.id)}
                  ref={(el) => { if (el && a.width && a.height) { const w = Math.min(240, a.width); el.style.width = w + 'px'; el.style.aspectRatio = `${a.width} / ${a.height}`; } }} />
              ))}
              {files.map((a) => <span class="file-line"><FileChip a={a} /><PreviewButton a={a} /></span>)}
            </>
          )}
        </div>
        <Reactions m={m} />
        <div class="msg-foot">
          {m.edited && !m.recalled && <span class="edited" data-testid="message-edited">({t('edited')})</span>}
          {m.dlp?.action === 'mask' && !m.recalled && <span class="masked-mark" data-testid="masked-mark" title={t('dlp_masked_hint')}>{t('dlp_masked_mark')}</span>}
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
        {mine && !m.recalled && !m.content_destroyed && !m.attachments?.length && m.kind !== 'merged' && <button class="icon-btn" title={t('edit')} data-testid="action-edit" onClick={() => props.onEdit(m)}><Icon name="edit" size={16} /></button>}
        {recallable && <button class="icon-btn" title={t('recall')} data-testid="action-recall" onClick={() => setConfirmRecall(true)}><Icon name="recall" size={16} /></button>}
      </div>
      {confirmRecall && (
        <Modal title={t('recall')} onClose={() => setConfirmRecall(false)} testid="recall-dialog">
          <p>{t('recall_confirm')}</p>
          <div class="row-end">
            <button data-testid="dialog-cancel" onClick={() => setConfirmRecall(false)}>{t('cancel')}</button>
            <button class="danger" data-testid="dialog-ok" onClick={() => { setConfirmRecall(false); recall(); }}>{t('recall')}</button>
          </div>
        </Modal>
      )}
    </div>
  );
}

export function fmtSize(n?: number): string {
  if (n == null) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

// A file in a message: its name and size, and whether it may be downloaded yet (D7: only once scanned).
function FileChip({ a }: { a: Attachment }) {
  const name = a.filename || t('file_message');
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

export function ReceiptsModal({ m, onClose }: { m: Message; onClose: () => void }) {
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

export function PendingItem({ p }: { p: Pending }) {
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
