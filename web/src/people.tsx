// People's rules, the staff side: the rules to accept before anything else, the 公告 page and its banner.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from './api';
import { locale, setLocale, t } from './i18n';
import { P, S, changed, loadAnnouncements, logout, markAnnouncementRead, narrowScreen, reloadMe, setTab, showError, useStore } from './store';
import type { Announcement } from './store';
import { Icon, fmtTime } from './ui';
import type { RulesCurrent } from './api-types';

/** Announcement text: paragraphs (blank lines), line breaks and **bold**, built as elements (never HTML). */
export function RichText({ text }: { text: string }) {
  return (
    <div class="rich">
      {text.split(/\n{2,}/).map((para) => (
        <p>{para.split('\n').map((line, i) => (
          <>{i > 0 && <br />}{line.split(/(\*\*[^*]+\*\*)/).map((part) => (part.startsWith('**') && part.endsWith('**') && part.length > 4 ? <b>{part.slice(2, -2)}</b> : part))}</>
        ))}</p>
      ))}
    </div>
  );
}

/** The usage and confidentiality rules, shown after login until the current version is accepted. */
export function RulesScreen() {
  const [cur, setCur] = useState<RulesCurrent | null>(null);
  const [agree, setAgree] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const load = () => get<RulesCurrent>('/rules/current').then(setCur, (e) => setErr(e instanceof ApiError ? e.message : t('error_generic')));
  useEffect(() => { load(); }, []);
  async function accept() {
    setBusy(true); setErr('');
    try {
      await post('/rules/accept', { version: cur!.rules!.version });  // the button shows only with the rules
      await reloadMe();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'rules_version_stale') { setAgree(false); load(); }
      setErr(e instanceof ApiError ? e.message : t('error_generic'));
    } finally { setBusy(false); }
  }
  const r = cur?.rules;
  return (
    <div class="auth-page">
      <div class="auth-card rules-card" data-testid="rules-screen">
        <h2>{r?.title || t('rules_title')}</h2>
        <p class="hint">{t('rules_intro')}</p>
        {r && <div class="muted small" data-testid="rules-version">{t('rules_version', { v: r.version })} · {fmtTime(r.published_at, true)}</div>}
        {r && <div class="rules-body" data-testid="rules-body" tabIndex={0}><RichText text={r.body} /></div>}
        {cur && !r && <p class="muted">{t('rules_none')}</p>}
        <label class="check"><input type="checkbox" data-testid="rules-agree" checked={agree} onChange={(e) => setAgree(e.currentTarget.checked)} /> {t('rules_agree')}</label>
        {err && <div class="form-error" role="alert">{err}</div>}
        <button class="primary" data-testid="rules-accept" disabled={!agree || !r || busy} onClick={accept}>{t('rules_accept')}</button>
        <div class="auth-foot">
          <button class="link" onClick={logout}>{t('logout')}</button>
          <button class="link lang" data-testid="lang-switch" onClick={() => setLocale(locale === 'en' ? 'zh-CN' : 'en')}>{locale === 'en' ? '中文' : 'English'}</button>
        </div>
      </div>
    </div>
  );
}

function useNarrow() {
  const [narrow, setNarrow] = useState(!!narrowScreen?.matches);
  useEffect(() => {
    const mq = narrowScreen;
    if (!mq) return;
    const f = () => setNarrow(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, []);
  return narrow;
}

/** The banner while announcements are unread or unconfirmed: over the content on wide screens, over the
 * list on narrow ones (where the content is hidden until a conversation opens). */
export function AnnouncementBanner({ where }: { where: 'side' | 'content' }) {
  useStore();
  const narrow = useNarrow();
  if ((where === 'side') !== narrow) return null;
  if (!P.banner.length || S.tab === 'announcements') return null;
  const first = P.banner[0];
  return (
    <div class="announce-banner" role="status" data-testid="announcement-banner">
      <Icon name="bell" size={16} /><span class="announce-banner-text">{t('announcement_banner', { title: first.title })}{P.banner.length > 1 ? ' ' + t('announcement_banner_more', { n: P.banner.length }) : ''}</span>
      <button class="link" data-testid="announcement-banner-open" onClick={() => setTab('announcements')}>{t('announcement_view')}</button>
    </div>
  );
}

function AnnouncementItem({ a }: { a: Announcement }) {
  const [open, setOpen] = useState(false);
  const unread = !a.read_at;
  const toConfirm = a.must_confirm && !a.confirmed_at;
  return (
    <li class={'announce-item' + (unread ? ' unread' : '')} data-testid="announcement-item" data-id={a.id}>
      <button class="announce-head" data-testid="announcement-open" aria-expanded={open} onClick={() => {
        setOpen(!open);
        if (!open && unread) markAnnouncementRead(a).catch(showError);
      }}>
        {a.pinned && <span class="badge">{t('announcement_pinned')}</span>}
        {a.must_confirm && <span class={'badge ' + (toConfirm ? 'warn' : 'ok')}>{toConfirm ? t('announcement_must_confirm') : t('announcement_confirmed')}</span>}
        <span class="announce-title">{a.title}</span>
        <span class="muted small">{fmtTime(a.created_at)}</span>
      </button>
      {open && (
        <div class="announce-body" data-testid="announcement-body">
          <div class="muted small">{a.author ? t('announcement_from', { name: a.author }) : ''}{a.expires_at ? ' · ' + t('announcement_expires', { t: fmtTime(a.expires_at, true) }) : ''}</div>
          <RichText text={a.body} />
          {(a.files || []).length > 0 && (
            <ul class="announce-files">{(a.files || []).map((f) => (
              <li><a data-testid="announcement-file" href={`/api/v1/announcements/${a.id}/files/${f.id}`} download={f.filename}><Icon name="file" size={14} /> {f.filename}</a> <span class="muted small">{Math.max(1, Math.round(f.size / 1024))} KB</span></li>
            ))}</ul>
          )}
          {toConfirm && <button class="primary" data-testid="announcement-confirm" onClick={() => markAnnouncementRead(a, true).catch(showError)}>{t('announcement_confirm')}</button>}
        </div>
      )}
    </li>
  );
}

/** The 公告 page: the caller's announcements, pinned first. */
export function AnnouncementsPage() {
  useStore();
  useEffect(() => { P.loaded = false; changed(); loadAnnouncements(); }, []);
  return (
    <div class="announcements pad" data-testid="announcements-page">
      <h2>{t('announcements')}</h2>
      {P.loaded && P.announcements.length === 0 && <div class="muted">{t('announcements_none')}</div>}
      <ul class="announce-list">{P.announcements.map((a) => <AnnouncementItem key={a.id} a={a} />)}</ul>
    </div>
  );
}
