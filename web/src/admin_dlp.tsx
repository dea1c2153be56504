// secadmin's DLP screens: the policy editor with "try a text", lexicons by category, hits by person and sanctions.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, api } from './api';
import { t } from './i18n';
import { showError, toast } from './store';
import { Modal, fmtTime } from './ui';
import { DualControlSettings } from './admin_compliance';
import type { DlpHits as DlpHitsAnswer, DlpPersonHits, DlpScan, DlpTerms, DlpTermsAdded } from './api-types';

export const DETECTORS = ['cn_id_card', 'bank_card', 'cn_mobile', 'uscc', 'email', 'credential', 'secret_key', 'classified_marking', 'prohibited'];
export const ACTIONS = ['allow', 'mask', 'warn', 'hold', 'block'];
const CHANNELS_FALLBACK = ['direct', 'group', 'announcement', 'file', 'drive'];
const CATEGORIES_FALLBACK = ['illegal', 'obscene', 'violent', 'gambling', 'drugs', 'fraud', 'advertising'];

type Rule = { action: string; detectors?: string[]; channels?: string[]; roles?: string[]; unit_prefix?: string; min_confidence?: number };
type Threshold = { detectors: string[]; count: number; action: string; channels?: string[]; reason?: string };
type Policy = { version?: number; default_action: string; encrypted_file_action: string; rules: Rule[]; thresholds: Threshold[] };

/** A translated label with the raw name as fallback (detector, action, channel, category). */
export function label(prefix: string, v: string) { const k = prefix + v; const s = t(k); return s === k ? v : s; }
const any = () => t('dlp_any');
const list = (prefix: string, xs?: string[]) => (xs && xs.length ? xs.map((x) => label(prefix, x)).join('、') : any());
export const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** An inline error line (422 validation texts and the like), rendered as text. */
export function ErrorLine({ msg, testid }: { msg: string | null; testid?: string }) {
  return msg ? <div class="form-error" role="alert" data-testid={testid}>{msg}</div> : null;
}

function Checks({ all, prefix, value, onChange, testid }: { all: string[]; prefix: string; value: string[] | undefined; onChange: (v: string[] | undefined) => void; testid?: string }) {
  const sel = value || [];
  return (
    <div class="checks" data-testid={testid}>
      {all.map((x) => (
        <label class="check"><input type="checkbox" value={x} checked={sel.includes(x)} onChange={(e) => {
          const next = e.currentTarget.checked ? [...sel, x] : sel.filter((y) => y !== x);
          onChange(next.length ? next : undefined);
        }} /> {label(prefix, x)}</label>
      ))}
    </div>
  );
}

function ActionSelect({ value, onChange, testid }: { value: string; onChange: (v: string) => void; testid?: string }) {
  return <select data-testid={testid} value={value} onChange={(e) => onChange(e.currentTarget.value)}>{ACTIONS.map((a) => <option value={a}>{label('dlp_action_', a)}</option>)}</select>;
}

function RuleDialog({ rule, channels, onClose, onSave }: { rule: Rule; channels: string[]; onClose: () => void; onSave: (r: Rule) => void }) {
  const [r, setR] = useState<Rule>({ ...rule });
  const [roles, setRoles] = useState((rule.roles || []).join(', '));
  return (
    <Modal title={t('dlp_rule')} onClose={onClose} testid="dlp-rule-dialog" wide>
      <form class="stack" onSubmit={(e) => {
        e.preventDefault();
        const out: Rule = { action: r.action };
        if (r.detectors?.length) out.detectors = r.detectors;
        if (r.channels?.length) out.channels = r.channels;
        const rs = roles.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);
        if (rs.length) out.roles = rs;
        if (r.unit_prefix?.trim()) out.unit_prefix = r.unit_prefix.trim();
        if (r.min_confidence) out.min_confidence = r.min_confidence;
        onSave(out);
      }}>
        <div><b>{t('dlp_detector')}</b> <span class="muted">{t('dlp_none_is_any')}</span><Checks all={DETECTORS} prefix="dlp_detector_" value={r.detectors} onChange={(v) => setR({ ...r, detectors: v })} testid="dlp-rule-detectors" /></div>
        <div><b>{t('dlp_channel')}</b><Checks all={channels} prefix="dlp_channel_" value={r.channels} onChange={(v) => setR({ ...r, channels: v })} testid="dlp-rule-channels" /></div>
        <label>{t('dlp_roles')}<input data-testid="dlp-rule-roles" placeholder="employee, unit_head" value={roles} onInput={(e) => setRoles(e.currentTarget.value)} /></label>
        <label>{t('dlp_unit_prefix')}<input data-testid="dlp-rule-unit" placeholder="总行/信息技术部" value={r.unit_prefix || ''} onInput={(e) => setR({ ...r, unit_prefix: e.currentTarget.value })} /></label>
        <label>{t('dlp_min_confidence')}<input type="number" min="0" max="1" step="0.05" value={String(r.min_confidence ?? 0)} onInput={(e) => setR({ ...r, min_confidence: Number(e.currentTarget.value) || 0 })} /></label>
        <label>{t('action')}<ActionSelect value={r.action} onChange={(a) => setR({ ...r, action: a })} testid="dlp-rule-action" /></label>
        <button class="primary" type="submit" data-testid="dlp-rule-ok">{t('ok')}</button>
      </form>
    </Modal>
  );
}

