// 个人网盘 (the 网盘 tab) and 群文件 (a group's file space, from its header): one file browser for both.
// Uploads go in verified 4 MiB chunks and resume after a dropped connection; downloads are plain links
// (the server streams them, with Range).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, del, get, patch, post, uuid } from './api';
import { locale, t } from './i18n';
import { S, changed, convTitle, showError, toast, useStore } from './store';
import { Modal, fmtTime } from './ui';
import { sha256Hex } from './sha256';

import type { DriveItem, DriveItems, DriveListing, DriveRemovedItem, DriveSentFile, DriveUpload } from './api-types';

/** A row of the browser: a drive or group space item, or (at a group's root) a file sent in its chat. */
export type Item = DriveItem | DriveSentFile;
type Upload = { key: string; name: string; size: number; sent: number; state: 'running' | 'retrying' | 'done' | 'failed'; error?: string };

export function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024; let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function putChunk(id: string, index: number, body: Uint8Array<ArrayBuffer>, sha: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`/api/v1/drive/uploads/${id}/chunks/${index}`, {
      method: 'PUT', body, credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Chunk-SHA256': sha, 'Accept-Language': locale === 'en' ? 'en' : 'zh-CN' },
    });
  } catch {
    throw new ApiError(0, 'network_error', t('error_network'));
  }
  if (!res.ok) {
    let err: any = {};
    try { err = (await res.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || t('error_generic'), err);
  }
}

/** One file through the chunked upload; resumes (asks the server what it holds) after a network error. */
export async function uploadFile(file: File, where: { parent_id: number | null; conversation_id?: number },
  progress: (sent: number) => void, confirmDlp: (e: ApiError) => Promise<boolean>): Promise<DriveItem> {
  const up = await post<DriveUpload>('/drive/uploads', { name: file.name, size: file.size, parent_id: where.parent_id, conversation_id: where.conversation_id ?? null });
  let received = new Set<number>();
  const total = up.chunks;
  const size = up.chunk_size;
  let failures = 0;
  for (let i = 0; i < total; i++) {
    if (received.has(i)) continue;
    const part = new Uint8Array(await file.slice(i * size, Math.min(file.size, (i + 1) * size)).arrayBuffer());
    try {
      await putChunk(up.id, i, part, await sha256Hex(part));
      failures = 0;
      progress(Math.min(file.size, (i + 1) * size));
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 0 && e.status < 500) || ++failures > 8) throw e;
      await sleep(Math.min(8000, 500 * 2 ** failures));
      try { received = new Set((await get<DriveUpload>(`/drive/uploads/${up.id}`)).received); } catch { /* still away */ }
      i = -1; // start over from the first chunk the server lacks
    }
  }
  try {
    return await post<DriveItem>(`/drive/uploads/${up.id}/complete`, {});
  } catch (e) {
    if (e instanceof ApiError && e.code === 'dlp_confirm_required' && await confirmDlp(e)) {
      return await post<DriveItem>(`/drive/uploads/${up.id}/complete`, { confirm: true });
    }
    throw e;
  }
}

function scanLabel(s?: string | null) {
  if (!s) return '';
  const key = 'drive_scan_' + s;
  const v = t(key);
  return v === key ? s : v;
}

// A question in the page's own dialog (never window.confirm): DLP confirmations, deleting for good.
let pending: { text: string; resolve: (ok: boolean) => void } | null = null;
function ask(text: string): Promise<boolean> {
  return new Promise((resolve) => { pending?.resolve(false); pending = { text, resolve }; changed(); });
}
function AskDialog() {
  useStore();
  if (!pending) return null;
  const p = pending;
  const done = (ok: boolean) => { pending = null; changed(); p.resolve(ok); };
  return (
    <Modal title={t('confirm')} onClose={() => done(false)} testid="drive-confirm">
      <div class="stack">
        <div data-testid="drive-confirm-text">{p.text}</div>
        <div class="row-end"><button data-testid="dialog-cancel" onClick={() => done(false)}>{t('cancel')}</button><button class="primary" data-testid="dialog-ok" onClick={() => done(true)}>{t('confirm')}</button></div>
      </div>
    </Modal>
  );
}

function findingsText(e: ApiError): string {
  const f = (e.detail.findings || []) as { masked?: string }[];
  return f.map((x) => x.masked).filter(Boolean).join('、');
}

