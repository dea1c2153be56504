// The chat screen, split by concern under chat/: the sidebar list (conversation_list), the open
// conversation (view, header, message_list, message_item, composer, secure_pack, send_errors), groups,
// the DLP dialog and message search. This module re-exports what the shell uses.
export { ConversationList, SearchResults } from './chat/conversation_list';
export { ChatView } from './chat/view';
export { NewGroup } from './chat/groups';
export { DlpDialog } from './chat/dlp_dialog';
export { MessageSearchBox, MessageSearchResults } from './chat/message_search';