export function DlpPolicy() {
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [meta, setMeta] = useState<{ id: number | null; isDefault: boolean; channels: string[] }>({ id: null, isDefault: true, channels: CHANNELS_FALLBACK });
  const [editing, setEditing] = useState<{ i: number; rule: Rule } | null>(null);
  const [note, setNote] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const load = () => get<any>('/dlp/policy').then((r) => {
    setPolicy({ rules: [], thresholds: [], default_action: 'allow', encrypted_file_action: 'block', ...r.policy });
    setMeta({ id: r.id ?? null, isDefault: !!r.default, channels: r.channels || CHANNELS_FALLBACK });
    setDirty(false);
  }, showError);
  useEffect(() => { load(); }, []);
  if (!policy) return <div class="muted pad">{t('loading')}</div>;
  const upd = (p: Partial<Policy>) => { setPolicy({ ...policy, ...p }); setDirty(true); };
  const rules = policy.rules;
  const move = (i: number, d: number) => { const r = [...rules]; const [x] = r.splice(i, 1); r.splice(i + d, 0, x); upd({ rules: r }); };
  const setTh = (i: number, th: Partial<Threshold>) => upd({ thresholds: policy.thresholds.map((x, j) => (j === i ? { ...x, ...th } : x)) });
  async function save() {
    setErr(null);
    try {
      const r = await api<any>('PUT', '/dlp/policy', { policy, note: note.trim() });
      setPolicy({ rules: [], thresholds: [], ...r.policy }); setMeta({ ...meta, id: r.id ?? null, isDefault: !!r.default });
      setNote(''); setDirty(false); toast(t('saved'));
    } catch (e) { setErr(errText(e)); if (!(e instanceof ApiError && e.status === 422)) showError(e); }
  }
  return (
    <div data-testid="admin-dlp-policy">
      <p class="hint">{t('dlp_policy_hint')} {meta.isDefault ? t('dlp_policy_default') : t('dlp_policy_version', { id: meta.id ?? '' })}</p>
      <table class="grid">
        <thead><tr><th>#</th><th>{t('dlp_detector')}</th><th>{t('dlp_channel')}</th><th>{t('dlp_roles')}</th><th>{t('unit')}</th><th>{t('action')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{rules.map((r, i) => (
          <tr data-testid="dlp-rule-row">
            <td>{i + 1}</td><td>{list('dlp_detector_', r.detectors)}{r.min_confidence ? ` ≥${r.min_confidence}` : ''}</td><td>{list('dlp_channel_', r.channels)}</td>
            <td>{r.roles?.length ? r.roles.join('、') : any()}</td><td>{r.unit_prefix || any()}</td>
            <td><span class={'badge act-' + r.action}>{label('dlp_action_', r.action)}</span></td>
            <td class="actions">
              <button class="link" aria-label={t('move_up')} title={t('move_up')} data-testid="dlp-rule-up" disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
              <button class="link" aria-label={t('move_down')} title={t('move_down')} data-testid="dlp-rule-down" disabled={i === rules.length - 1} onClick={() => move(i, 1)}>↓</button>
              <button class="link" data-testid="dlp-rule-edit" onClick={() => setEditing({ i, rule: r })}>{t('edit')}</button>
              <button class="link danger" data-testid="dlp-rule-remove" onClick={() => upd({ rules: rules.filter((_, j) => j !== i) })}>{t('delete')}</button>
            </td>
          </tr>
        ))}</tbody>
      </table>
      <div class="row gap">
        <button data-testid="dlp-rule-add" onClick={() => setEditing({ i: -1, rule: { action: 'block' } })}>+ {t('dlp_add_rule')}</button>
        <label class="inline">{t('dlp_default_action')} <ActionSelect value={policy.default_action} onChange={(v) => upd({ default_action: v })} testid="dlp-default-action" /></label>
        <label class="inline">{t('dlp_encrypted_file_action')} <ActionSelect value={policy.encrypted_file_action} onChange={(v) => upd({ encrypted_file_action: v })} /></label>
      </div>
      <h4>{t('dlp_thresholds')}</h4>
      <p class="hint">{t('dlp_thresholds_hint')}</p>
      <table class="grid">
        <thead><tr><th>{t('dlp_detector')}</th><th>{t('dlp_count')}</th><th>{t('dlp_channel')}</th><th>{t('action')}</th><th>{t('reason')}</th><th /></tr></thead>
        <tbody>{policy.thresholds.map((th, i) => (
          <tr data-testid="dlp-threshold-row">
            <td><Checks all={DETECTORS} prefix="dlp_detector_" value={th.detectors} onChange={(v) => setTh(i, { detectors: v || [] })} /></td>
            <td><input class="num" type="number" data-testid="dlp-threshold-count" value={String(th.count)} onInput={(e) => setTh(i, { count: parseInt(e.currentTarget.value, 10) || 0 })} /></td>
            <td>{list('dlp_channel_', th.channels)}</td>
            <td><ActionSelect value={th.action} onChange={(v) => setTh(i, { action: v })} /></td>
            <td><input value={th.reason || ''} onInput={(e) => setTh(i, { reason: e.currentTarget.value })} /></td>
            <td><button class="link danger" onClick={() => upd({ thresholds: policy.thresholds.filter((_, j) => j !== i) })}>{t('delete')}</button></td>
          </tr>
        ))}</tbody>
      </table>
      <button data-testid="dlp-threshold-add" onClick={() => upd({ thresholds: [...policy.thresholds, { detectors: ['cn_id_card'], count: 5, action: 'block', reason: '' }] })}>+ {t('dlp_add_threshold')}</button>
      <div class="row gap save-bar">
        <input class="grow" data-testid="dlp-policy-note" placeholder={t('dlp_policy_note')} maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        <button class="primary" data-testid="dlp-policy-save" onClick={save}>{t('save')}</button>
        <button disabled={!dirty} onClick={() => { setErr(null); load(); }}>{t('dlp_discard')}</button>
      </div>
      <ErrorLine msg={err} testid="dlp-policy-error" />
      {editing && <RuleDialog rule={editing.rule} channels={meta.channels} onClose={() => setEditing(null)} onSave={(r) => {
        upd({ rules: editing.i < 0 ? [...rules, r] : rules.map((x, j) => (j === editing.i ? r : x)) }); setEditing(null);
      }} />}
      <TryText channels={meta.channels} />
      <DualControlSettings />
    </div>
  );
}

