// Watermark guard and idle lock.
import { S, changed } from './store';

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

// ---------------------------------------------------------------- idle lock
let last = Date.now();
let timer: any;
const bump = () => { last = Date.now(); };
const events = ['mousemove', 'mousedown', 'keydown', 'wheel', 'touchstart', 'scroll'];

export function startIdleLock() {
  stopIdleLock();
  const minutes = Number(S.config.idle_lock_minutes);
  if (!minutes || minutes <= 0) return;
  last = Date.now();
  events.forEach((e) => window.addEventListener(e, bump, { passive: true, capture: true }));
  timer = setInterval(() => {
    if (!S.locked && S.phase === 'main' && Date.now() - last >= minutes * 60000) { S.locked = true; changed(); }
  }, 500);
}
export function stopIdleLock() {
  clearInterval(timer);
  events.forEach((e) => window.removeEventListener(e, bump, { capture: true } as any));
}
export function resetIdle() { last = Date.now(); }
