// The client's state, split by concern under state/: core (the store itself), session, conversations,
// threads (loaded messages), outbox (sending), realtime (the WebSocket), presence, dlp (its dialogs), drafts, search and notify (title and desktop
// notifications). Everything lives in memory only: message content is never written to localStorage,
// sessionStorage or IndexedDB. This module re-exports them so callers keep one import.
export * from './state/types';
export * from './state/core';
export * from './state/session';
export * from './state/conversations';
export * from './state/threads';
export * from './state/outbox';
export * from './state/realtime';
export * from './state/notify';
export * from './state/group_life';
export * from './state/presence';
export * from './state/dlp';
export * from './state/drafts';
export * from './state/search';
export * from './state/people';