function TryText({ channels }: { channels: string[] }) {
  const [text, setText] = useState('');
  const [channel, setChannel] = useState('direct');
  const [roles, setRoles] = useState('employee');
  const [unit, setUnit] = useState('');
  const [res, setRes] = useState<DlpScan | null>(null);
  return (
    <div class="try-box">
      <h4>{t('dlp_try')}</h4>
      <form class="stack" onSubmit={async (e) => {
        e.preventDefault();
        try {
          setRes(await post<DlpScan>('/dlp/scan', { text, channel, roles: roles.split(/[,，\s]+/).filter(Boolean), unit_path: unit.trim() }));
        } catch (err) { showError(err); }
      }}>
        <textarea data-testid="dlp-try-text" rows={3} placeholder={t('dlp_try_placeholder')} value={text} onInput={(e) => setText(e.currentTarget.value)} required />
        <div class="row gap">
          <label class="inline">{t('dlp_channel')} <select data-testid="dlp-try-channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value)}>{channels.map((c) => <option value={c}>{label('dlp_channel_', c)}</option>)}</select></label>
          <label class="inline">{t('dlp_roles')} <input value={roles} onInput={(e) => setRoles(e.currentTarget.value)} /></label>
          <label class="inline">{t('unit')} <input placeholder="总行/…" value={unit} onInput={(e) => setUnit(e.currentTarget.value)} /></label>
          <button class="primary" type="submit" data-testid="dlp-try-submit">{t('dlp_try_submit')}</button>
        </div>
      </form>
      {res && (
        <div class="try-result" data-testid="dlp-try-result" data-action={res.action}>
          <div>{t('dlp_verdict')}: <span class={'badge act-' + res.action} data-testid="dlp-try-action">{label('dlp_action_', res.action)}</span>
            {(res.thresholds || []).length > 0 && <span class="muted"> · {t('dlp_thresholds')}: {res.thresholds.join('、')}</span>}</div>
          {(res.findings || []).length === 0 ? <div class="muted">{t('dlp_no_findings')}</div> : (
            <table class="grid">
              <thead><tr><th>{t('dlp_detector')}</th><th>{t('dlp_masked')}</th><th>{t('action')}</th><th>{t('dlp_confidence')}</th></tr></thead>
              <tbody>{res.findings.map((f) => (
                <tr data-testid="dlp-try-finding"><td>{label('dlp_detector_', f.detector)}{f.category ? ` / ${label('dlp_category_', f.category)}` : ''}</td><td><code>{f.masked}</code></td><td>{label('dlp_action_', f.action)}</td><td>{typeof f.confidence === 'number' ? f.confidence.toFixed(2) : ''}</td></tr>
              ))}</tbody>
            </table>
          )}
          <div>{t('dlp_masked_text')}:</div>
          <pre class="masked-text" data-testid="dlp-try-masked">{res.masked_text}</pre>
        </div>
      )}
    </div>
  );
}

