// The key management status (issue 20): what `mixun keys status` prints, for the security administrator
// and the auditor, read-only. Rotation and destruction stay CLI operations; the screen names the commands.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { locale, t } from './i18n';
import { showError } from './store';
import { fmtTime } from './ui';
import { hasKw, kw } from './labels_keys';
import type { KeyEvent, KeysStatus, PeriodKeyRow } from './api-types';

function month(p: number): string {
  const s = String(p);
  return s.length === 6 ? `${s.slice(0, 4)}-${s.slice(4)}` : s;
}

/** The retention group's name: the server's Chinese label in zh-CN, the same parts in English. */
function groupName(p: PeriodKeyRow): string {
  if (locale !== 'en') return p.group_label;
  if (!p.group) return kw('g_legacy');
  return (p.group_name || p.group).split('+').map((part) => {
    if (part === 'default') return kw('g_default');
    if (part === 'kind:direct') return kw('g_direct');
    if (part === 'kind:group') return kw('g_group');
    if (part.startsWith('unit:')) return kw('g_unit', { x: part.slice(5) });
    if (part.startsWith('hold:')) return kw('g_hold', { x: part.slice(5) });
    return part;
  }).join(' + ');
}

function kindName(kind: string, labels: Record<string, string>): string {
  return hasKw('kind_' + kind) ? kw('kind_' + kind) : (labels[kind] || kind);
}

function whereName(where: string | null | undefined): string {
  if (!where) return '—';
  return hasKw('where_' + where) ? kw('where_' + where) : where;
}

function LastRow({ name, ev, detail, testid }: { name: string; ev: KeyEvent | null; detail: (e: KeyEvent) => string; testid: string }) {
  return (
    <tr data-testid={testid}>
      <td>{kw(name)}</td>
      <td>{ev ? fmtTime(ev.at, true) : <span class="muted">{kw('never')}</span>}</td>
      <td class="wrap">{ev ? detail(ev) : ''}</td>
    </tr>
  );
}

function periodsText(e: KeyEvent): string {
  const list = e.periods.slice(0, 12).join('、') + (e.periods.length > 12 ? '…' : '');
  return kw('periods_detail', { n: e.count ?? e.periods.length, list: list || '—' });
}

export function KeysScreen() {
  const [st, setSt] = useState<KeysStatus | null>(null);
  useEffect(() => { get<KeysStatus>('/security/keys').then(setSt, showError); }, []);
  if (!st) return <div class="muted pad" data-testid="admin-keys">{t('loading')}</div>;
  const stray = st.periods.filter((p) => p.stray_file);
  return (
    <div data-testid="admin-keys" class="stack">
      <h3>{kw('title')}</h3>
      <p class="muted small">{kw('intro')}</p>
      <dl class="kv">
        <dt>{kw('cipher')}</dt><dd data-testid="keys-cipher">{st.cipher}</dd>
        <dt>{kw('provider')}</dt><dd data-testid="keys-provider">{whereName(st.provider === 'pkcs11' ? 'hsm' : 'file')}</dd>
        <dt>{kw('period_where')}</dt><dd data-testid="keys-period-where">{st.period_keys_where === 'file' ? kw('where_file_host') : whereName(st.period_keys_where)}</dd>
        {st.period_keys_where === 'file' && <><dt>{kw('period_dir')}</dt><dd class="wrap" data-testid="keys-period-dir">{st.period_keys_dir}</dd></>}
      </dl>
      {st.period_keys_fallback && <div class="notice-text warn" data-testid="keys-fallback">{kw('fallback', { why: st.period_keys_fallback })}</div>}
      {st.unreadable > 0 && <div class="warn" data-testid="keys-unreadable">{kw('unreadable', { n: st.unreadable })}</div>}

      <h3>{kw('last_title')}</h3>
      <table class="grid" data-testid="keys-last">
        <thead><tr><th>{kw('operation')}</th><th>{t('time')}</th><th>{kw('detail')}</th></tr></thead>
        <tbody>
          <LastRow name="last_rotated" testid="keys-last-rotated" ev={st.last.rotated}
            detail={(e) => kw('rotated_detail', { v: e.version ?? '?', p: e.previous ?? '?', n: e.rewrapped ?? 0 })} />
          <LastRow name="last_destroyed" testid="keys-last-destroyed" ev={st.last.period_keys_destroyed} detail={periodsText} />
          <LastRow name="last_exported" testid="keys-last-exported" ev={st.last.period_keys_exported} detail={periodsText} />
        </tbody>
      </table>

      <h3>{kw('versions_title')}</h3>
      <table class="grid" data-testid="keys-versions">
        <thead><tr><th>{kw('version')}</th><th>{kw('state')}</th><th>{kw('where')}</th><th>{kw('protects')}</th><th>{kw('detail')}</th></tr></thead>
        <tbody>{st.versions.map((v) => (
          <tr data-testid="keys-version-row" data-version={v.version}>
            <td>v{v.version}</td>
            <td><span class={v.current ? 'badge ok' : v.present ? 'badge' : 'badge urgent'}>{kw(v.current ? 'kek_current' : v.present ? 'kek_retired' : 'kek_missing')}</span></td>
            <td data-label={kw('where')}>{whereName(v.where)}</td>
            <td data-label={kw('protects')}>{v.total}</td>
            <td class="wrap">{Object.entries(v.protects).filter(([, n]) => n > 0).map(([k, n]) => `${kindName(k, st.labels)} ${n}`).join('，') || '—'}</td>
          </tr>
        ))}</tbody>
      </table>

      <h3>{kw('periods_title')}</h3>
      <table class="grid" data-testid="keys-periods">
        <thead><tr><th>{kw('month')}</th><th>{kw('group')}</th><th>{kw('state')}</th><th>{kw('where')}</th><th>{kw('protects_conv')}</th></tr></thead>
        <tbody>{st.periods.map((p) => (
          <tr data-testid="keys-period-row" data-period={p.period} data-state={p.state}>
            <td>{month(p.period)}</td>
            <td class="wrap" data-label={kw('group')}>{groupName(p)}</td>
            <td>
              <span class={p.state === 'present' ? 'badge ok' : p.state === 'destroyed' ? 'badge' : 'badge urgent'}>{kw('p_' + p.state)}</span>
              {p.destroyed_at && <span class="muted small"> {fmtTime(p.destroyed_at, true)}</span>}
            </td>
            <td data-label={kw('where')}>{p.where === 'file' ? kw('where_file') : whereName(p.where)}</td>
            <td data-label={kw('protects_conv')}>{p.protects}{p.legacy > 0 && <span class="muted small">（{kw('legacy', { n: p.legacy })}）</span>}</td>
          </tr>
        ))}</tbody>
      </table>
      {st.periods.length === 0 && <div class="muted">{kw('no_periods')}</div>}
      {st.periods.some((p) => p.legacy > 0) && <div class="muted small">{kw('legacy_hint')}</div>}
      {stray.map((p) => <div class="warn" data-testid="keys-stray">{kw('stray', { label: p.label })}</div>)}

      <h3>{kw('commands_title')}</h3>
      <ul class="small" data-testid="keys-commands">
        <li>{kw('cmd_rotate')}</li>
        <li>{kw('cmd_destroy')}</li>
        <li>{kw('cmd_periods')}</li>
        <li>{kw('cmd_status')}</li>
      </ul>
    </div>
  );
}
