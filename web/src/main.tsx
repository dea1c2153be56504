import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './style.css';
import { locale, onLocale, setLocale, t } from './i18n';
import { P, S, allowed, boot, changed, isAdminOnly, offReason, setTab, toast, totalUnread, updateTitle, useStore } from './store';
import { AnnouncementBanner, AnnouncementsPage, RulesScreen } from './people';
import { ForcedPassword, ForcedTotp, LockScreen, Login } from './auth';
import { ChatView, ConversationList, DlpDialog, MessageSearchBox, MessageSearchResults, NewGroup, SearchResults } from './chat';
import { OrgTree } from './directory';
import { Profile } from './profile';
import { AdminConsole, hasAdmin } from './admin';
import { lazyPart } from './lazy';
import { WatermarkGuard, lockNow, startIdleLock, stopIdleLock } from './security';
import { Avatar, Icon, fmtDate } from './ui';

// The drive is fetched when someone first opens 网盘 (a chunk of its own).
const DriveView = lazyPart(() => import('./drive'), 'DriveView');

function App() {
  const s = useStore();
  const [, force] = useState(0);
  useEffect(() => onLocale(() => { updateTitle(); force((x) => x + 1); }), []);
  useEffect(() => { document.documentElement.lang = locale; }, []);
  let body;
  if (s.phase === 'boot') body = <div class="boot">{t('loading')}</div>;
  else if (s.phase === 'login') body = <Login />;
  else if (s.phase === 'password') body = <ForcedPassword />;
  else if (s.phase === 'totp') body = <ForcedTotp />;
  else if (s.phase === 'rules') body = <RulesScreen />;
  else if (s.locked) body = <LockScreen />; // nothing of the chat is rendered behind a locked screen
  else body = <Shell />;
  return (
    <>
      {body}
      {s.toast && <div class={'toast ' + (s.toast.kind || '')} role="status" data-testid="toast">{s.toast.text}</div>}
    </>
  );
}

function Shell() {
  const s = useStore();
  const me = s.me!;
  const shell = useRef<HTMLDivElement>(null);
  const [q, setQ] = useState('');
  const [mq, setMq] = useState('');
  const [newGroup, setNewGroup] = useState(false);
  const admin = hasAdmin(me.roles || []);
  const adminOnly = isAdminOnly(me);

  useEffect(() => { if (adminOnly) { S.tab = 'admin'; changed(); } }, []);
  // Watermark: viewer's real name, employee number and date over every view.
  useEffect(() => {
    const text = `${me.name} ${me.employee_no || me.username} ${fmtDate()}`;
    const g = new WatermarkGuard(shell.current!, text);
    const day = setInterval(() => g.setText(`${me.name} ${me.employee_no || me.username} ${fmtDate()}`), 60000);
    return () => { clearInterval(day); g.destroy(); };
  }, [me.id, me.name, me.employee_no]);
  useEffect(() => { startIdleLock(); return stopIdleLock; }, []);

  const tab = s.tab;
  const go = setTab;
  const unread = totalUnread();
  const searching = q.trim().length > 0;
  return (
    <div class={'shell tab-' + tab + (tab === 'chats' && s.openId != null ? ' has-open' : '')} ref={shell} data-testid="app-shell">
      <nav class="rail" aria-label="main">
        <div class="rail-me" title={me.name}><Avatar name={me.name} id={me.id} size={36} /></div>
        <button class={'rail-btn' + (tab === 'chats' ? ' active' : '')} data-testid="nav-chats" onClick={() => go('chats')} title={t('chats')}>
          <span class="ico"><Icon name="chat" size={22} /></span><span class="lbl">{t('chats')}</span>{unread > 0 && <span class="rail-badge" data-testid="total-unread">{unread > 99 ? '99+' : unread}</span>}
        </button>
        <button class={'rail-btn' + (tab === 'contacts' ? ' active' : '')} data-testid="nav-contacts" onClick={() => go('contacts')} title={t('contacts')}><span class="ico"><Icon name="users" size={22} /></span><span class="lbl">{t('contacts')}</span></button>
        {!adminOnly && <button class={'rail-btn' + (tab === 'announcements' ? ' active' : '')} data-testid="nav-announcements" onClick={() => go('announcements')} title={t('announcements')}><span class="ico"><Icon name="bell" size={22} /></span><span class="lbl">{t('announcements')}</span>{P.unread > 0 && <span class="rail-badge" data-testid="announcements-unread">{P.unread > 99 ? '99+' : P.unread}</span>}</button>}
        {!adminOnly && <button class={'rail-btn' + (tab === 'drive' ? ' active' : '')} data-testid="nav-drive" onClick={() => go('drive')} title={t('drive')}><span class="ico"><Icon name="folder" size={22} /></span><span class="lbl">{t('drive')}</span></button>}
        <button class={'rail-btn' + (tab === 'me' ? ' active' : '')} data-testid="nav-me" onClick={() => go('me')} title={t('me')}><span class="ico"><Icon name="user" size={22} /></span><span class="lbl">{t('me')}</span></button>
        {admin && <button class={'rail-btn' + (tab === 'admin' ? ' active' : '')} data-testid="nav-admin" onClick={() => go('admin')} title={t('admin')}><span class="ico"><Icon name="shield" size={22} /></span><span class="lbl">{t('admin')}</span></button>}
        <div class="rail-spacer" />
        <button class="rail-btn small" data-testid="lock-now" title={t('locked_title')} onClick={() => lockNow()}><Icon name="lock" size={20} /></button>
        <button class="rail-btn small" data-testid="lang-switch" onClick={() => setLocale(locale === 'en' ? 'zh-CN' : 'en')}>{locale === 'en' ? '中' : 'EN'}</button>
      </nav>
      <aside class="sidebar">
        <div class="side-head">
          <input class="search" type="search" data-testid="directory-search" placeholder={t('search_people')} title={t('search_people_hint')} value={q} onInput={(e) => setQ(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === 'Escape') setQ(''); }} />
          {!adminOnly && <button class={'icon-btn plus' + (allowed('create_groups') ? '' : ' off')} title={allowed('create_groups') ? t('new_group') : offReason('create_groups')} data-testid="new-group" data-off={allowed('create_groups') ? undefined : '1'}
            onClick={() => (allowed('create_groups') ? setNewGroup(true) : toast(offReason('create_groups'), 'error'))}><Icon name="plus" size={20} /></button>}
          {!adminOnly && <MessageSearchBox q={mq} setQ={setMq} />}
        </div>
        {!adminOnly && <AnnouncementBanner where="side" />}
        <div class="side-body">
          {searching ? <SearchResults q={q} onDone={() => setQ('')} /> : mq.trim() ? <MessageSearchResults q={mq} onDone={() => {}} /> : tab === 'contacts' ? <OrgTree /> : <ConversationList />}
        </div>
      </aside>
      <main class="content">
        {s.conn !== 'online' && (
          <div class={'conn-banner ' + s.conn} data-testid="connection-status" role="status">{s.conn === 'reconnecting' ? t('reconnecting') : t('connecting')}</div>
        )}
        {!adminOnly && <AnnouncementBanner where="content" />}
        {tab === 'me' ? <Profile /> : tab === 'admin' ? <AdminConsole /> : tab === 'announcements' ? <AnnouncementsPage /> : tab === 'drive' ? <DriveView /> : <ChatView />}
      </main>
      {newGroup && <NewGroup onClose={() => setNewGroup(false)} />}
      {s.dlp && <DlpDialog />}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
boot();
