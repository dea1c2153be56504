// Group life in the chat screen: system lines (系统消息), the conversation settings (置顶, 消息免打扰,
// 群公告, @所有人 setting, 解散群), the notice shown once, remove-with-confirmation, and picking people
// from the org tree.
import { useEffect, useState } from 'preact/hooks';
import { api, del, get, post } from '../api';
import { t } from '../i18n';
import { Conversation, G, S, SystemLine, changed, noticeSeen, setPrefs, showError, useStore } from '../store';
import type { DirectoryPage } from '../api-types';
import type { Person, Unit } from '../directory';
import { Modal, fmtTime } from '../ui';

/** One system line as a sentence with names: "王五邀请张三加入了群聊". User names are text, never HTML. */
export function systemText(l: SystemLine, grouped?: SystemLine[]): string {
  const me = S.me?.id;
  const who = (p: { id: number; name: string }) => (p.id === me ? t('sys_you') : p.name);
  const users = (grouped ?? [l]).map((x) => who(x.user)).join('、');
  switch (l.action) {
    case 'joined':
      if (l.detail === 'owner') return t('sys_created', { actor: who(l.actor) });
      if (l.actor.id === l.user.id) return t('sys_joined', { users });
      return t('sys_invited', { actor: who(l.actor), users });
    case 'left': return t('sys_left', { user: who(l.user) });
    case 'removed':
      if (l.detail === 'departure') return t('sys_departed', { user: who(l.user) });
      return t('sys_removed', { actor: who(l.actor), user: who(l.user) });
    case 'renamed': {
      const i = l.detail.indexOf(' -> ');
      return t('sys_renamed', { actor: who(l.actor), name: i >= 0 ? l.detail.slice(i + 4) : l.detail });
    }
    case 'role_changed':
      if (l.detail === 'owner') return l.actor.id === l.user.id ? '' : t('sys_owner', { actor: who(l.actor), user: who(l.user) });
      if (l.detail === 'admin') return l.actor.id === l.user.id ? '' : t('sys_admin', { actor: who(l.actor), user: who(l.user) });
      return t('sys_admin_off', { actor: who(l.actor), user: who(l.user) });
    case 'notice': return l.detail === 'cleared' ? t('sys_notice_cleared', { actor: who(l.actor) }) : t('sys_notice', { actor: who(l.actor) });
    case 'settings': return t(l.detail.endsWith(':all') ? 'sys_mention_all_on' : 'sys_mention_all_off', { actor: who(l.actor) });
    case 'dissolved': return t('sys_dissolved', { actor: who(l.actor) });
    default: return '';
  }
}

/** System lines that fall between two messages (by time); the joins of one act (same actor, same instant) merged. */
export function SystemLines({ lines }: { lines: SystemLine[] }) {
  const out: { l: SystemLine; g: SystemLine[] }[] = [];
  for (const l of lines) {
    const prev = out[out.length - 1];
    if (prev && l.action === 'joined' && prev.l.action === 'joined' && l.detail !== 'owner' && prev.l.detail !== 'owner'
      && prev.l.actor.id === l.actor.id && prev.l.actor.id !== prev.l.user.id && l.at === prev.l.at) {
      prev.g.push(l);
    } else out.push({ l, g: [l] });
  }
  return (
    <>
      {out.map(({ l, g }) => {
        const text = systemText(l, g);
        return text ? <div class="sys-line" data-testid="system-line" key={l.id}><span>{text}</span></div> : null;
      })}
    </>
  );
}

/** The lines of conversation ``cid`` with at in (after, upto]; ``upto`` null means "to the end". */
export function linesBetween(cid: number, after: string | null, upto: string | null): SystemLine[] {
  const all = G.system.get(cid);
  if (!all) return [];
  return all.filter((l) => (after == null || l.at > after) && (upto == null || l.at <= upto));
}

