// Watermark guard and idle lock.
import { onAuthProblem, post } from './api';
import { t } from './i18n';
import { S, changed, reloadMe, stopRealtime } from './store';

/**
 * A tiled, semi-transparent watermark with the viewer's real name, employee number and date, kept on top of
 * `host`. It lives outside the UI framework's tree; a MutationObserver puts it back (rebuilt) whenever it is
 * removed, hidden, restyled or its text is altered.
 */
export class WatermarkGuard {
  private host: HTMLElement;
  private text: string;
  private el: HTMLElement | null = null;
  private hostObs: MutationObserver;
  private elObs: MutationObserver | null = null;
  private timer: any;

  constructor(host: HTMLElement, text: string) {
    this.host = host;
    this.text = text;
    this.hostObs = new MutationObserver(() => this.check());
    this.hostObs.observe(host, { childList: true });
    this.mount();
    // Periodic check too, in case the observer itself was bypassed (e.g. the host was replaced).
    this.timer = setInterval(() => this.check(), 2000);
  }

  private build(): HTMLElement {
    const el = document.createElement('div');
    el.className = 'watermark';
    el.setAttribute('data-testid', 'watermark');
    el.setAttribute('aria-hidden', 'true');
    const w = Math.max(window.screen?.width || 1920, 1920), h = Math.max(window.screen?.height || 1080, 1200);
    const cols = Math.ceil(w / 260) + 1, rows = Math.ceil(h / 150) + 1;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const s = document.createElement('span');
        s.textContent = this.text;
        s.style.left = (c * 260 + (r % 2) * 130 - 60) + 'px';
        s.style.top = (r * 150 + 30) + 'px';
        el.appendChild(s);
      }
    }
    return el;
  }

  private mount() {
    this.elObs?.disconnect();
    this.el = this.build();
    this.host.appendChild(this.el);
    this.elObs = new MutationObserver(() => this.rebuild());
    this.elObs.observe(this.el, { attributes: true, childList: true, subtree: true, characterData: true });
  }

  private rebuild() {
    const old = this.el;
    this.elObs?.disconnect();
    if (old && old.parentNode) old.parentNode.removeChild(old);
    this.mount();
  }

  private check() {
    if (!this.el || !this.el.isConnected || this.el.parentNode !== this.host || this.host.lastElementChild !== this.el) {
      if (this.el && this.el.parentNode === this.host && this.host.lastElementChild !== this.el) { this.host.appendChild(this.el); return; }
      this.rebuild();
    }
  }

  setText(text: string) { if (text !== this.text) { this.text = text; this.rebuild(); } }

  destroy() {
    clearInterval(this.timer);
    this.hostObs.disconnect();
    this.elObs?.disconnect();
    this.el?.remove();
    this.el = null;
  }
}

// ---------------------------------------------------------------- the lock (a state of the session, on the server)
// Locking is the server's: POST /auth/lock locks the session for every tab and after a reload (its /me
// then says locked and every other call answers 423 session_locked). The tabs of one browser also tell
// each other at once over a BroadcastChannel, so a lock or an unlock shows everywhere without waiting.
const channel: BroadcastChannel | null = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('mixun-lock');

function showLocked() {
  if (S.locked) return;
  stopRealtime();
  S.locked = true;
  changed();
}

/** Lock this session now (the lock-now control and the idle timer). */
export async function lockNow() {
  showLocked();
  channel?.postMessage('locked');
  try { await post('/auth/lock'); } catch { /* the 423s and the socket's 4023 keep the page locked anyway */ }
}

/** After a successful POST /auth/unlock: every tab reloads who it is and reconnects. */
export async function unlocked() {
  channel?.postMessage('unlocked');
  await afterUnlock();
}

async function afterUnlock() {
  S.locked = false;
  resetIdle();
  try { await reloadMe(); } catch { /* a 401 sends us to the login page */ }
  changed();
}

if (channel) channel.onmessage = (ev) => {
  if (ev.data === 'locked' && S.phase === 'main') showLocked();
  else if (ev.data === 'unlocked' && S.locked) afterUnlock();
};
onAuthProblem((e) => { if (e.code === 'session_locked' && S.phase === 'main') showLocked(); });

// ---------------------------------------------------------------- idle lock
// Activity is shared by the tabs of one browser (localStorage), so an idle background tab does not lock
// the session the person is using in another tab.
const ACTIVITY_KEY = 'mixun-activity';
let last = Date.now();
let timer: any;
let written = 0;
const bump = () => {
  last = Date.now();
  if (last - written > 1000) { written = last; try { localStorage.setItem(ACTIVITY_KEY, String(last)); } catch { /* private mode */ } }
};
const events = ['mousemove', 'mousedown', 'keydown', 'wheel', 'touchstart', 'scroll'];
function lastActivity() {
  let shared = 0;
  try { shared = Number(localStorage.getItem(ACTIVITY_KEY)) || 0; } catch { /* private mode */ }
  return Math.max(last, shared);
}

export function startIdleLock() {
  stopIdleLock();
  const minutes = Number(S.config.idle_lock_minutes);
  if (!minutes || minutes <= 0) return;
  bump();
  events.forEach((e) => window.addEventListener(e, bump, { passive: true, capture: true }));
  timer = setInterval(() => {
    if (!S.locked && S.phase === 'main' && Date.now() - lastActivity() >= minutes * 60000) lockNow();
  }, 500);
}
export function stopIdleLock() {
  clearInterval(timer);
  events.forEach((e) => window.removeEventListener(e, bump, { capture: true } as any));
}
export function resetIdle() { bump(); }

/** A login alert's reasons as words (never the raw codes). */
export function loginReasons(a: any): string {
  const list: string[] = Array.isArray(a?.reasons) ? a.reasons : a?.reason ? [String(a.reason)] : [];
  return list.map((r) => { const k = 'login_reason_' + r; const v = t(k); return v === k ? r : v; }).join('、');
}
