// The composer: text with @mentions, editing and replying, images, files and the secure pack button.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, patch, uuid } from '../api';
import { t } from '../i18n';
import { Conversation, Member, Message, S, allowed, draftOf, ingest, offReason, refreshConfig, sendText, setDraft, toast } from '../store';
import { Avatar, Icon } from '../ui';
import { handleSendError } from './send_errors';
import { SecurePack } from './secure_pack';
import { useMentionCandidates } from './mention_search';

/** Where files dropped on the open conversation go (the composer sets it). */
export const dropTarget: { current: ((files: File[]) => void) | null } = { current: null };

export function Composer({ c, replyTo, editing, clear }: { c: Conversation; replyTo: Message | null; editing: Message | null; clear: () => void }) {
  const [text, setText] = useState('');
  const [urgent, setUrgent] = useState(false);
  const [mention, setMention] = useState<{ q: string; at: number; idx: number } | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const docInput = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [packing, setPacking] = useState(false);
  const max = S.config.max_message_length || 5000;

  useEffect(() => { setText(draftOf(c.id)); setUrgent(false); ta.current?.focus(); }, [c.id]);
  // A blocked send gives its text back (state/drafts.ts restoreDraft).
  useEffect(() => { if (S.draftRestored) { setText(draftOf(c.id)); ta.current?.focus(); } }, [S.draftRestored]);
  useEffect(() => { if (editing) { setText(editing.text); ta.current?.focus(); } }, [editing]);
  useEffect(() => { if (replyTo) ta.current?.focus(); }, [replyTo]);
  useEffect(() => {
    const el = ta.current; if (!el) return;
    el.style.height = 'auto'; el.style.height = Math.min(200, el.scrollHeight) + 'px';
  }, [text]);

  const candidates = useMentionCandidates(c, mention ? mention.q : null);

  function update(v: string) {
    setText(v);
    setDraft(c.id, v);
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
    setText(v); setDraft(c.id, v); setMention(null);
    caretAfter.current = mention.at + m.name.length + 2;
  }
  // The caret goes after a picked mention in the same render that writes the text (never a frame later,
  // when the next typed characters would land before it).
  const caretAfter = useRef<number | null>(null);
  useLayoutEffect(() => {
    const pos = caretAfter.current, el = ta.current;
    if (pos == null || !el) return;
    caretAfter.current = null;
    el.focus(); el.setSelectionRange(pos, pos);
  }, [text]);

  async function submit() {
    const v = text.replace(/\s+$/, '');
    if (!v.trim()) return;
    if (v.length > max) { toast(`≤ ${max}`, 'error'); return; }
    if (editing) {
      try {
        const m = await patch<Message>(`/messages/${editing.id}`, { text: v });
        if (m && m.id) ingest({ ...m, conversation_id: m.conversation_id ?? c.id });
        setText(''); setDraft(c.id, ''); clear();
      } catch (e) { handleSendError(e, () => {}); }
      return;
    }
    sendText(c.id, v, urgent, replyTo?.id);
    setText(''); setDraft(c.id, ''); setUrgent(false); clear();
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
    } catch (e) { handleSendError(e, () => {}, true); }
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
    } catch (e) { handleSendError(e, () => sendFile(f, true, clientId), true); } finally { setBusy(false); }
  }

  // Pasted or dropped files: images go as images, everything else as documents (scanned, DLP-checked).
  function sendFiles(files: File[]) { for (const f of files) upload(f); }
  function onPaste(e: ClipboardEvent) {
    const items = Array.from(e.clipboardData?.files || []);
    if (items.length) { e.preventDefault(); sendFiles(items); }
  }
  useEffect(() => { dropTarget.current = sendFiles; return () => { dropTarget.current = null; }; });

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
        {allowed('send_files') ? (<>
        <button class="icon-btn" title={t('image')} data-testid="image-button" onClick={() => file.current?.click()}><Icon name="image" size={20} /></button>
        <input type="file" accept="image/*" class="hidden" data-testid="image-input" ref={file}
          onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) upload(f); e.currentTarget.value = ''; }} />
        <button class="icon-btn" title={t('file')} data-testid="file-button" disabled={busy} onClick={() => docInput.current?.click()}><Icon name="file" size={20} /></button>
        <input type="file" class="hidden" data-testid="file-input" ref={docInput}
          onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) sendFile(f); e.currentTarget.value = ''; }} />
        <button class="icon-btn" title={t('secure_pack')} data-testid="pack-button" onClick={() => setPacking(true)}><Icon name="lock" size={20} /></button>
        </>) : <span class="files-off muted small" data-testid="files-off" title={offReason('send_files')}>{offReason('send_files')}</span>}
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
