// The shapes the client reads from the server (declared by hand for now).
export type Me = {
  id: number; username: string; name: string; employee_no?: string; phone?: string; unit?: string; unit_id?: number;
  position?: string; status?: string; roles: string[]; totp_enabled?: boolean; must_change_password?: boolean; must_enroll_totp?: boolean;
  locked?: boolean; hr_verified?: boolean;
  must_accept_rules?: boolean;
};
export type Member = { id: number; name: string; role?: string };
export type Attachment = { id: number; kind?: string; mime?: string; size?: number; width?: number; height?: number; name?: string; filename?: string; scan_status?: string };
export type Message = {
  id: number; conversation_id: number; seq: number; sender: { id: number; name: string }; text: string; created_at: string;
  kind?: string; edited?: boolean; edited_at?: string; recalled?: boolean; content_destroyed?: boolean; urgent?: boolean; reply_to?: number | null | { id: number };
  mentions?: number[]; attachments?: Attachment[]; read_count?: number; recipient_count?: number; client_id?: string;
  urgent_recipients?: { id: number; name: string; phone?: string; read?: boolean }[]; dlp?: { action?: string; findings?: any[] } | null;
  reactions?: { emoji: string; users: { id: number; name: string }[] }[];
};
export type Conversation = {
  id: number; kind: 'direct' | 'group'; name?: string; members: Member[]; my_role?: string; unread_count: number;
  mention_count?: number; urgent_unread?: number | boolean; last_message?: Message | null; last_seq?: number; read_seq?: number; updated_at?: string;
  pinned?: boolean; muted?: boolean; notice_unread?: boolean; all_may_mention_all?: boolean;
  notice?: { text: string; version: number; by: { id: number; name: string }; at?: string } | null;
};
export type Pending = {
  client_id: string; conversation_id: number; text: string; urgent: boolean; reply_to?: number; confirm?: boolean;
  state: 'sending' | 'queued' | 'failed'; error?: string; created_at: string;
};
export type Thread = { list: Message[]; byId: Map<number, Message>; loadedAll: boolean; loadingOlder: boolean; loaded: boolean };
export type ClientConfig = { idle_lock_minutes?: number; locale?: string; max_message_length?: number; max_file_bytes?: number; antivirus?: string; files_without_scanner?: string; recall_window_minutes?: number };
export type DlpNotice = { user_id: number; name?: string; level: string; violations?: number; suspended_until?: string | null };
// A DLP dialog: a refused send (blocked), a warning to confirm, sending suspended, or an escalation notice
// (to the person concerned, or to their unit head).
export type Dlp = {
  kind: 'blocked' | 'confirm' | 'suspended' | 'notice'; message: string; findings: any[]; pending?: Pending; retry?: () => void;
  file?: boolean; until?: string | null; notice?: DlpNotice;
};
