import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, post } from './api';
import { setLocale, locale, t } from './i18n';
import { S, afterAuth, changed, logout, reloadMe, resetSession, showError, toast } from './store';
import { unlocked } from './security';
import { Icon, ruleText } from './ui';
import type { RecoveryCodes, TotpEnrollment } from './api-types';

function LangSwitch() {
  return (
    <button class="link lang" data-testid="lang-switch" onClick={() => setLocale(locale === 'en' ? 'zh-CN' : 'en')}>
      {locale === 'en' ? '中文' : 'English'}
    </button>
  );
}

function Brand() {
  return (
    <div class="brand">
      <div class="logo" aria-hidden="true">密</div>
      <div>
        <div class="brand-name">{t('app_name')}</div>
        <div class="brand-tag">{t('app_tagline')}</div>
      </div>
    </div>
  );
}

export function Login() {
  const [username, setU] = useState('');
  const [password, setP] = useState('');
  const [otp, setOtp] = useState('');
  const [needOtp, setNeedOtp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true); setErr('');
    try {
      const body: any = { username: username.trim(), password };
      if (needOtp) body.otp = otp.trim();
      const r = await api<any>('POST', '/auth/login', body);
      S.me = r.user;
      if (S.me) {
        if (r.must_change_password !== undefined) S.me.must_change_password = r.must_change_password;
        if (r.must_enroll_totp !== undefined) S.me.must_enroll_totp = r.must_enroll_totp;
      }
      try { await reloadMe(); } catch { afterAuth(); }
    } catch (e) {
      if (e instanceof ApiError && e.code === 'otp_required') {
        if (needOtp) setErr(e.message);
        setNeedOtp(true);
      } else setErr(e instanceof ApiError ? e.message : t('error_generic'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="auth-page">
      <form class="auth-card" onSubmit={submit} data-testid="login-form">
        <Brand />
        {!needOtp ? (
          <>
            <label>{t('username')}
              <input data-testid="login-username" autocomplete="username" value={username} onInput={(e) => setU(e.currentTarget.value)} autoFocus required />
            </label>
            <label>{t('password')}
              <input data-testid="login-password" type="password" autocomplete="current-password" value={password} onInput={(e) => setP(e.currentTarget.value)} required />
            </label>
          </>
        ) : (
          <label>{t('otp')}
            <span class="hint">{t('otp_hint')}</span>
            <input data-testid="login-otp" inputMode="numeric" autocomplete="one-time-code" value={otp} onInput={(e) => setOtp(e.currentTarget.value)} autoFocus required />
          </label>
        )}
        {err && <div class="form-error" role="alert" data-testid="login-error">{err}</div>}
        <button class="primary" type="submit" data-testid="login-submit" disabled={busy}>{busy ? t('logging_in') : t('login')}</button>
        {needOtp && <button type="button" class="link" onClick={() => { setNeedOtp(false); setOtp(''); setErr(''); }}>{t('back')}</button>}
        <div class="auth-foot"><span>{t('intranet_only')}</span><LangSwitch /></div>
      </form>
    </div>
  );
}

export function PasswordForm(props: { forced?: boolean; onDone?: () => void }) {
  const [oldP, setOld] = useState('');
  const [newP, setNew] = useState('');
  const [confirmP, setConfirm] = useState('');
  const [err, setErr] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (confirmP && confirmP !== newP) { setErr([t('passwords_differ')]); return; }
    setBusy(true); setErr([]);
    try {
      await post('/auth/password', { old_password: oldP, new_password: newP });
      toast(t('password_changed'));
      setOld(''); setNew(''); setConfirm('');
      if (props.onDone) props.onDone();
    } catch (e) {
      if (e instanceof ApiError) setErr([e.message, ...ruleText(e.detail.rules)]);
      else setErr([t('error_generic')]);
    } finally { setBusy(false); }
  }
  return (
    <form class="stack" onSubmit={submit} data-testid="password-form">
      <label>{t('old_password')}<input data-testid="password-old" type="password" autocomplete="current-password" value={oldP} onInput={(e) => setOld(e.currentTarget.value)} required /></label>
      <label>{t('new_password')}<input data-testid="password-new" type="password" autocomplete="new-password" value={newP} onInput={(e) => setNew(e.currentTarget.value)} required /></label>
      <label>{t('confirm_password')}<input data-testid="password-confirm" type="password" autocomplete="new-password" value={confirmP} onInput={(e) => setConfirm(e.currentTarget.value)} placeholder={props.forced ? '' : ''} /></label>
      {err.length > 0 && <ul class="form-error" role="alert" data-testid="password-error">{err.map((x) => <li>{x}</li>)}</ul>}
      <button class="primary" type="submit" data-testid="password-submit" disabled={busy}>{t('submit')}</button>
    </form>
  );
}

export function ForcedPassword() {
  return (
    <div class="auth-page">
      <div class="auth-card">
        <Brand />
        <h2>{t('change_password_title')}</h2>
        <p class="hint">{t('change_password_hint')}</p>
        <PasswordForm forced onDone={() => reloadMe().catch(showError)} />
        <div class="auth-foot"><button class="link" onClick={logout}>{t('logout')}</button><LangSwitch /></div>
      </div>
    </div>
  );
}

export function TotpSetup(props: { onDone: () => void }) {
  const [enroll, setEnroll] = useState<TotpEnrollment | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [err, setErr] = useState('');

  async function start() {
    setErr('');
    try { setEnroll(await post<TotpEnrollment>('/auth/totp/enroll')); } catch (e) { setErr(e instanceof ApiError ? e.message : t('error_generic')); }
  }
  useEffect(() => { start(); }, []);

  async function verify(e: Event) {
    e.preventDefault();
    setErr('');
    try {
      const r = await post<RecoveryCodes>('/auth/totp/verify', { otp: code.trim() });
      setCodes(r?.recovery_codes || []);
    } catch (e) { setErr(e instanceof ApiError ? e.message : t('error_generic')); }
  }
  if (codes) {
    return (
      <div class="stack" data-testid="totp-recovery">
        <h3>{t('totp_recovery_title')}</h3>
        <p class="hint">{t('totp_recovery_hint')}</p>
        <ol class="codes" data-testid="totp-recovery-codes">{codes.map((c) => <li>{c}</li>)}</ol>
        <button class="primary" data-testid="totp-done" onClick={props.onDone}>{t('totp_done')}</button>
      </div>
    );
  }
  // The QR code is the server's SVG markup, shown through <img> with a data: URL: an image context never
  // runs scripts and nothing is inserted as HTML.
  const qr = enroll?.qr_svg ? 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(enroll.qr_svg) : '';
  return (
    <form class="stack" onSubmit={verify} data-testid="totp-form">
      <p class="hint">{t('totp_hint')}</p>
      {qr && <img class="qr" src={qr} alt="QR" data-testid="totp-qr" />}
      {enroll && <div class="secret">{t('totp_secret')}: <code data-testid="totp-secret">{enroll.secret}</code></div>}
      <label>{t('totp_code')}<input data-testid="totp-code" inputMode="numeric" autocomplete="one-time-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} required /></label>
      {err && <div class="form-error" role="alert">{err}</div>}
      <button class="primary" type="submit" data-testid="totp-submit" disabled={!enroll}>{t('totp_verify')}</button>
    </form>
  );
}

export function ForcedTotp() {
  return (
    <div class="auth-page">
      <div class="auth-card">
        <Brand />
        <h2>{t('totp_title')}</h2>
        <p class="hint">{t('totp_required_hint')}</p>
        <TotpSetup onDone={() => reloadMe().catch(showError)} />
        <div class="auth-foot"><button class="link" onClick={logout}>{t('logout')}</button><LangSwitch /></div>
      </div>
    </div>
  );
}

export function LockScreen() {
  const [pw, setPw] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const submitted = pw;
    setBusy(true); setErr('');
    try {
      await api('POST', '/auth/unlock', { password: submitted });
      await unlocked();
    } catch (e) {
      if (e instanceof ApiError && (e.code === 'account_locked' || e.code === 'session_expired' || e.code === 'not_authenticated')) {
        // Too many wrong passwords locked the account and ended the session: back to the login page.
        toast(e.message, 'error'); resetSession(); S.phase = 'login'; changed(); return;
      }
      setErr(e instanceof ApiError ? e.message : t('error_generic'));
      setPw((cur) => (cur === submitted ? '' : cur));
    } finally { setBusy(false); }
  }
  return (
    <div class="lock-screen" data-testid="lock-screen">
      <form class="auth-card" onSubmit={submit}>
        <div class="lock-icon" aria-hidden="true"><Icon name="lock" size={44} /></div>
        <h2>{t('locked_title')}</h2>
        <p class="hint">{S.me?.name} · {t('locked_hint')}</p>
        <label>{t('password')}<input data-testid="lock-password" type="password" autocomplete="current-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} autoFocus required /></label>
        {err && <div class="form-error" role="alert" data-testid="unlock-error">{err}</div>}
        <button class="primary" type="submit" data-testid="lock-submit" disabled={busy}>{t('unlock')}</button>
        <button type="button" class="link" onClick={logout}>{t('logout')}</button>
      </form>
    </div>
  );
}

export { LangSwitch, Brand };
