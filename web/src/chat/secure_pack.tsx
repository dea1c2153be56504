// The secure pack dialog.
import { useState } from 'preact/hooks';
import { api, uuid } from '../api';
import { t } from '../i18n';
import { Conversation, Message, ingest } from '../store';
import { Icon, Modal } from '../ui';
import { fmtSize } from './message_item';
import { handleSendError } from './send_errors';

const PACK_RULES = [
  ['min_length', (p: string) => p.length >= 8],
  ['letters', (p: string) => /\p{L}/u.test(p)],
  ['digits', (p: string) => /\d/.test(p)],
  ['symbols', (p: string) => /[^\p{L}\d\s]/u.test(p)],
] as const;

// D2: important documents travel as an AES-256 archive whose password the sender gives by phone.
export function SecurePack({ c, onClose }: { c: Conversation; onClose: () => void }) {
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
    } catch (e) { handleSendError(e, () => {}, true); } finally { setBusy(false); }
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
