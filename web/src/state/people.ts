// People's rules in the client: the announcements (the 公告 page and its banner) and what the caller
// may do (function switches set by secadmin: the client hides or explains what is off).
import { get, post } from '../api';
import { t } from '../i18n';
import { S, changed, toast } from './core';

export type Announcement = {
  id: number; title: string; body: string; author?: string; must_confirm: boolean; pinned: boolean;
  created_at: string; expires_at?: string | null; read_at?: string | null; confirmed_at?: string | null;
  files?: { id: number; filename: string; size: number; mime?: string }[];
};
export type FunctionState = { allowed: boolean; limit?: number | null; name?: string; rule?: { scope: string; target: string } | null };

export const P = {
  announcements: [] as Announcement[],
  banner: [] as { id: number; title: string; must_confirm: boolean }[],
  unread: 0,
  loaded: false,
  functions: {} as Record<string, FunctionState>,
};

export async function loadAnnouncements() {
  try {
    const r = await get<any>('/announcements?limit=200');
    P.announcements = r.announcements || []; P.banner = r.banner || []; P.unread = r.unread || 0; P.loaded = true;
    changed();
  } catch { /* shown again on the next load */ }
}

export async function loadFunctions() {
  try { P.functions = (await get<any>('/me/functions')).functions || {}; changed(); } catch { /* all on */ }
}

/** Whether a function is on for the caller (unknown: on; the server decides anyway). */
export function allowed(fn: string) { return P.functions[fn]?.allowed !== false; }
/** Why a function is off, for a tooltip or a toast. */
export function offReason(fn: string) { return t('function_off_hint', { name: t('function_' + fn) }); }

export function loadPeople() {
  if (S.me?.roles?.some((r) => r === 'sysadmin' || r === 'secadmin' || r === 'auditor')) return;
  loadAnnouncements();
  loadFunctions();
}

export async function markAnnouncementRead(a: Announcement, confirm = false) {
  const r = await post<any>(`/announcements/${a.id}/read`, { confirm });
  a.read_at = r.read_at; a.confirmed_at = r.confirmed_at;
  await loadAnnouncements();
}

export function onAnnouncementEvent(f: any) {
  const title = f.announcement?.title || '';
  toast(t(f.type === 'announcement.reminder' ? 'announcement_reminder' : 'announcement_new', { title }));
  loadAnnouncements();
}