export function DlpLexicons() {
  const [category, setCategory] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<DlpTerms | null>(null);
  const [addCat, setAddCat] = useState(CATEGORIES_FALLBACK[0]);
  const [terms, setTerms] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const load = () => get<DlpTerms>(`/dlp/lexicons?limit=100&offset=${offset}${category ? '&category=' + encodeURIComponent(category) : ''}`).then(setData, showError);
  useEffect(() => { load(); }, [category, offset]);
  const builtin: Record<string, number> = data?.builtin_counts || {};
  const cats = Object.keys(builtin).length ? Object.keys(builtin) : CATEGORIES_FALLBACK;
  const remove = (cat: string, term: string) => async () => {
    try { await post('/dlp/lexicons/remove', { category: cat, terms: [term] }); toast(t('saved')); load(); } catch (e) { showError(e); }
  };
  return (
    <div data-testid="admin-dlp-lexicons">
      <form class="stack" onSubmit={async (e) => {
        e.preventDefault(); setErr(null);
        const list = terms.split('\n').map((x) => x.trim()).filter(Boolean);
        if (!list.length) return;
        try { const r = await post<DlpTermsAdded>('/dlp/lexicons', { category: addCat, terms: list }); toast(t('dlp_terms_added', { n: r.added })); setTerms(''); load(); } catch (e2) { setErr(errText(e2)); }
      }}>
        <div class="row gap">
          <select data-testid="lexicon-category" value={addCat} onChange={(e) => setAddCat(e.currentTarget.value)}>{cats.map((c) => <option value={c}>{label('dlp_category_', c)}</option>)}</select>
          <textarea class="grow" data-testid="lexicon-terms" rows={2} placeholder={t('dlp_terms_placeholder')} value={terms} onInput={(e) => setTerms(e.currentTarget.value)} />
          <button class="primary" type="submit" data-testid="lexicon-add">{t('dlp_add_terms')}</button>
        </div>
        <ErrorLine msg={err} testid="lexicon-error" />
      </form>
      <div class="row gap">
        <label class="inline">{t('dlp_category')} <select data-testid="lexicon-filter" value={category} onChange={(e) => { setOffset(0); setCategory(e.currentTarget.value); }}>
          <option value="">{t('dlp_all')}</option>
          {cats.map((c) => <option value={c}>{label('dlp_category_', c)}{builtin[c] != null ? ` (${t('dlp_builtin_n', { n: builtin[c] })})` : ''}</option>)}
        </select></label>
      </div>
      <table class="grid">
        <thead><tr><th>{t('dlp_category')}</th><th>{t('dlp_term')}</th><th>{t('time')}</th><th /></tr></thead>
        <tbody>{(data?.terms || []).map((x: any) => (
          <tr data-testid="lexicon-row" data-term={x.term}><td>{label('dlp_category_', x.category)}</td><td>{x.term}</td><td>{fmtTime(x.created_at, true)}</td>
            <td><button class="link danger" data-testid="lexicon-remove" onClick={remove(x.category, x.term)}>{t('delete')}</button></td></tr>
        ))}</tbody>
      </table>
      {data && !(data.terms || []).length && <div class="muted pad">{t('dlp_no_terms')}</div>}
      <div class="row gap pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 100))}>{t('prev')}</button>
        <button disabled={data?.next_offset == null} onClick={() => setOffset(data?.next_offset ?? offset)}>{t('next')}</button>
      </div>
    </div>
  );
}