export function FileSpace({ conversationId }: { conversationId?: number }) {
  useStore();
  const group = conversationId != null;
  const [parent, setParent] = useState<number | null>(null);
  const [list, setList] = useState<DriveListing | null>(null);
  const [q, setQ] = useState('');
  const [view, setView] = useState<'files' | 'trash' | 'unused'>('files');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dialog, setDialog] = useState<{ kind: 'folder' | 'rename' | 'move' | 'share' | 'report'; item?: DriveItem } | null>(null);
  const [removed, setRemoved] = useState<DriveRemovedItem[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const base = group ? `/conversations/${conversationId}/space` : '/drive';

  async function load(p = parent, query = q) {
    const params = new URLSearchParams();
    if (p != null && !query.trim()) params.set('parent_id', String(p));
    if (query.trim()) params.set('q', query.trim());
    try { setList(await get<DriveListing>(`${base}${params.toString() ? '?' + params : ''}`)); } catch (e) { showError(e); }
  }
  useEffect(() => { if (view === 'files') load(parent); }, [parent, conversationId, view]);
  useEffect(() => { if (!group) get<{ items: DriveRemovedItem[] }>('/drive/removed').then((r) => setRemoved(r.items || []), () => {}); }, []);
  // Live: a member's upload in this group's space, a removal or a handover into this drive.
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const f = (e: Event) => {
      const d = (e as CustomEvent).detail || {};
      if (group ? d.conversation_id === conversationId : d.type !== 'drive.space_changed') latest.current();
      if (!group && d.type === 'drive.removed') get<{ items: DriveRemovedItem[] }>('/drive/removed').then((r) => setRemoved(r.items || []), () => {});
    };
    window.addEventListener('mixun-drive', f);
    return () => window.removeEventListener('mixun-drive', f);
  }, [conversationId]);

  function open(id: number | null) { setQ(''); setParent(id); }

  async function upload(files: File[]) {
    for (const f of files) {
      const key = uuid();
      const row: Upload = { key, name: f.name, size: f.size, sent: 0, state: 'running' };
      setUploads((u) => [...u, row]);
      const update = (patch_: Partial<Upload>) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, ...patch_ } : x)));
      try {
        await uploadFile(f, { parent_id: parent, conversation_id: conversationId }, (sent) => update({ sent }),
          (e) => ask(t('drive_dlp_confirm', { what: findingsText(e) })));
        update({ sent: f.size, state: 'done' });
        setTimeout(() => setUploads((u) => u.filter((x) => x.key !== key)), 4000);
      } catch (e) {
        update({ state: 'failed', error: e instanceof ApiError ? e.message : t('error_generic') });
      }
      load();
    }
  }

  async function act(f: () => Promise<any>, done?: string) {
    try { await f(); if (done) toast(done); await load(); } catch (e) { showError(e); }
  }
  const manage = (it: Item) => !group || it.uploader_id === S.me?.id || list?.role === 'owner' || list?.role === 'admin';
  const href = (it: Item) => (it.source === 'message' ? `/api/v1/attachments/${it.id}` : `/api/v1/drive/items/${it.id}/content`);
  const usage = list?.usage;
  const rows = list ? [...list.items, ...(list.sent_files || [])] : [];

  return (
    <div class={'drive' + (group ? ' in-group' : '')} data-testid={group ? 'group-files' : 'drive-view'}>
      {!group && (
        <nav class="admin-tabs drive-tabs" role="tablist">
          <button role="tab" class={view === 'files' ? 'active' : ''} data-testid="drive-tab-files" onClick={() => setView('files')}>{t('drive_my_files')}</button>
          <button role="tab" class={view === 'unused' ? 'active' : ''} data-testid="drive-tab-unused" onClick={() => setView('unused')}>{t('drive_unused')}</button>
          <button role="tab" class={view === 'trash' ? 'active' : ''} data-testid="drive-tab-trash" onClick={() => setView('trash')}>{t('drive_trash')}</button>
        </nav>
      )}
      {!group && removed.length > 0 && (
        <div class="drive-notice" data-testid="drive-removed-notice">
          {removed.slice(0, 3).map((r) => <div>{t('drive_removed_notice', { name: r.name, reason: r.reason })}</div>)}
        </div>
      )}
      {view === 'trash' && <Trash />}
      {view === 'unused' && <Unused />}
      {view === 'files' && (
        <>
          {usage && (
            <div class="drive-usage" data-testid="drive-usage">
              <div class="bar"><span ref={(el) => { if (el) el.style.width = Math.min(100, (usage.used / Math.max(1, usage.quota)) * 100) + '%'; }} /></div>
              <span class="muted small">{t('drive_usage', { used: fmtSize(usage.used), quota: fmtSize(usage.quota), limit: fmtSize(usage.file_limit) })}</span>
            </div>
          )}
          <div class="drive-bar">
            <input type="search" class="search" data-testid="drive-search" placeholder={t('drive_search')} value={q}
              onInput={(e) => setQ(e.currentTarget.value)} onKeyDown={(e) => { if (e.key === 'Enter') load(parent, q); }} />
            <button data-testid="drive-search-go" onClick={() => load(parent, q)}>{t('search')}</button>
            <button data-testid="drive-new-folder" onClick={() => setDialog({ kind: 'folder' })}>{t('drive_new_folder')}</button>
            <button class="primary" data-testid="drive-upload" onClick={() => input.current?.click()}>{t('drive_upload')}</button>
            <input ref={input} type="file" multiple hidden data-testid="drive-upload-input"
              onChange={(e) => { const fs = Array.from(e.currentTarget.files || []); e.currentTarget.value = ''; upload(fs); }} />
          </div>
          <div class="crumbs" data-testid="drive-path">
            <button class="link" onClick={() => open(null)}>{group ? t('group_files') : t('drive')}</button>
            {(list?.path || []).map((p) => <> / <button class="link" onClick={() => open(p.id)}>{p.name}</button></>)}
            {q.trim() && list && <span class="muted"> · {t('drive_search_results')}</span>}
          </div>
          {uploads.map((u) => (
            <div class={'upload-row ' + u.state} data-testid="drive-upload-progress">
              <span class="name">{u.name}</span>
              <progress max={u.size} value={u.sent} />
              <span class="muted small">{u.state === 'failed' ? u.error : u.state === 'done' ? t('drive_uploaded') : `${Math.floor((u.sent / Math.max(1, u.size)) * 100)}%`}</span>
            </div>
          ))}
          <table class="grid drive-grid">
            <thead><tr><th>{t('drive_name')}</th><th class="hide-narrow">{t('drive_size')}</th><th class="hide-narrow">{t('drive_uploader')}</th><th class="hide-narrow">{t('time')}</th><th>{t('drive_scan')}</th><th /></tr></thead>
            <tbody>
              {rows.map((it) => (
                <tr data-testid="drive-row" data-name={it.name} data-kind={it.kind}>
                  <td class="name">
                    {it.kind === 'folder'
                      ? <button class="link" data-testid="drive-open" onClick={() => open(it.id)}>📁 {it.name}</button>
                      : <a href={href(it)} download={it.name ?? ''} data-testid="drive-download">{it.name}</a>}
                    {it.source === 'message' && <span class="tag small">{t('drive_from_chat')}</span>}
                    {it.source === 'drive' && it.handed_from_name && <span class="tag small">{t('drive_handed', { name: it.handed_from_name })}</span>}
                  </td>
                  <td class="hide-narrow">{it.kind === 'file' ? fmtSize(it.size) : ''}</td>
                  <td class="hide-narrow">{it.uploader_name}</td>
                  <td class="hide-narrow">{fmtTime(it.created_at, true)}</td>
                  <td>{it.kind === 'file' ? <span class={'scan scan-' + it.scan_status}>{scanLabel(it.scan_status)}</span> : ''}</td>
                  <td class="actions">
                    {it.source === 'drive' && it.kind === 'file' && <button class="link" data-testid="drive-share" onClick={() => setDialog({ kind: 'share', item: it })}>{t('drive_share')}</button>}
                    {it.source === 'drive' && manage(it) && <button class="link" data-testid="drive-rename" onClick={() => setDialog({ kind: 'rename', item: it })}>{t('drive_rename')}</button>}
                    {it.source === 'drive' && manage(it) && <button class="link" data-testid="drive-move" onClick={() => setDialog({ kind: 'move', item: it })}>{t('drive_move')}</button>}
                    {it.source === 'drive' && manage(it) && <button class="link danger" data-testid="drive-delete" onClick={() => act(() => del(`/drive/items/${it.id}`), group ? t('drive_deleted_group') : t('drive_deleted'))}>{t('delete')}</button>}
                    {it.source === 'drive' && it.kind === 'file' && group && it.uploader_id !== S.me?.id && <button class="link" data-testid="drive-report" onClick={() => setDialog({ kind: 'report', item: it })}>{t('drive_report')}</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list && rows.length === 0 && <div class="muted pad" data-testid="drive-empty">{q.trim() ? t('drive_nothing_found') : t('drive_empty')}</div>}
        </>
      )}
      {dialog?.kind === 'folder' && <NameDialog title={t('drive_new_folder')} initial="" onClose={() => setDialog(null)}
        onOk={(name) => act(() => post('/drive/folders', { name, parent_id: parent, conversation_id: conversationId ?? null }))} />}
      {dialog?.kind === 'rename' && dialog.item && <NameDialog title={t('drive_rename')} initial={dialog.item.name} onClose={() => setDialog(null)}
        onOk={(name) => act(() => patch(`/drive/items/${dialog.item!.id}`, { name }))} />}
      {dialog?.kind === 'move' && dialog.item && <MoveDialog item={dialog.item} base={base} onClose={() => setDialog(null)}
        onOk={(target) => act(() => post(`/drive/items/${dialog.item!.id}/move`, { parent_id: target }), t('drive_moved'))} />}
      {dialog?.kind === 'share' && dialog.item && <ShareDialog item={dialog.item} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'report' && dialog.item && <ReportDialog item={dialog.item} onClose={() => setDialog(null)} />}
      <AskDialog />
    </div>
  );
}

function NameDialog({ title, initial, onOk, onClose }: { title: string; initial: string; onOk: (name: string) => void; onClose: () => void }) {
  const [name, setName] = useState(initial);
  return (
    <Modal title={title} onClose={onClose} testid="drive-name-dialog">
      <form class="stack" onSubmit={(e) => { e.preventDefault(); if (name.trim()) { onOk(name.trim()); onClose(); } }}>
        <input data-testid="drive-name-input" value={name} maxLength={255} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
        <div class="row-end"><button type="button" data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button><button class="primary" type="submit" data-testid="dialog-ok" disabled={!name.trim()}>{t('confirm')}</button></div>
      </form>
    </Modal>
  );
}

function MoveDialog({ item, base, onOk, onClose }: { item: DriveItem; base: string; onOk: (target: number | null) => void; onClose: () => void }) {
  const [at, setAt] = useState<number | null>(null);
  const [list, setList] = useState<DriveListing | null>(null);
  useEffect(() => { get<DriveListing>(`${base}${at != null ? '?parent_id=' + at : ''}`).then(setList, showError); }, [at]);
  const folders = (list?.items || []).filter((i) => i.kind === 'folder' && i.id !== item.id);
  return (
    <Modal title={t('drive_move_to', { name: item.name })} onClose={onClose} testid="drive-move-dialog">
      <div class="stack">
        <div class="crumbs"><button class="link" onClick={() => setAt(null)}>{t('drive_root')}</button>{(list?.path || []).map((p) => <> / <button class="link" onClick={() => setAt(p.id)}>{p.name}</button></>)}</div>
        <ul class="people small">{folders.map((f) => <li class="person-row" data-testid="drive-move-folder"><button class="link" onClick={() => setAt(f.id)}>📁 {f.name}</button></li>)}</ul>
        {folders.length === 0 && <div class="muted small">{t('drive_no_subfolders')}</div>}
        <div class="row-end"><button data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button><button class="primary" data-testid="dialog-ok" onClick={() => { onOk(at); onClose(); }}>{t('drive_move_here')}</button></div>
      </div>
    </Modal>
  );
}

function ShareDialog({ item, onClose }: { item: DriveItem; onClose: () => void }) {
  const convs = Array.from(S.convs.values());
  const [busy, setBusy] = useState(false);
  async function share(id: number) {
    setBusy(true);
    const body = { conversation_id: id, client_id: uuid() };
    try {
      try { await post(`/drive/items/${item.id}/share`, body); } catch (e) {
        if (e instanceof ApiError && e.code === 'dlp_confirm_required' && await ask(t('drive_dlp_confirm', { what: findingsText(e) }))) {
          await post(`/drive/items/${item.id}/share`, { ...body, confirm: true });
        } else throw e;
      }
      toast(t('drive_shared')); onClose();
    } catch (e) { showError(e); } finally { setBusy(false); }
  }
  return (
    <Modal title={t('drive_share_to', { name: item.name })} onClose={onClose} testid="drive-share-dialog">
      <ul class="people small">{convs.map((c) => (
        <li class="person-row" data-testid="drive-share-target" data-conversation-id={c.id}><button class="link" disabled={busy} onClick={() => share(c.id)}>{convTitle(c)}</button></li>
      ))}</ul>
      <div class="muted small">{t('drive_share_hint')}</div>
    </Modal>
  );
}

function ReportDialog({ item, onClose }: { item: DriveItem; onClose: () => void }) {
  const [reason, setReason] = useState('');
  return (
    <Modal title={t('drive_report_title', { name: item.name })} onClose={onClose} testid="drive-report-dialog">
      <div class="stack">
        <textarea data-testid="drive-report-reason" rows={3} maxLength={500} value={reason} placeholder={t('drive_report_placeholder')} onInput={(e) => setReason(e.currentTarget.value)} />
        <div class="row-end"><button data-testid="dialog-cancel" onClick={onClose}>{t('cancel')}</button>
          <button class="primary" data-testid="dialog-ok" disabled={reason.trim().length < 4} onClick={async () => {
            try { await post(`/drive/items/${item.id}/report`, { reason: reason.trim() }); toast(t('drive_reported')); onClose(); } catch (e) { showError(e); }
          }}>{t('drive_report')}</button></div>
      </div>
    </Modal>
  );
}

function Trash() {
  const [r, setR] = useState<DriveItems | null>(null);
  const load = () => get<DriveItems>('/drive/trash').then(setR, showError);
  useEffect(() => { load(); }, []);
  const act = (f: () => Promise<any>) => async () => { try { await f(); load(); } catch (e) { showError(e); } };
  return (
    <div data-testid="drive-trash">
      <div class="muted small pad">{t('drive_trash_hint', { days: r?.days ?? 30 })}</div>
      <table class="grid drive-grid"><tbody>{(r?.items || []).map((it) => (
        <tr data-testid="drive-trash-row" data-name={it.name}>
          <td class="name">{it.kind === 'folder' ? '📁 ' : ''}{it.name}</td>
          <td class="hide-narrow">{it.kind === 'file' ? fmtSize(it.size) : ''}</td>
          <td class="muted small">{t('drive_purge_at', { when: fmtTime(it.purge_at || '', true) })}</td>
          <td class="actions">
            <button class="link" data-testid="drive-restore" onClick={act(() => post(`/drive/trash/${it.id}/restore`))}>{t('drive_restore')}</button>
            <button class="link danger" data-testid="drive-purge" onClick={async () => { if (await ask(t('drive_purge_confirm', { name: it.name }))) act(() => api('DELETE', `/drive/trash/${it.id}`))(); }}>{t('drive_purge')}</button>
          </td>
        </tr>
      ))}</tbody></table>
      {r && r.items.length === 0 && <div class="muted pad">{t('drive_trash_empty')}</div>}
    </div>
  );
}

function Unused() {
  const [r, setR] = useState<DriveItems | null>(null);
  const load = () => get<DriveItems>('/drive/unused').then(setR, showError);
  useEffect(() => { load(); }, []);
  const act = (f: () => Promise<any>) => async () => { try { await f(); load(); } catch (e) { showError(e); } };
  return (
    <div data-testid="drive-unused">
      <div class="muted small pad">{t('drive_unused_hint', { days: r?.days ?? 180 })}</div>
      <table class="grid drive-grid"><tbody>{(r?.items || []).map((it) => (
        <tr data-testid="drive-unused-row" data-name={it.name}>
          <td class="name">{it.name}</td><td class="hide-narrow">{fmtSize(it.size)}</td>
          <td class="muted small">{t('drive_last_opened', { when: fmtTime(it.last_opened_at, true) })}</td>
          <td class="actions">
            <button class="link" data-testid="drive-keep" onClick={act(() => post(`/drive/items/${it.id}/keep`))}>{t('drive_keep')}</button>
            <button class="link danger" data-testid="drive-unused-delete" onClick={act(() => del(`/drive/items/${it.id}`))}>{t('delete')}</button>
          </td>
        </tr>
      ))}</tbody></table>
      {r && r.items.length === 0 && <div class="muted pad">{t('drive_unused_empty')}</div>}
    </div>
  );
}

/** 网盘 tab. */
export function DriveView() {
  return <div class="drive-page"><h2 class="page-title">{t('drive')}</h2><FileSpace /></div>;
}

/** 群文件, opened from a group's header. */
export function GroupFilesPanel({ conversationId, onClose }: { conversationId: number; onClose: () => void }) {
  const c = S.convs.get(conversationId);
  return (
    <Modal title={`${c ? convTitle(c) : ''} · ${t('group_files')}`} onClose={onClose} wide testid="group-files-panel">
      <FileSpace conversationId={conversationId} />
    </Modal>
  );
}
