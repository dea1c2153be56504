import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { t, locale } from './i18n';

export function Modal(props: { title: string; onClose?: () => void; children: ComponentChildren; wide?: boolean; testid?: string }) {
  useEffect(() => {
    const f = (e: KeyboardEvent) => { if (e.key === 'Escape' && props.onClose) props.onClose(); };
    window.addEventListener('keydown', f);
    return () => window.removeEventListener('keydown', f);
  }, [props.onClose]);
  return (
    <div class="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget && props.onClose) props.onClose(); }}>
      <div class={'modal' + (props.wide ? ' wide' : '')} role="dialog" aria-modal="true" data-testid={props.testid}>
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