/** The 群公告, shown once to each member (until they have opened this version). */
export function NoticeGate({ c }: { c: Conversation }) {
  if (!c.notice_unread || !c.notice || S.locked) return null;
  return (
    <Modal title={t('group_notice')} onClose={() => noticeSeen(c)} testid="notice-dialog">
      <div class="notice-text" data-testid="notice-text">{c.notice.text}</div>
      <p class="muted small">{c.notice.by?.name} · {fmtTime(c.notice.at ?? undefined, true)}</p>
      <div class="row-end"><button class="primary" data-testid="dialog-ok" onClick={() => noticeSeen(c)}>{t('notice_got_it')}</button></div>
    </Modal>
  );
}

/** A small confirmation dialog (OK / cancel). */
export function Confirm(props: { title: string; text: string; ok: string; danger?: boolean; onOk: () => void; onClose: () => void; testid?: string }) {
  return (
    <Modal title={props.title} onClose={props.onClose} testid={props.testid ?? 'confirm-dialog'}>
      <p>{props.text}</p>
      <div class="row-end">
        <button data-testid="dialog-cancel" onClick={props.onClose}>{t('cancel')}</button>
        <button class={props.danger ? 'danger' : 'primary'} data-testid="dialog-ok" onClick={() => { props.onClose(); props.onOk(); }}>{props.ok}</button>
      </div>
    </Modal>
  );
}

/** 会话设置: 置顶 and 消息免打扰 for everyone; 群公告, the @所有人 setting and 解散群 for groups. */
export function ConvSettings({ c, onClose }: { c: Conversation; onClose: () => void }) {
  useStore();
  const manage = c.kind === 'group' && (c.my_role === 'owner' || c.my_role === 'admin');
  const [notice, setNotice] = useState(c.notice?.text ?? '');
  const [dissolving, setDissolving] = useState(false);
  async function saveNotice() {
    try {
      const r = await api<Conversation>('PUT', `/conversations/${c.id}/notice`, { text: notice });
      Object.assign(c, { notice: r.notice }); changed();
    } catch (e) { showError(e); }
  }
  async function mentionAll(v: boolean) {
    try { const r = await api<Conversation>('PUT', `/conversations/${c.id}/settings`, { all_may_mention_all: v }); c.all_may_mention_all = r.all_may_mention_all; changed(); } catch (e) { showError(e); }
  }
  async function dissolve() {
    try {
      await post(`/conversations/${c.id}/dissolve`);
      G.dissolved.add(c.id); S.convs.delete(c.id); if (S.openId === c.id) S.openId = null; changed(); onClose();
    } catch (e) { showError(e); }
  }
  return (
    <Modal title={t('conv_settings')} onClose={onClose} testid="conv-settings">
      <div class="stack">
        <label class="switch-row"><input type="checkbox" data-testid="pin-toggle" checked={!!c.pinned} onChange={(e) => setPrefs(c, { pinned: e.currentTarget.checked })} /> {t('pin_top')}</label>
        <label class="switch-row"><input type="checkbox" data-testid="mute-toggle" checked={!!c.muted} onChange={(e) => setPrefs(c, { muted: e.currentTarget.checked })} /> {t('mute')}<span class="muted small"> — {t('mute_hint')}</span></label>
        {c.kind === 'group' && (
          <>
            <div class="section-title">{t('group_notice')}</div>
            {manage ? (
              <>
                <textarea data-testid="notice-input" rows={3} maxLength={2000} value={notice} onInput={(e) => setNotice(e.currentTarget.value)} placeholder={t('notice_placeholder')} />
                <div class="row-end"><button class="primary" data-testid="notice-save" onClick={saveNotice}>{t('notice_publish')}</button></div>
                <label class="switch-row"><input type="checkbox" data-testid="mention-all-setting" checked={!!c.all_may_mention_all} onChange={(e) => mentionAll(e.currentTarget.checked)} /> {t('mention_all_everyone')}</label>
              </>
            ) : <div class="notice-text" data-testid="notice-current">{c.notice?.text || t('none')}</div>}
            {c.my_role === 'owner' && <button class="danger" data-testid="group-dissolve" onClick={() => setDissolving(true)}>{t('dissolve_group')}</button>}
          </>
        )}
      </div>
      {dissolving && <Confirm title={t('dissolve_group')} text={t('dissolve_confirm')} ok={t('dissolve_group')} danger onOk={dissolve} onClose={() => setDissolving(false)} testid="dissolve-dialog" />}
    </Modal>
  );
}

