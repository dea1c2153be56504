import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { t, locale } from './i18n';

// Open dialogs, oldest first: Escape closes only the topmost (a confirmation over a preview closes
// alone, the preview stays).
const openModals: object[] = [];

export function Modal(props: { title: string; onClose?: () => void; children: ComponentChildren; wide?: boolean; testid?: string }) {
  const close = useRef(props.onClose);
  close.current = props.onClose;
  // A layout effect: registered as the dialog is put on the page, not after the next paint, so an
  // Escape pressed the moment it shows (a slow machine) closes it and not the dialog under it.
  useLayoutEffect(() => {
    const me = {};
    openModals.push(me);
    const f = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || openModals[openModals.length - 1] !== me || !close.current) return;
      e.preventDefault();
      close.current();
    };
    window.addEventListener('keydown', f);
    return () => { window.removeEventListener('keydown', f); openModals.splice(openModals.indexOf(me), 1); };
  }, []);
  return (
    // `dialog` marks every modal (INTERFACE.md); the dialog's own name sits on the backdrop around it.
    <div class="modal-backdrop" data-testid={props.testid === 'dialog' ? undefined : props.testid} onClick={(e) => { if (e.target === e.currentTarget && props.onClose) props.onClose(); }}>
      <div class={'modal' + (props.wide ? ' wide' : '')} role="dialog" aria-modal="true" data-testid="dialog">
        <div class="modal-head">
          <h3>{props.title}</h3>
          {props.onClose && <button class="icon-btn" aria-label={t('close')} onClick={props.onClose}>×</button>}
        </div>
        <div class="modal-body">{props.children}</div>
      </div>
    </div>
  );
}

const palette = ['#3b7ddd', '#1aa37a', '#d9822b', '#8e5cd9', '#d6455d', '#2a9bb7', '#6b8e23', '#b5651d'];
export function Avatar(props: { name: string; id?: number; size?: number; group?: boolean }) {
  const n = props.name || '?';
  const label = props.group ? n.slice(0, 2) : /^[\u4e00-\u9fff]/.test(n) ? n.slice(-2) : n.slice(0, 2).toUpperCase();
  const color = palette[Math.abs(props.id ?? n.charCodeAt(0)) % palette.length];
  const size = props.size ?? 36;
  return <span class={'avatar' + (props.group ? ' group' : '')} aria-hidden="true" ref={(el) => { if (el) { el.style.background = color; el.style.width = el.style.height = size + 'px'; el.style.fontSize = Math.round(size * 0.36) + 'px'; } }}>{label}</span>;
}

export function StatusDot(props: { status?: string }) {
  const s = props.status || 'offline';
  return <span class={'status-dot st-' + s} title={t(s)} aria-label={t(s)} />;
}

function pad(n: number) { return n < 10 ? '0' + n : String(n); }
export function fmtTime(iso?: string, long = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const now = new Date();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const sameDay = d.toDateString() === now.toDateString();
  if (sameDay && !long) return hm;
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return `${t('yesterday')} ${hm}`;
  const md = locale === 'en' ? `${d.getMonth() + 1}/${d.getDate()}` : `${d.getMonth() + 1}月${d.getDate()}日`;
  if (d.getFullYear() === now.getFullYear()) return long || !sameDay ? `${md} ${hm}` : hm;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}
export function fmtDate(d = new Date()) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }

export function ruleText(rules: unknown): string[] {
  if (!Array.isArray(rules)) return [];
  return rules.map((r) => (typeof r === 'string' ? t('rule_' + r) : String((r as any)?.message ?? (r as any)?.id ?? r)));
}
export function roleName(r: string) { const s = t('role_' + r); return s === 'role_' + r ? r : s; }

// Line icons drawn as SVG elements (no icon font, no emoji font needed).
const ICONS: Record<string, string> = {
  chat: 'M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z',
  users: 'M16 20v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 18.5V20M10 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM20 20v-1.5a3.5 3.5 0 0 0-2.5-3.3M15.5 4.2a3.5 3.5 0 0 1 0 6.6',
  user: 'M19 20v-1.5a4 4 0 0 0-4-4H9a4 4 0 0 0-4 4V20M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
  shield: 'M12 21s-8-3.5-8-10V5l8-3 8 3v6c0 6.5-8 10-8 10z',
  lock: 'M6 11h12v10H6zM8.5 11V7.5a3.5 3.5 0 0 1 7 0V11',
  image: 'M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15.5 9.5a1.5 1.5 0 1 0 0-.01',
  reply: 'M10 8 5 12l5 4M5 12h9a5 5 0 0 1 5 5v1',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  recall: 'M4 10a8 8 0 1 1 1.5 6M4 4v6h6',
  plus: 'M12 5v14M5 12h14',
  bell: 'M6 17V11a6 6 0 0 1 12 0v6l1.5 2h-15zM10 21h4',
  back: 'M15 5l-7 7 7 7',
  file: 'M14 3H6v18h12V7zM14 3v4h4',
  folder: 'M3 6h6l2 2h10v11H3z',
  phone: 'M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a1 1 0 0 1-1 1A16 16 0 0 1 4 5a1 1 0 0 1 1-1z',
};
export function Icon(props: { name: keyof typeof ICONS | string; size?: number }) {
  const s = props.size ?? 18;
  return (
    <svg class="icon" width={s} height={s} viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d={ICONS[props.name] || ''} />
    </svg>
  );
}
