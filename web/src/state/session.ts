// Login state: who is signed in, the forced steps after login, logout.
import { api, get, onAuthProblem, post } from '../api';
import { S, changed } from './core';
import { updateTitle } from './notify';
import { startRealtime, stopRealtime } from './realtime';
import { loadPeople } from './people';
import type { ClientConfig, Me } from './types';

onAuthProblem((e) => {
  if (e.status === 401) { resetSession(); S.phase = 'login'; changed(); }
  else if (e.code === 'password_change_required') { S.phase = 'password'; changed(); }
  else if (e.code === 'totp_enrollment_required') { S.phase = 'totp'; changed(); }
  else if (e.code === 'rules_acceptance_required') { stopRealtime(); S.phase = 'rules'; changed(); }
});

// The scanner's state can change while the client runs; the composer re-reads it before each file.
export async function refreshConfig() {
  try { S.config = await get<ClientConfig>('/client-config'); changed(); } catch { /* keep the last one */ }
}

export async function boot() {
  try { S.config = await get<ClientConfig>('/client-config'); } catch { S.config = {}; }
  try {
    S.me = await api<Me>('GET', '/me', undefined, { quiet: true });
    afterAuth();
  } catch {
    S.phase = 'login';
  }
  changed();
}

export function afterAuth() {
  const me = S.me!;
  if (me.locked) { S.phase = 'main'; S.locked = true; } // locked on the server: the lock screen only
  else if (me.must_change_password) S.phase = 'password';
  else if (me.must_enroll_totp) S.phase = 'totp';
  else if (me.must_accept_rules) S.phase = 'rules';
  else { S.phase = 'main'; startRealtime(); loadPeople(); }
  changed();
}

export async function reloadMe() {
  S.me = await get<Me>('/me');
  afterAuth();
}

export function isAdminOnly(me: Me | null) {
  if (!me) return false;
  return me.roles.some((r) => r === 'sysadmin' || r === 'secadmin' || r === 'auditor');
}

export function resetSession() {
  stopRealtime();
  S.me = null; S.convs = new Map(); S.threads = new Map(); S.outbox = []; S.openId = null; S.convsLoaded = false;
  S.lastEventSeq = null; S.everOnline = false; S.tab = 'chats'; S.locked = false; S.dlp = null; S.presence = new Map(); S.drafts = new Map();
  updateTitle();
}

export async function logout() {
  try { await post('/auth/logout'); } catch { /* already gone */ }
  resetSession(); S.phase = 'login'; changed();
}
