// People's rules in the client: the announcements (the 公告 page and its banner) and what the caller
// may do (function switches set by secadmin: the client hides or explains what is off).
import { get, post } from '../api';
import { t } from '../i18n';
import { S, changed, toast } from './core';
import type * as api from '../api-types';
import type { AnnouncementFrame } from './types';

export type Announcement = api.AnnouncementReceived;
export type FunctionState = api.FunctionState;

export const P = {
  announcements: [] as Announcement[],
  banner: [] as api.AnnouncementBanner[],
  unread: 0,
  loaded: false,
  functions: {} as Record<string, FunctionState>,
};

export async function loadAnnouncements() {
  try {
    const r = await get<api.MyAnnouncements>('/announcements?limit=200');
    P.announcements = r.announcements; P.banner = r.banner; P.unread = r.unread; P.loaded = true;
    changed();
  } catch { /* shown again on the next load */ }
}

export async function loadFunctions() {
  try { P.functions = (await get<api.MyFunctions>('/me/functions')).functions; changed(); } catch { /* all on */ }
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
  const r = await post<api.AnnouncementReadState>(`/announcements/${a.id}/read`, { confirm });
  a.read_at = r.read_at; a.confirmed_at = r.confirmed_at;
  await loadAnnouncements();
}

export function onAnnouncementEvent(f: AnnouncementFrame) {
  const title = f.announcement.title;
  toast(t(f.type === 'announcement.reminder' ? 'announcement_reminder' : 'announcement_new', { title }));
  loadAnnouncements();
}