export function DlpHits() {
  const [data, setData] = useState<DlpHitsAnswer | null>(null);
  const [who, setWho] = useState<{ id: number; name: string } | null>(null);
  const [lifting, setLifting] = useState<DlpPersonHits | null>(null);
  const load = () => get<DlpHitsAnswer>(`/dlp/hits?limit=100${who ? '&user_id=' + who.id : ''}`).then(setData, showError);
  useEffect(() => { load(); }, [who]);
  return (
    <div data-testid="admin-dlp">
      <h4>{t('dlp_by_person')}</h4>
      <table class="grid">
        <thead><tr><th>{t('name')}</th><th>{t('dlp_hits')}</th><th>{t('dlp_sanction')}</th><th>{t('actions')}</th></tr></thead>
        <tbody>{(data?.by_person || []).map((p) => (
          <tr data-testid="dlp-person-row" data-user-id={p.user_id}>
            <td>{p.name}</td><td>{p.hits}</td>
            <td><span class={'badge' + (p.level === 'suspension' ? ' warn' : '')}>{label('dlp_level_', p.level)}</span>{p.suspended_until ? ` → ${fmtTime(p.suspended_until, true)}` : ''}</td>
            <td class="actions">
              <button class="link" data-testid="dlp-person-hits" onClick={() => setWho({ id: p.user_id, name: p.name })}>{t('dlp_show_hits')}</button>
              {(p.suspended_until || p.level === 'suspension') && <button class="link danger" data-testid="dlp-lift" onClick={() => setLifting(p)}>{t('dlp_lift')}</button>}
            </td>
          </tr>
        ))}</tbody>
      </table>
      <h4>{t('dlp_hits')}{who ? ` · ${who.name}` : ''} {who && <button class="link" onClick={() => setWho(null)}>{t('dlp_all')}</button>}</h4>
      <table class="grid">
        <thead><tr><th>{t('time')}</th><th>{t('name')}</th><th>{t('unit')}</th><th>{t('dlp_detector')}</th><th>{t('dlp_channel')}</th><th>{t('action')}</th><th>{t('dlp_masked')}</th></tr></thead>
        <tbody>{(data?.hits || []).map((h) => (
          <tr data-testid="dlp-hit-row"><td>{fmtTime(h.created_at, true)}</td><td>{h.name}</td><td>{h.unit}</td><td>{label('dlp_detector_', h.detector)}{h.category ? ` / ${label('dlp_category_', h.category)}` : ''}</td><td>{h.channel ? label('dlp_channel_', h.channel) : ''}</td><td>{label('dlp_action_', h.action)}</td><td><code>{h.masked}</code></td></tr>
        ))}</tbody>
      </table>
      {lifting && (
        <Modal title={t('dlp_lift')} onClose={() => setLifting(null)} testid="dlp-lift-dialog">
          <div class="stack">
            <p>{t('dlp_lift_confirm', { name: lifting.name })}</p>
            <button class="danger" data-testid="dlp-lift-confirm" onClick={async () => {
              try { await post(`/dlp/sanctions/${lifting.user_id}/lift`); toast(t('saved')); setLifting(null); load(); } catch (e) { showError(e); }
            }}>{t('dlp_lift')}</button>
          </div>
        </Modal>
      )}
    </div>
  );
}
