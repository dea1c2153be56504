// The WebSocket: connect, resume after a gap, and route each event frame to the store.
import { get } from '../api';
import { S, changed, showError, toast } from './core';
import { t } from '../i18n';
import { ensureConversation, loadConversations } from './conversations';
import { flushOutbox } from './outbox';
import { applyMessage, loadNewer, onRead, onScanned } from './threads';
import { onGroupEvent, reloadSystem } from './group_life';
import { onPresenceChanged, refreshPresence } from './presence';
import { onViolationNotice } from './dlp';
import { loadDrafts } from './drafts';
import { onAnnouncementEvent } from './people';
import { w } from '../labels_org';
import type {
  AnnouncementFrame, ApplicationChangedFrame, AttachmentScannedFrame, DlpViolationNoticeFrame, DriveHandedOverFrame,
  DriveRemovedFrame, DriveSpaceChangedFrame, DriveUnusedFrame, Frame, GroupRequestChangedFrame, Member,
} from './types';

let ws: WebSocket | null = null;
let wsTimer: any;
let backoff = 500;
let running = false;
let pingTimer: any;

export function startRealtime() {
  if (running) return;
  running = true;
  S.conn = 'connecting';
  connect();
  loadConversations().catch(showError);
  loadDrafts();
}
export function stopRealtime() {
  running = false;
  clearTimeout(wsTimer); clearInterval(pingTimer);
  if (ws) { ws.onclose = null; ws.close(); ws = null; }
}

function connect() {
  if (!running) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let sock: WebSocket;
  try { sock = new WebSocket(`${proto}//${location.host}/api/v1/ws`); } catch { retry(); return; }
  ws = sock;
  sock.onmessage = (ev) => { let f: Frame; try { f = JSON.parse(ev.data); } catch { return; } onFrame(f); };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null; clearInterval(pingTimer);
    if (!running) return;
    if (ev.code === 4023) { stopRealtime(); S.locked = true; changed(); return; } // locked (another tab?)
    S.conn = S.everOnline ? 'reconnecting' : 'connecting';
    changed();
    if (ev.code === 4401 || ev.code === 4001 || ev.code === 1008) {
      // Possibly the session ended: ask the server (a 401 sends us to the login page).
      get('/me').then(() => retry(), () => {});
      return;
    }
    retry();
  };
}
function retry() {
  clearTimeout(wsTimer);
  wsTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

function onFrame(f: Frame) {
  if (f.type === 'hello') {
    backoff = 500;
    const wasOnline = S.everOnline;
    if (S.lastEventSeq == null) S.lastEventSeq = f.last_event_seq ?? 0;
    else if (typeof f.last_event_seq === 'number' && f.last_event_seq < S.lastEventSeq) {
      // The server's counter went backwards (e.g. restored data): start over from it, reload by HTTP.
      S.lastEventSeq = f.last_event_seq;
    }
    else ws?.send(JSON.stringify({ type: 'resume', after_event_seq: S.lastEventSeq }));
    S.conn = 'online'; S.everOnline = true;
    clearInterval(pingTimer);
    pingTimer = setInterval(() => { try { ws?.send(JSON.stringify({ type: 'ping' })); } catch { /* closed */ } }, 25000);
    changed();
    refreshPresence();
    // Belt and braces (dedupe by id): after a reconnect, and on the first connect once the page has loaded
    // by HTTP, refresh the list and the open conversation. A first hello's counter already counts the
    // events written since those loads, so they are never replayed; a reconnect may race its resume.
    if (wasOnline || S.convsLoaded) loadConversations().catch(() => {});
    if (S.openId != null) {
      if (S.threads.get(S.openId)?.loaded) loadNewer(S.openId).catch(() => {});
      reloadSystem(S.openId).catch(() => {});
    }
    flushOutbox();
    return;
  }
  if (f.type === 'pong' || f.type === 'error') return;
  if (typeof f.event_seq === 'number') {
    if (S.lastEventSeq != null && f.event_seq <= S.lastEventSeq) return; // already seen
    S.lastEventSeq = f.event_seq;
  }
  onGroupEvent(f);
  if (typeof f.type === 'string' && f.type.startsWith('drive.')) window.dispatchEvent(new CustomEvent('mixun-drive', { detail: f }));
  switch (f.type) {
    case 'message.created': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'created'); break;
    case 'message.edited': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'edited'); break;
    case 'message.recalled': if (f.message) applyMessage({ ...f.message, conversation_id: f.message.conversation_id ?? f.conversation_id }, true, 'recalled'); break;
    case 'conversation.read': onRead(f); break;
    case 'conversation.created':
    case 'conversation.updated':
    case 'conversation.member_added':
      if (f.conversation) ensureConversation(f.conversation.id, f.conversation);
      break;
    case 'conversation.member_removed':
      if (f.conversation) {
        const still = f.conversation.members?.some((m: Member) => m.id === S.me?.id);
        if (still === false || (S.me != null && (f.user_ids ?? []).includes(S.me.id))) { S.convs.delete(f.conversation.id); if (S.openId === f.conversation.id) S.openId = null; changed(); }
        else ensureConversation(f.conversation.id, f.conversation);
      }
      break;
    case 'security.login_flagged': // the person's own notice: a lockout or a second machine
      if (f.alert?.user_id === S.me?.id) toast(t((f.alert.reasons || []).includes('locked_out') ? 'notice_locked_out' : 'notice_login_flagged', { ip: f.alert.ip || '' }), 'error');
      break;
    case 'presence.changed': onPresenceChanged(f.user_id, f.status); break;
    case 'attachment.scanned': case 'dlp.violation_notice': case 'announcement.published': case 'announcement.reminder':
    case 'application.changed': case 'group_request.changed': case 'drive.space_changed': case 'drive.unused':
    case 'drive.removed': case 'drive.handed_over':
      onOther(f); break;
    default: break;
  }
}

// The notices beside the chat (scans, DLP, announcements, applications, group requests, the drive), each
// with its generated frame type.
type NoticeFrame = AttachmentScannedFrame | DlpViolationNoticeFrame | AnnouncementFrame | ApplicationChangedFrame
  | GroupRequestChangedFrame | DriveSpaceChangedFrame | DriveUnusedFrame | DriveRemovedFrame | DriveHandedOverFrame;

function onOther(f: NoticeFrame) {
  switch (f.type) {
    case 'attachment.scanned': onScanned(f); break;
    case 'dlp.violation_notice': onViolationNotice(f); break;
    case 'announcement.published': case 'announcement.reminder': onAnnouncementEvent(f); break;
    case 'application.changed': // an account application moved on: to its applicant and its next decider
      toast(`${w('applications')}（${f.name}）：${w('status_' + f.status)}`);
      break;
    // The drive (drive.tsx listens for its lists; the person is told of what concerns them).
    case 'drive.unused': toast(t('drive_unused_reminder', { count: f.count, days: f.days })); break;
    case 'drive.removed': toast(t('drive_removed_notice', { name: f.name, reason: f.reason }), 'error'); break;
    case 'drive.handed_over': toast(t('drive_handover_received', { name: f.from_name, files: f.files })); break;
    default: break;
  }
}