/** 从组织架构选人: the unit tree with checkboxes; checking a unit picks its people. */
export function OrgPicker({ picked, onChange }: { picked: Person[]; onChange: (p: Person[]) => void }) {
  const [units, setUnits] = useState<Unit[]>([]);
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [people, setPeople] = useState<Map<number, Person[]>>(new Map());
  useEffect(() => {
    get<{ units: Unit[] }>('/directory/units').then((r) => {
      setUnits(r.units); setOpen(new Set(r.units.filter((u) => u.parent_id == null).map((u) => u.id)));
    }, showError);
  }, []);
  async function peopleOf(id: number): Promise<Person[]> {
    const have = people.get(id);
    if (have) return have;
    const r = await get<DirectoryPage>(`/directory/users?unit_id=${id}&limit=200`);
    const list = r.users.filter((p) => p.id !== S.me?.id);
    setPeople((m) => new Map(m).set(id, list));
    return list;
  }
  const isPicked = (p: Person) => picked.some((x) => x.id === p.id);
  async function toggleUnit(u: Unit, on: boolean) {
    try {
      const list = await peopleOf(u.id);
      onChange(on ? [...picked, ...list.filter((p) => !isPicked(p))] : picked.filter((p) => !list.some((x) => x.id === p.id)));
    } catch (e) { showError(e); }
  }
  const kids = (pid: number | null) => units.filter((u) => (u.parent_id ?? null) === pid);
  const node = (u: Unit, depth: number): any => {
    const list = people.get(u.id);
    const all = !!list && list.length > 0 && list.every(isPicked);
    const expanded = open.has(u.id);
    return (
      <li key={u.id}>
        <div class="unit-row" data-testid="org-pick-unit" ref={(el) => { if (el) el.style.paddingLeft = 4 + depth * 16 + 'px'; }}>
          <button class="caret link" onClick={() => { const n = new Set(open); if (expanded) n.delete(u.id); else { n.add(u.id); peopleOf(u.id).catch(showError); } setOpen(n); }}>{expanded ? '▾' : '▸'}</button>
          <label><input type="checkbox" data-testid="org-pick-unit-check" checked={all} onChange={(e) => toggleUnit(u, e.currentTarget.checked)} /> {u.name}</label>
        </div>
        {expanded && (
          <ul>
            {kids(u.id).map((k) => node(k, depth + 1))}
            {(list || []).map((p) => (
              <li class="unit-person" ref={(el) => { if (el) el.style.paddingLeft = 28 + depth * 16 + 'px'; }}>
                <label><input type="checkbox" data-testid="org-pick-person" data-user-id={p.id} checked={isPicked(p)}
                  onChange={(e) => onChange(e.currentTarget.checked ? [...picked, p] : picked.filter((x) => x.id !== p.id))} /> {p.name} <span class="muted small">{p.position}</span></label>
              </li>
            ))}
          </ul>
        )}
      </li>
    );
  };
  const roots = units.filter((u) => u.parent_id == null || !units.some((x) => x.id === u.parent_id));
  return <ul class="org-tree org-pick" data-testid="org-picker">{roots.map((u) => node(u, 0))}</ul>;
}

export async function removeMember(c: Conversation, id: number) {
  await del(`/conversations/${c.id}/members/${id}`);
}
