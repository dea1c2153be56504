// The @ picker's candidates: members whose name contains the typed text, or (typed in Latin letters)
// whose pinyin or initials match, as the directory's search keys say; and @所有人 for those who may use it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api';
import { Conversation, Member, S } from '../store';

export const ALL: Member = { id: 0, name: '所有人', role: 'member' };

export function mayMentionAll(c: Conversation): boolean {
  return c.kind === 'group' && (c.my_role === 'owner' || c.my_role === 'admin' || !!c.all_may_mention_all);
}

export function useMentionCandidates(c: Conversation, q: string | null): Member[] {
  const [pinyin, setPinyin] = useState<Set<number> | null>(null);
  const seq = useRef(0);
  const latin = q != null && /^[a-z]+$/i.test(q);
  useEffect(() => {
    setPinyin(null);
    if (!latin || q == null) return;
    const my = ++seq.current;
    const h = setTimeout(() => {
      get<{ users: { id: number }[] }>(`/directory/users?q=${encodeURIComponent(q)}&limit=50`)
        .then((r) => { if (my === seq.current) setPinyin(new Set(r.users.map((u) => u.id))); }, () => {});
    }, 120);
    return () => clearTimeout(h);
  }, [q, c.id]);
  if (q == null || c.kind !== 'group') return [];
  const low = q.toLowerCase();
  const out = c.members.filter((m) => m.id !== S.me?.id && (m.name.toLowerCase().includes(low) || (latin && pinyin?.has(m.id))));
  const all = mayMentionAll(c) && (!q || '所有人'.includes(q) || 'suoyouren'.startsWith(low) || 'syr'.startsWith(low) || 'all'.startsWith(low));
  return [...(all ? [ALL] : []), ...out].slice(0, 8);
}
