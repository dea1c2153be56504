import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, patch, post } from './api';
import { locale, setLocale, t } from './i18n';
import { NotifyPrefs, S, changed, logout, notifyPrefs, reloadMe, resetSession, setNotifyPrefs, showError, toast, useStore } from './store';
import { PasswordForm, TotpSetup } from './auth';
import { Modal, StatusDot, fmtTime, roleName } from './ui';
import { loginReasons } from './security';
import { lazyPart } from './lazy';
import { w } from './labels_org';
import { isAdminOnly } from './state/session';
import type { LoginAlertRow, LoginAlerts, SessionRow, Sessions } from './api-types';

// Fetched when the 我 page shows them (chunks of their own, shared with the consoles).
const MyFaults = lazyPart(() => import('./admin_ops'), 'MyFaults');
const Applications = lazyPart(() => import('./org_applications'), 'Applications');

const STATUSES = ['available', 'busy', 'meeting', 'away'];

export function Profile() {
  useStore();
  const me = S.me!;
  const [sessions, setSessions] = useState<SessionRow[] | null>(null);
  const [alerts, setAlerts] = useState<LoginAlertRow[] | null>(null);
  const [pw, setPw] = useState(false);
  const [totp, setTotp] = useState(false);
  const [disable, setDisable] = useState(false);
  const [confirmAll, setConfirmAll] = useState(false);
  const [showApps, setShowApps] = useState(false);
  const [prefs, setPrefs] = useState(notifyPrefs());
  const savePrefs = (p: NotifyPrefs) => { setNotifyPrefs(p); setPrefs(p); };
  const [perm, setPerm] = useState(typeof Notification !== 'undefined' ? Notification.permission : 'denied');

  const loadSessions = () => get<Sessions>('/auth/sessions').then((r) => setSessions(r.sessions), () => setSessions([]));
  useEffect(() => {
    loadSessions();
    get<LoginAlerts>('/me/login-alerts').then((r) => setAlerts(r.alerts || []), () => setAlerts([]));
  }, []);

  const myStatus = me.status === 'online' || me.status === 'offline' || !me.status ? 'available' : me.status;
  async function setStatus(s: string) {
    try { await patch('/me', { status: s }); await reloadMe(); toast(t('saved')); } catch (e) { showError(e); }
  }
  async function logoutAll() {
    try { await post('/auth/logout-all'); } catch (e) { if (!(e instanceof ApiError) || e.status !== 401) { showError(e); return; } }
    resetSession(); S.phase = 'login'; changed();
  }

  return (
    <div class="profile" data-testid="profile">
      <section class="panel">
        <h3>{t('profile')}</h3>
        <dl class="kv">
          <dt>{t('name')}</dt><dd data-testid="profile-name">{me.name} {me.hr_verified && <span class="badge verified" data-testid="hr-verified">✔ {t('hr_verified')}</span>}</dd>
          <dt>{t('username')}</dt><dd>{me.username}</dd>
          <dt>{t('employee_no')}</dt><dd>{me.employee_no || '—'}</dd>
          <dt>{t('unit')}</dt><dd>{me.unit || '—'}</dd>
          <dt>{t('position')}</dt><dd>{me.position || '—'}</dd>
          <dt>{t('phone')}</dt><dd>{me.phone || '—'}</dd>
          {me.roles?.length > 0 && <><dt>{t('roles')}</dt><dd>{me.roles.map(roleName).join('、')}</dd></>}
          <dt>{t('status')}</dt>
          <dd>
            <select data-testid="status-select" value={myStatus} onChange={(e) => setStatus(e.currentTarget.value)}>
              {STATUSES.map((s) => <option value={s}>{t(s)}</option>)}
            </select> <StatusDot status={me.status === 'available' ? 'online' : me.status} />
          </dd>
          <dt>{t('language')}</dt>
          <dd>
            <select data-testid="language-select" value={locale} onChange={(e) => setLocale(e.currentTarget.value as any)}>
              <option value="zh-CN">简体中文</option><option value="en">English</option>
            </select>
          </dd>
          <dt>{t('notifications')}</dt>
          <dd>
            {perm === 'granted' ? t('notifications_on') : perm === 'denied' ? t('notifications_denied') : (
              <button data-testid="enable-notifications" onClick={() => Notification.requestPermission().then(setPerm)}>{t('enable_notifications')}</button>
            )}
          </dd>
          <dt></dt>
          <dd class="checks-col">
            <label class="inline"><input type="checkbox" data-testid="notify-sound" checked={prefs.sound} onChange={(e) => savePrefs({ ...prefs, sound: e.currentTarget.checked })} /> {t('notify_sound')}</label>
            <label class="inline"><input type="checkbox" data-testid="notify-hide-text" checked={prefs.hideText} onChange={(e) => savePrefs({ ...prefs, hideText: e.currentTarget.checked })} /> {t('notify_hide_text')}</label>
          </dd>
        </dl>
      </section>

      {!isAdminOnly(me) && (
        <section class="panel" data-testid="profile-applications">
          <h3>{w('applications')}</h3>
          {showApps ? <Applications /> : <button data-testid="open-applications" onClick={() => setShowApps(true)}>{w('application_new')} / {w('applications_mine')}</button>}
        </section>
      )}
      <section class="panel">
        <h3>{t('security')}</h3>
        <div class="row gap">
          <button data-testid="open-change-password" onClick={() => setPw(true)}>{t('change_password')}</button>
          <span>{t('two_step')}<b data-testid="totp-state">{me.totp_enabled ? t('totp_enabled') : t('totp_disabled')}</b></span>
          {!me.totp_enabled && <button data-testid="open-totp" onClick={() => setTotp(true)}>{t('totp_enable')}</button>}
          {me.totp_enabled && !me.roles.some((r) => ['sysadmin', 'secadmin', 'auditor'].includes(r)) && <button onClick={() => setDisable(true)}>{t('totp_disable')}</button>}
          <button class="ghost" data-testid="logout" onClick={logout}>{t('logout')}</button>
        </div>
        <h4>{t('sessions')}</h4>
        <table class="grid" data-testid="sessions">
          <thead><tr><th>{t('created_at')}</th><th>{t('last_seen')}</th><th>{t('ip')}</th><th>{t('user_agent')}</th><th /></tr></thead>
          <tbody>
            {(sessions || []).map((s) => (
              <tr data-testid="session-row">
                <td>{fmtTime(s.created_at, true)}</td><td>{fmtTime(s.last_seen_at, true)}</td><td>{s.ip}</td>
                <td class="ua" title={s.user_agent}>{shortUa(s.user_agent)}</td>
                <td>{s.current ? <span class="badge">{t('session_current')}</span> : (
                  <button class="link" onClick={async () => { try { await del(`/auth/sessions/${s.id}`); loadSessions(); } catch (e) { showError(e); } }}>{t('end_session')}</button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button class="danger" data-testid="logout-all" onClick={() => setConfirmAll(true)}>{t('logout_all')}</button>
        <h4>{t('login_alerts')}</h4>
        {alerts && alerts.length === 0 && <div class="muted">{t('none')}</div>}
        {alerts && alerts.length > 0 && (
          <ul class="alerts" data-testid="my-login-alerts">{alerts.map((a) => <li>{fmtTime(a.created_at, true)} · {a.ip} · {loginReasons(a)}</li>)}</ul>
        )}
      </section>

      <MyFaults />

      {pw && <Modal title={t('change_password')} onClose={() => setPw(false)}><PasswordForm onDone={() => setPw(false)} /></Modal>}
      {totp && <Modal title={t('totp_title')} onClose={() => setTotp(false)}><TotpSetup onDone={() => { setTotp(false); reloadMe().catch(showError); }} /></Modal>}
      {disable && <DisableTotp onClose={() => setDisable(false)} />}
      {confirmAll && (
        <Modal title={t('logout_all')} onClose={() => setConfirmAll(false)}>
          <p>{t('logout_all_confirm')}</p>
          <div class="row-end"><button onClick={() => setConfirmAll(false)}>{t('cancel')}</button><button class="danger" data-testid="logout-all-confirm" onClick={logoutAll}>{t('confirm')}</button></div>
        </Modal>
      )}
    </div>
  );
}

function DisableTotp({ onClose }: { onClose: () => void }) {
  const [p, setP] = useState('');
  return (
    <Modal title={t('totp_disable')} onClose={onClose}>
      <form class="stack" onSubmit={async (e) => { e.preventDefault(); try { await post('/auth/totp/disable', { password: p }); onClose(); reloadMe(); } catch (err) { showError(err); } }}>
        <label>{t('password')}<input type="password" value={p} onInput={(e) => setP(e.currentTarget.value)} required /></label>
        <button class="danger" type="submit">{t('totp_disable')}</button>
      </form>
    </Modal>
  );
}

function shortUa(ua?: string) {
  if (!ua) return '';
  const m = /(Edg|Chrome|Chromium|Firefox|Safari)\/[\d.]+/.exec(ua);
  return m ? m[0] : ua.slice(0, 40);
}
