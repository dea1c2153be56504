// The shapes the client reads from the server: generated from the OpenAPI document (../api-types.ts,
// `python -m mixun.api.tsgen`; docs/api.md), not declared by hand.
import type * as api from '../api-types';

export type {
  AnnouncementFrame, ApplicationChangedFrame, AttachmentScannedFrame, DlpViolationNoticeFrame, DriveHandedOverFrame,
  DriveRemovedFrame, DriveSpaceChangedFrame, DriveUnusedFrame, Frame, GroupRequestChangedFrame, MessagePage, ReadFrame,
} from '../api-types';
export type Me = api.Me;
export type Member = api.ConversationMember;
export type Attachment = api.Attachment;
export type Message = api.Message;
export type Conversation = api.Conversation;
export type ConversationPublic = api.ConversationPublic;
export type DlpFinding = api.DlpFinding;
export type Pending = {
  client_id: string; conversation_id: number; text: string; urgent: boolean; reply_to?: number; confirm?: boolean;
  state: 'sending' | 'queued' | 'failed'; error?: string; created_at: string;
};
export type Thread = { list: Message[]; byId: Map<number, Message>; loadedAll: boolean; loadingOlder: boolean; loaded: boolean };
// Empty until GET /client-config first answers.
export type ClientConfig = Partial<api.ClientConfig>;
export type DlpNotice = Omit<api.DlpViolationNoticeFrame, 'type' | 'event_seq'>;
// A DLP dialog: a refused send (blocked), a warning to confirm, sending suspended, or an escalation notice
// (to the person concerned, or to their unit head).
export type Dlp = {
  kind: 'blocked' | 'confirm' | 'suspended' | 'notice'; message: string; findings: DlpFinding[]; pending?: Pending; retry?: () => void;
  file?: boolean; until?: string | null; notice?: DlpNotice;
};
