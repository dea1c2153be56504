// compliance's archive search: a reason (category + what the case is), filters by person, unit,
// conversation and date; each hit says who wrote to whom, when and where, with the found words marked;
// the conversation opens around a hit; a masked message's original is its own, reason-gated request.
// Beside the messages, 群文件: what members put straight into groups' file spaces (deleted or moved
// ones included), by name, uploader, group and date, each with what members did to it.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, get } from './api';
import { locale, t } from './i18n';
import { showError, toast } from './store';
import { Icon, Modal, fmtTime } from './ui';
import { REASON_CATEGORIES, REASON_MIN, word } from './labels_compliance';
import { fmtSize } from './drive';
import type { AccessRequestFiled, ArchiveConversation, ArchiveOriginal, ArchiveSearch, ArchiveVersion, Attachment, GroupFile, GroupFileEvent, GroupFiles as GroupFilesAnswer } from './api-types';

const zh = () => locale !== 'en';
export type Why = { category: string; reason: string };

/** Why the officer is looking: a category and a free text of at least REASON_MIN characters. */
// The rules are checked by reasonProblem (and again by the server) rather than by the browser's own
// validation bubble, so the officer reads which rule, in the console's words.
export function ReasonFields({ why, setWhy, prefix }: { why: Why; setWhy: (w: Why) => void; prefix: string }) {
  const n = why.reason.trim().length;
  return (
    <div class="reason-fields">
      <label>{zh() ? '查阅理由类别' : 'Reason category'}
        <select data-testid={prefix + '-category'} aria-required="true" value={why.category} onChange={(e) => setWhy({ ...why, category: e.currentTarget.value })}>
          <option value="">{zh() ? '请选择…' : 'Choose…'}</option>
          {REASON_CATEGORIES.map((c) => <option value={c}>{word(c)}</option>)}
        </select>
      </label>
      <label class="grow">{zh() ? `具体事由（至少 ${REASON_MIN} 个字）` : `What the case is (${REASON_MIN}+ characters)`}
        <input data-testid={prefix + '-reason'} aria-required="true" maxLength={500} value={why.reason}
          placeholder={zh() ? '例如：人民银行现场检查调阅 2026 年第三季度授信往来' : 'e.g. central bank on-site inspection, Q3 credit'}
          onInput={(e) => setWhy({ ...why, reason: e.currentTarget.value })} />
        <span class={'muted small' + (n && n < REASON_MIN ? ' warn' : '')} data-testid={prefix + '-reason-count'}>{n}/{REASON_MIN}</span>
      </label>
    </div>
  );
}

/** The rule a reason breaks, in words, or null when it is acceptable (the server checks again). */
export function reasonProblem(why: Why): string | null {
  if (!why.category) return zh() ? '请选择查阅理由类别' : 'Choose a reason category';
  if (why.reason.trim().length < REASON_MIN) return zh() ? `具体事由至少 ${REASON_MIN} 个字` : `The reason needs ${REASON_MIN}+ characters`;
  return null;
}

