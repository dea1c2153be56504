import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from './api';
import { t } from './i18n';
import { S, openDirect, showError, useStore } from './store';
import { Avatar, Modal, StatusDot } from './ui';

import type { DirectoryPage, DirectoryPerson, DirectoryUnit, DirectoryUnits } from './api-types';

/** A colleague as the directory answers them (the phone only on a card). */
export type Person = DirectoryPerson;
export type Unit = DirectoryUnit;

export function statusOf(p: { id: number; status?: string }) { return S.presence.get(p.id) ?? p.status ?? 'offline'; }

/** Debounced directory search. */
export function usePeopleSearch(q: string) {
  const [res, setRes] = useState<Person[] | null>(null);
  const seq = useRef(0);
  useEffect(() => {
    const text = q.trim();
    if (!text) { setRes(null); return; }
    const my = ++seq.current;
    const h = setTimeout(async () => {
      try {
        const r = await get<DirectoryPage>(`/directory/users?q=${encodeURIComponent(text)}&limit=30`);
        if (my === seq.current) setRes(r.users);
      } catch (e) { if (my === seq.current) { setRes([]); showError(e); } }
    }, 150);
    return () => clearTimeout(h);
  }, [q]);
  return res;
}

export function PersonRow(props: { p: Person; onClick: () => void; testid?: string; right?: any }) {
  const p = props.p;
  return (
    <li class="person-row" data-testid={props.testid} data-user-id={p.id} onClick={props.onClick} role="button" tabIndex={0}
      onKeyDown={(e) => { if (e.key === 'Enter') props.onClick(); }}>
      <Avatar name={p.name} id={p.id} />
      <div class="person-main">
        <div class="person-name">{p.name} <StatusDot status={statusOf(p)} /></div>
        <div class="person-sub">{[p.unit, p.position].filter(Boolean).join(' · ')}</div>
      </div>
      {props.right}
    </li>
  );
}

export function PersonCard(props: { id: number; onClose: () => void }) {
  useStore();
  const [p, setP] = useState<Person | null>(null);
  useEffect(() => { get<Person>(`/directory/users/${props.id}`).then(setP, (e) => { showError(e); props.onClose(); }); }, [props.id]);
  if (!p) return null;
  return (
    <Modal title={p.name} onClose={props.onClose} testid="person-card">
      <div class="card-head">
        <Avatar name={p.name} id={p.id} size={56} />
        <div>
          <div class="card-name">{p.name} {p.hr_verified && <span class="badge verified" data-testid="hr-verified" title={t('hr_verified')}>✔ {t('hr_verified')}</span>}</div>
          <div class="muted"><StatusDot status={statusOf(p)} /> {t(statusOf(p))}</div>
        </div>
      </div>
      <dl class="kv">
        <dt>{t('unit')}</dt><dd data-testid="card-unit">{p.unit || '—'}</dd>
        <dt>{t('position')}</dt><dd data-testid="card-position">{p.position || '—'}</dd>
        <dt>{t('employee_no')}</dt><dd>{p.employee_no || '—'}</dd>
        <dt>{t('phone')}</dt><dd data-testid="card-phone">{p.phone || '—'}</dd>
      </dl>
      {p.id !== S.me?.id && (
        <button class="primary" data-testid="card-message" onClick={() => { props.onClose(); openDirect(p.id).catch(showError); }}>{t('send_message')}</button>
      )}
    </Modal>
  );
}

/** The org tree (units from /directory/units) with the people of the selected unit. */
export function OrgTree() {
  const [units, setUnits] = useState<Unit[]>([]);
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [sel, setSel] = useState<number | null>(null);
  const [people, setPeople] = useState<Person[] | null>(null);
  const [card, setCard] = useState<number | null>(null);
  useEffect(() => {
    get<DirectoryUnits>('/directory/units').then((r) => {
      setUnits(r.units);
      setOpen(new Set(r.units.filter((u) => u.parent_id == null).map((u) => u.id)));
    }, showError);
  }, []);
  useEffect(() => {
    if (sel == null) { setPeople(null); return; }
    setPeople(null);
    get<DirectoryPage>(`/directory/users?unit_id=${sel}&limit=200`).then((r) => setPeople(r.users), showError);
  }, [sel]);
  // The head office (总行) comes before its branches; otherwise the server's order (by path) stands.
  const headFirst = (a: Unit, b: Unit) => (/总行|总部/.test(b.name) ? 1 : 0) - (/总行|总部/.test(a.name) ? 1 : 0);
  const children = (pid: number | null) => units.filter((u) => (u.parent_id ?? null) === pid).sort(headFirst);
  const toggle = (id: number) => { const n = new Set(open); n.has(id) ? n.delete(id) : n.add(id); setOpen(n); };
  const node = (u: Unit, depth: number): any => {
    const kids = children(u.id);
    return (
      <li key={u.id}>
        <div class={'unit-row' + (sel === u.id ? ' selected' : '')} data-testid="org-unit" ref={(el) => { if (el) el.style.paddingLeft = 8 + depth * 16 + 'px'; }}
          onClick={() => { setSel(u.id); if (kids.length) toggle(u.id); }}>
          <span class="caret">{kids.length ? (open.has(u.id) ? '▾' : '▸') : '·'}</span> {u.name}
        </div>
        {kids.length > 0 && open.has(u.id) && <ul>{kids.map((k) => node(k, depth + 1))}</ul>}
      </li>
    );
  };
  const roots = units.filter((u) => u.parent_id == null || !units.some((x) => x.id === u.parent_id)).sort(headFirst);
  return (
    <div class="org">
      <ul class="org-tree" data-testid="org-tree">{roots.map((u) => node(u, 0))}</ul>
      {sel != null && (
        <div class="org-people">
          <div class="section-title">{units.find((u) => u.id === sel)?.path}</div>
          {people == null ? <div class="muted pad">{t('loading')}</div> : people.length === 0 ? <div class="muted pad">{t('none')}</div> : (
            <ul class="people">{people.map((p) => <PersonRow p={p} testid="org-person" onClick={() => setCard(p.id)} />)}</ul>
          )}
        </div>
      )}
      {card != null && <PersonCard id={card} onClose={() => setCard(null)} />}
    </div>
  );
}
