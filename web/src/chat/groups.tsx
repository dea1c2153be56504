// New group and the group members panel.
import { useState } from 'preact/hooks';
import { del, get, patch, post } from '../api';
import { t } from '../i18n';
import { Conversation, S, changed, convTitle, loadConversations, openConversation, showError, toast, useStore } from '../store';
import { w } from '../labels_org';
import { Person, PersonCard, PersonRow, usePeopleSearch } from '../directory';
import { Avatar, Modal } from '../ui';
import { Confirm, OrgPicker } from './group_extras';

export function NewGroup({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [q, setQ] = useState('');
  const [sel, setSel] = useState<Person[]>([]);
  const res = usePeopleSearch(q);
  const [busy, setBusy] = useState(false);
  const [byOrg, setByOrg] = useState(false);
  async function create() {
    setBusy(true);
    try {
      const c = await post<Conversation & { pending?: boolean }>('/conversations', { kind: 'group', name: name.trim(), members: sel.map((p) => p.id) });
      if (c.pending) { toast(w('group_request_filed')); onClose(); return; } // waits for the unit head (group_requests.tsx)
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
        <div class="tabs small"><button class={byOrg ? '' : 'on'} data-testid="pick-by-search" onClick={() => setByOrg(false)}>{t('search_people')}</button><button class={byOrg ? 'on' : ''} data-testid="pick-by-org" onClick={() => setByOrg(true)}>{t('pick_from_org')}</button></div>
        {byOrg && <OrgPicker picked={sel} onChange={setSel} />}
        {!byOrg && <input data-testid="group-member-search" placeholder={t('search_people')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />}
        {!byOrg && res && <ul class="people small">{res.filter((p) => p.id !== S.me?.id).map((p) => (
          <PersonRow p={p} testid="group-member-option" onClick={() => { if (!sel.some((x) => x.id === p.id)) setSel([...sel, p]); }}
            right={sel.some((x) => x.id === p.id) ? <span class="ok">✔</span> : null} />
        ))}</ul>}
        <button class="primary" data-testid="group-create" disabled={busy || !name.trim() || !sel.length} onClick={create}>{t('create')}</button>
      </div>
    </Modal>
  );
}

export function MembersPanel({ c, onClose }: { c: Conversation; onClose: () => void }) {
  useStore();
  const [name, setName] = useState(c.name || '');
  const [q, setQ] = useState('');
  const [card, setCard] = useState<number | null>(null);
  const [removing, setRemoving] = useState<{ id: number; name: string } | null>(null);
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
              {manage && m.id !== S.me?.id && m.role !== 'owner' && <button class="link danger" data-testid="member-remove" onClick={() => setRemoving(m)}>{t('remove')}</button>}
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
      {removing && <Confirm title={t('remove_member')} text={t('remove_member_confirm', { name: removing.name, group: convTitle(c) })} ok={t('remove')} danger testid="remove-dialog"
        onOk={act(() => del(`/conversations/${c.id}/members/${removing.id}`))} onClose={() => setRemoving(null)} />}
    </Modal>
  );
}