function dayIso(v: string, end = false): string | undefined {
  if (!v) return undefined;
  const d = new Date(v + (end ? 'T23:59:59.999' : 'T00:00:00'));
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The snippet with each hit in <mark>; text only, never HTML. */
export function Snippet({ sn, fallback }: { sn?: { text: string; start: number; hits: number[][] }; fallback: string }) {
  if (!sn) return <span>{fallback}</span>;
  const parts: any[] = [];
  let at = 0;
  for (const [a, b] of sn.hits) {
    if (a > at) parts.push(sn.text.slice(at, a));
    parts.push(<mark data-testid="archive-hit">{sn.text.slice(a, b)}</mark>);
    at = b;
  }
  parts.push(sn.text.slice(at));
  return <span>{sn.start > 0 ? '…' : ''}{parts}{sn.start + sn.text.length < fallback.length ? '…' : ''}</span>;
}

function whoToWhom(r: ArchiveVersion): string {
  const to = (r.recipients || []).map((p) => p.name).join('、');
  const more = (r.recipient_count || 0) > (r.recipients || []).length ? (zh() ? ` 等 ${r.recipient_count} 人` : ` and others (${r.recipient_count})`) : '';
  return `${r.sender?.name || ''} → ${to || (zh() ? '（无其他成员）' : '(nobody else)')}${more}`;
}

const EMPTY = { q: '', sender: '', participant: '', unit: '', conversation: '', since: '', until: '' };

export function Archive() {
  const [mode, setMode] = useState<'messages' | 'files'>('messages');
  // One reason for both: the officer's case does not change with the tab.
  const [why, setWhy] = useState<Why>({ category: '', reason: '' });
  return (
    <div data-testid="admin-archive">
      <nav class="admin-tabs archive-modes" role="tablist">
        {(['messages', 'files'] as const).map((m) => (
          <button role="tab" aria-selected={mode === m} class={mode === m ? 'active' : ''} data-testid={'archive-mode-' + m}
            onClick={() => setMode(m)}>{t('archive_mode_' + m)}</button>
        ))}
      </nav>
      {mode === 'messages' ? <Messages why={why} setWhy={setWhy} /> : <GroupFiles why={why} setWhy={setWhy} />}
    </div>
  );
}

function Messages({ why, setWhy }: { why: Why; setWhy: (w: Why) => void }) {
  const [f, setF] = useState({ ...EMPTY });
  const [err, setErr] = useState<string | null>(null);
  const [res, setRes] = useState<ArchiveVersion[] | null>(null);
  const [convTitle, setConvTitle] = useState('');
  const [ctxOf, setCtxOf] = useState<ArchiveVersion | null>(null);
  const [originals, setOriginals] = useState<Record<number, string>>({});
  const run = async (over: Partial<typeof EMPTY> = {}) => {
    const g = { ...f, ...over };
    const bad = reasonProblem(why);
    if (bad) { setErr(bad); return; }
    setErr(null);
    const qs = new URLSearchParams({ category: why.category, reason: why.reason.trim(), q: g.q.trim(), limit: '50' });
    if (g.sender.trim()) qs.set('sender_q', g.sender.trim());
    if (g.participant.trim()) qs.set('participant_q', g.participant.trim());
    if (g.unit.trim()) qs.set('unit', g.unit.trim());
    if (/^\d+$/.test(g.conversation)) qs.set('conversation_id', g.conversation);
    const since = dayIso(g.since), until = dayIso(g.until, true);
    if (since) qs.set('since', since);
    if (until) qs.set('until', until);
    try { setRes((await get<ArchiveSearch>(`/compliance/archive/search?${qs}`)).results || []); } catch (e) { setErr(e instanceof ApiError ? e.message : String(e)); }
  };
  const field = (k: keyof typeof EMPTY, lbl: string, type = 'text', ph = '') => (
    <label>{lbl}<input type={type} data-testid={'archive-' + k} placeholder={ph} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  const original = async (r: ArchiveVersion) => {
    const bad = reasonProblem(why);
    if (bad) { setErr(bad); return; }
    try {
      const out = await api<ArchiveOriginal | AccessRequestFiled>('POST', `/compliance/archive/versions/${r.version_id}/original`, { category: why.category, reason: why.reason.trim() });
      if ('status' in out) toast(zh() ? '已提交申请，须另一名合规人员批准后在“导出”页查看' : 'Request filed: another officer must approve it (see Exports)');
      else setOriginals({ ...originals, [r.version_id]: out.original_text });
    } catch (e) { showError(e); }
  };
  return (
    <div data-testid="archive-messages">
      <form class="admin-form" onSubmit={(e) => { e.preventDefault(); run(); }}>
        <ReasonFields why={why} setWhy={setWhy} prefix="archive" />
        {field('q', t('archive_query'), 'text', zh() ? '关键词，如：利率、授信' : 'Words, e.g. rate')}
        {field('sender', zh() ? '发送人' : 'Sender', 'text', zh() ? '姓名、用户名或工号' : 'Name, username, employee no.')}
        {field('participant', zh() ? '参与人' : 'Participant', 'text', zh() ? '姓名、用户名或工号' : 'Name, username, employee no.')}
        {field('unit', t('unit'), 'text', zh() ? '如：北京分行' : 'e.g. Beijing branch')}
        {field('since', t('since'), 'date')}{field('until', t('until'), 'date')}
        {f.conversation && (
          <span class="chip" data-testid="archive-conversation-filter">{zh() ? '会话：' : 'Conversation: '}{convTitle}
            <button type="button" class="link" aria-label={t('close')} onClick={() => { setF({ ...f, conversation: '' }); setConvTitle(''); }}>×</button></span>
        )}
        <button class="primary" type="submit" data-testid="archive-search">{t('search')}</button>
      </form>
      {err && <div class="form-error" role="alert" data-testid="archive-error">{err}</div>}
      <p class="hint">{t('archive_hint')}</p>
      {res && res.length === 0 && <div class="muted pad" data-testid="archive-empty">{t('no_results')}</div>}
      {res && res.length > 0 && (
        <table class="grid archive-grid">
          <thead><tr><th>{t('time')}</th><th>{zh() ? '发送人 → 接收人' : 'From → to'}</th><th>{zh() ? '会话' : 'Conversation'}</th><th>{t('archive_text')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>{res.map((r) => (
            <tr data-testid="archive-row" data-version-id={r.version_id}>
              <td>{fmtTime(r.created_at, true)}{r.kind !== 'created' ? <div><span class="badge">{word(r.kind)}</span></div> : null}</td>
              <td data-testid="archive-who">{whoToWhom(r)}{r.sender?.unit ? <div class="muted">{r.sender.unit}</div> : null}</td>
              <td><button class="link" data-testid="archive-conversation" title={zh() ? '只看此会话' : 'Only this conversation'}
                onClick={() => { setF({ ...f, conversation: String(r.conversation.id) }); setConvTitle(r.conversation.title); run({ conversation: String(r.conversation.id) }); }}>
                {r.conversation.title || (zh() ? '（未命名）' : '(untitled)')}</button> <span class="muted">{word(r.conversation.kind)}</span></td>
              <td class="wrap" data-testid="archive-snippet"><Snippet sn={r.snippet} fallback={r.text} />
                {r.dlp_action ? <span class="badge warn">{word(r.dlp_action)}</span> : null}
                {originals[r.version_id] != null && <div class="original" data-testid="archive-original">{zh() ? '原文：' : 'Original: '}{originals[r.version_id]}</div>}
                <ArchiveFiles atts={r.attachments} href={(a) => `/api/v1/compliance/archive/attachments/${a.id}?${new URLSearchParams({ category: why.category, reason: why.reason.trim() })}`} /></td>
              <td class="actions">
                <button class="link" data-testid="archive-open-context" onClick={() => setCtxOf(r)}>{zh() ? '查看上下文' : 'Context'}</button>
                {r.has_original && originals[r.version_id] == null && <button class="link" data-testid="archive-show-original" onClick={() => original(r)}>{zh() ? '查看原文' : 'Original'}</button>}
              </td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {ctxOf && <ContextDialog hit={ctxOf} why={why} onClose={() => setCtxOf(null)} />}
    </div>
  );
}

const GF_EMPTY = { q: '', person: '', group: '', since: '', until: '' };

/** A line of what was done to a group-space item: when, who, what. */
function historyLine(e: GroupFileEvent): string {
  const what = t('gfiles_ev_' + e.action, { old: e.old || '', to: e.to || t('gfiles_root'), reason: e.reason || '' });
  return `${fmtTime(e.at, true)} ${e.by || word(e.by_role) || ''} ${what.startsWith('gfiles_ev_') ? word(e.action) : what}`;
}

function stateLabel(r: GroupFile): string {
  if (r.state === 'deleted') return r.deleted_by ? t('gfiles_state_deleted', { name: r.deleted_by }) : t('gfiles_state_deleted_anon');
  return t('gfiles_state_' + r.state);
}

/** 群文件: files and folders members put into groups' spaces, found by name, uploader, group and date,
 * with where they are, who put them there, and what members did to them since. */
function GroupFiles({ why, setWhy }: { why: Why; setWhy: (w: Why) => void }) {
  const [f, setF] = useState({ ...GF_EMPTY });
  const [err, setErr] = useState<string | null>(null);
  const [res, setRes] = useState<GroupFile[] | null>(null);
  const run = async (over: Partial<typeof GF_EMPTY> = {}) => {
    const g = { ...f, ...over };
    const bad = reasonProblem(why);
    if (bad) { setErr(bad); return; }
    setErr(null);
    const qs = new URLSearchParams({ category: why.category, reason: why.reason.trim(), q: g.q.trim(), limit: '100' });
    if (g.person.trim()) qs.set('person_q', g.person.trim());
    if (g.group.trim()) qs.set('group_q', g.group.trim());
    const since = dayIso(g.since), until = dayIso(g.until, true);
    if (since) qs.set('since', since);
    if (until) qs.set('until', until);
    try { setRes((await get<GroupFilesAnswer>(`/compliance/archive/group-files?${qs}`)).results || []); } catch (e) { setErr(e instanceof ApiError ? e.message : String(e)); }
  };
  const field = (k: keyof typeof GF_EMPTY, lbl: string, type = 'text', ph = '') => (
    <label>{lbl}<input type={type} data-testid={'gfiles-' + k} placeholder={ph} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  const href = (r: GroupFile) => `/api/v1/compliance/archive/group-files/${r.id}/content?${new URLSearchParams({ category: why.category, reason: why.reason.trim() })}`;
  return (
    <div data-testid="archive-group-files">
      <form class="admin-form" onSubmit={(e) => { e.preventDefault(); run(); }}>
        <ReasonFields why={why} setWhy={setWhy} prefix="gfiles" />
        {field('q', t('gfiles_name'), 'text', t('gfiles_name_ph'))}
        {field('person', t('gfiles_person'), 'text', zh() ? '姓名、用户名或工号' : 'Name, username, employee no.')}
        {field('group', t('gfiles_group'), 'text', t('gfiles_group_ph'))}
        {field('since', t('since'), 'date')}{field('until', t('until'), 'date')}
        <button class="primary" type="submit" data-testid="gfiles-search">{t('search')}</button>
      </form>
      {err && <div class="form-error" role="alert" data-testid="gfiles-error">{err}</div>}
      <p class="hint">{t('gfiles_hint')}</p>
      {res && res.length === 0 && <div class="muted pad" data-testid="gfiles-empty">{t('no_results')}</div>}
      {res && res.length > 0 && (
        <table class="grid archive-grid">
          <thead><tr><th>{t('time')}</th><th>{t('gfiles_file')}</th><th>{t('gfiles_place')}</th><th>{t('gfiles_person')}</th><th>{t('gfiles_scan')}</th><th>{t('gfiles_state')}</th><th>{t('actions')}</th></tr></thead>
          <tbody>{res.map((r) => {
            const openable = r.kind === 'file' && r.content_kept && ['clean', 'unscanned'].includes(r.scan_status || '');
            return (
              <tr data-testid="gfiles-row" data-item-id={r.id} data-state={r.state}>
                <td>{fmtTime(r.created_at, true)}</td>
                <td class="wrap" data-testid="gfiles-name"><Icon name={r.kind === 'folder' ? 'folder' : 'file'} size={14} /> {r.name}
                  <div class="muted">{r.kind === 'folder' ? t('gfiles_folder') : fmtSize(r.size || 0)}</div></td>
                <td class="wrap"><button class="link" data-testid="gfiles-group-name" title={t('gfiles_only_group')}
                  onClick={() => { setF({ ...f, group: r.conversation.name }); run({ group: r.conversation.name }); }}>{r.conversation.name || (zh() ? '（未命名）' : '(untitled)')}</button>
                  <div class="muted" data-testid="gfiles-path">/{r.folder_path || t('gfiles_root')}</div></td>
                <td data-testid="gfiles-uploader">{r.uploader?.name}{r.uploader?.unit ? <div class="muted">{r.uploader.unit}</div> : null}</td>
                <td data-testid="gfiles-scan">{r.kind === 'file' ? t('drive_scan_' + r.scan_status) : ''}</td>
                <td class="wrap" data-testid="gfiles-state">
                  <span class={'badge' + (r.state === 'present' ? '' : ' warn')}>{stateLabel(r)}</span>
                  {r.state === 'removed' && r.removed_reason ? <span class="muted"> {r.removed_reason}</span> : null}
                  {r.moved ? <span class="badge">{t('gfiles_moved')}</span> : null}
                  {r.renamed ? <span class="badge">{t('gfiles_renamed')}</span> : null}
                  {r.history?.length > 0 && (
                    <details class="gfiles-history" data-testid="gfiles-history"><summary>{t('gfiles_history')}</summary>
                      <ul>{r.history.map((e) => <li>{historyLine(e)}</li>)}</ul>
                    </details>
                  )}
                </td>
                <td class="actions">
                  {openable
                    ? <a class="file-chip" data-testid="gfiles-download" href={href(r)} download={r.name}><Icon name="file" size={14} /> {t('gfiles_download')}</a>
                    : r.kind === 'file' ? <span class="muted">{r.content_kept ? t('scan_' + r.scan_status) : t('gfiles_no_content')}</span> : null}
                </td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
    </div>
  );
}

/** The whole conversation around a hit: the versions before and after it, the hit marked. */
function ContextDialog({ hit, why, onClose }: { hit: ArchiveVersion; why: Why; onClose: () => void }) {
  const [data, setData] = useState<ArchiveConversation | null>(null);
  const [more, setMore] = useState<number | null>(null);
  const load = async (after?: number) => {
    const qs = new URLSearchParams({ category: why.category, reason: why.reason.trim(), limit: '60' });
    if (after != null) qs.set('after_version', String(after)); else qs.set('around', String(hit.version_id));
    try {
      const r = await get<ArchiveConversation>(`/compliance/archive/conversations/${hit.conversation.id}?${qs}`);
      setData((d) => (after != null && d ? { ...r, versions: [...d.versions, ...r.versions] } : r));
      setMore(r.next_after_version ?? null);
    } catch (e) { showError(e); onClose(); }
  };
  useEffect(() => { load(); }, []);
  return (
    <Modal title={`${hit.conversation.title || ''} · ${zh() ? '上下文' : 'Context'}`} onClose={onClose} wide testid="dialog">
      <div class="stack" data-testid="archive-context">
        {data && <div class="muted">{zh() ? '成员：' : 'Members: '}{(data.members || []).map((m) => m.name).join('、')}</div>}
        <ol class="context-list">
          {(data?.versions || []).map((v) => (
            <li data-testid="archive-context-row" class={v.version_id === hit.version_id ? 'hit' : ''} data-hit={String(v.version_id === hit.version_id)}>
              <span class="muted">{fmtTime(v.created_at, true)}</span> <b>{v.sender?.name}</b>{v.kind !== 'created' ? <span class="badge">{word(v.kind)}</span> : null}：{v.version_id === hit.version_id ? <mark class="wrap">{v.text}</mark> : <span class="wrap">{v.text}</span>}
            </li>
          ))}
        </ol>
        {data && !data.versions?.length && <div class="muted">{t('none')}</div>}
        <div class="row gap">
          {more != null && <button onClick={() => load(more)}>{zh() ? '继续加载' : 'Load more'}</button>}
          <button class="primary" data-testid="dialog-ok" onClick={onClose}>{t('ok')}</button>
        </div>
      </div>
    </Modal>
  );
}

// Files of an archived or reviewed message, including those kept from inside a secure pack; each
// opening is audited by the server (with the stated reason for archive searches).
export function ArchiveFiles({ atts, href }: { atts?: Attachment[]; href: (a: Attachment) => string }) {
  if (!atts?.length) return null;
  return (
    <div class="archive-files">
      {atts.map((a) => {
        const ok = ['clean', 'unscanned', 'reencoded'].includes(a.scan_status);
        const label = `${a.filename}${a.archive_only ? ` (${t('pack_inner')})` : a.kind === 'secure_pack' ? ` (${t('secure_pack')})` : ''}`;
        return ok
          ? <a class="file-chip" data-testid="archive-file" href={href(a)} download={a.filename}><Icon name="file" size={14} /> {label}</a>
          : <span class="file-chip off" data-testid="archive-file"><Icon name="file" size={14} /> {label} · {t('scan_' + a.scan_status)}</span>;
      })}
    </div>
  );
}
