// Generated from the OpenAPI document by `python -m mixun.api.tsgen` (src/mixun/api/tsgen.py): do not edit.
// The server's response models are in src/mixun/api/models.py; docs/api.md says how this file is kept true.

export type AccessReason = {
  /** the reason's category (needed; its Chinese label is accepted too): regulatory_inspection, internal_investigation, customer_complaint, litigation, audit_sampling, other */
  category?: "regulatory_inspection" | "internal_investigation" | "customer_complaint" | "litigation" | "audit_sampling" | "other" | "监管检查" | "内部调查" | "客户投诉" | "法律诉讼" | "审计抽查" | "其他";
  /** at least 10 characters */
  reason: string;
};

/** ``services.dual_control._views``: a request for heavy access, pending until another officer decides; ``params`` are what it will do (an export's filters, a version, a policy, a hold). */
export type AccessRequest = {
  id: number;
  kind: string;
  kinds: string[];
  params: { [key: string]: unknown };
  reason_category: string;
  reason: string;
  status: "pending" | "approved" | "rejected" | "used";
  requested_by: Person;
  requested_at: string;
  decided_by: Person | null;
  decided_at: string | null;
  decision_note: string;
  used_at: string | null;
};

/** 202: the access needs a second compliance officer; the request was filed (``request``). */
export type AccessRequestFiled = {
  status: "pending";
  request: AccessRequest;
};

/** ``services.dual_control.list_requests``, with the dual-control settings in force. */
export type AccessRequests = {
  requests: AccessRequest[];
  next_offset: number | null;
  dual_control: DualControlFlags;
};

/** One review with its findings (those of ``kind`` when asked). */
export type AccountReview = {
  id: number;
  created_at: string;
  trigger: string;
  counts: { [key: string]: number };
  total: number;
  findings: ReviewFinding[];
};

/** ``services.account_review._view``: one review, counted by kind. */
export type AccountReviewSummary = {
  id: number;
  created_at: string;
  trigger: string;
  counts: { [key: string]: number };
  total: number;
};

/** ``services.account_review.list_reviews``: newest first, with the thresholds and the kinds. */
export type AccountReviews = {
  reviews: AccountReviewSummary[];
  next_offset: number | null;
  thresholds: ReviewThresholds;
  kinds: string[];
};

export type AdminIn = {
  user_id: number;
  admin: boolean;
};

/** ``services.users.admin_view``: an account as the user console shows it; the list adds the kinds of the approvals pending on it. */
export type AdminUser = {
  id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit: string;
  unit_id: number | null;
  position: string;
  phone: string | null;
  roles: string[];
  disabled: boolean;
  locked: boolean;
  totp_enabled: boolean;
  must_change_password: boolean;
  last_login_at: string | null;
  created_at: string;
  departed: boolean;
  departed_at: string | null;
  departure_reason: string | null;
  hr_verified: boolean;
  privileged: boolean;
  pending_approvals?: string[];
};

export type AdminUserCreate = {
  username: string;
  name: string;
  unit_path: string;
  password: string;
  phone?: string | null;
  position?: string;
  employee_no?: string | null;
  roles?: ("employee" | "unit_head" | "hr" | "sysadmin" | "secadmin" | "auditor" | "compliance")[];
};

/** ``services.users.admin_list_users``; ``next_offset`` null on the last page. */
export type AdminUserPage = {
  users: AdminUser[];
  next_offset: number | null;
};

/** ``services.users._apply_roles`` approved: an account given the compliance role gets a new one-time password (``password``, to its approver only). */
export type AdminUserReissued = {
  id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit: string;
  unit_id: number | null;
  position: string;
  phone: string | null;
  roles: string[];
  disabled: boolean;
  locked: boolean;
  totp_enabled: boolean;
  must_change_password: boolean;
  last_login_at: string | null;
  created_at: string;
  departed: boolean;
  departed_at: string | null;
  departure_reason: string | null;
  hr_verified: boolean;
  privileged: boolean;
  pending_approvals?: string[];
  password?: string;
};

export type AdminUserUpdate = {
  disabled?: boolean | null;
  roles?: string[] | null;
  unit_id?: number | null;
  position?: string | null;
  phone?: string | null;
  [key: string]: unknown;
};

export type AnnouncementBanner = {
  id: number;
  title: string;
  must_confirm: boolean;
};

/** ``services.announcements._brief``: an announcement's heading (the publish answer, the events; the lists add their parts, api/models_people.py). */
export type AnnouncementBrief = {
  id: number;
  title: string;
  must_confirm: boolean;
  pinned: boolean;
  created_at: string;
  expires_at: string | null;
};

export type AnnouncementCounts = {
  id: number;
  title: string;
  must_confirm: boolean;
  pinned: boolean;
  created_at: string;
  expires_at: string | null;
  recipients: number;
  read: number;
  confirmed: number;
};

export type AnnouncementCreate = {
  title: string;
  body: string;
  unit_ids?: number[];
  must_confirm?: boolean;
  pinned?: boolean;
  expires_at?: string | null;
  confirm?: boolean;
  file_ids?: number[];
};

/** ``services.announcements._file_view``: a file of an announcement (or uploaded for one). */
export type AnnouncementFile = {
  id: number;
  filename: string;
  mime: string;
  size: number;
  scan_status: string;
};

/** A new announcement for the recipient, or a reminder to read (or confirm) one. */
export type AnnouncementFrame = {
  event_seq?: number;
  type: "announcement.published" | "announcement.reminder";
  announcement: AnnouncementBrief;
};

/** ``services.announcements.list_published``: an announcement as its publisher sees it, with counts. */
export type AnnouncementPublished = {
  id: number;
  title: string;
  must_confirm: boolean;
  pinned: boolean;
  created_at: string;
  expires_at: string | null;
  body: string;
  author: string;
  to_all: boolean;
  units: string[];
  recipients: number;
  read: number;
  confirmed: number;
  withdrawn_at: string | null;
  files: AnnouncementFile[];
};

export type AnnouncementRead = {
  confirm?: boolean;
};

/** ``services.announcements.mark_read``. */
export type AnnouncementReadState = {
  id: number;
  read_at: string;
  confirmed_at: string | null;
};

export type AnnouncementReceipt = {
  user_id: number;
  name: string;
  username: string;
  unit: string;
  read_at: string | null;
  confirmed_at: string | null;
  reminded_at: string | null;
};

/** ``services.announcements.receipts``: who has (not) read or confirmed. */
export type AnnouncementReceipts = {
  announcement: AnnouncementCounts;
  people: AnnouncementReceipt[];
  next_offset: number | null;
};

/** ``services.announcements.list_mine``: an announcement as its recipient sees it. */
export type AnnouncementReceived = {
  id: number;
  title: string;
  must_confirm: boolean;
  pinned: boolean;
  created_at: string;
  expires_at: string | null;
  body: string;
  author: string;
  read_at: string | null;
  confirmed_at: string | null;
  files: AnnouncementFile[];
};

/** ``services.announcements.remind``: how many people were reminded. */
export type AnnouncementReminded = {
  reminded: number;
};

/** ``services.applications._view``: an account application and where it stands (``waiting_for``: the role deciding next, null once decided; ``user_id``: the account made for it). */
export type Application = {
  id: number;
  status: string;
  name: string;
  employee_no: string;
  unit_id: number;
  unit: string;
  position: string;
  phone: string | null;
  functions: string[];
  username: string | null;
  note: string;
  applicant: OrgPerson | null;
  created_at: string;
  steps: ApplicationStep[];
  user_id: number | null;
  reject_reason: string;
  waiting_for: string | null;
  can_decide: boolean;
};

/** ``services.applications._tell``: an account application moved on (to its applicant and whoever decides next). */
export type ApplicationChangedFrame = {
  event_seq?: number;
  type: "application.changed";
  application_id: number;
  status: string;
  name: string;
};

export type ApplicationCreate = {
  name: string;
  employee_no: string;
  unit_id: number;
  position?: string;
  phone?: string | null;
  functions?: ("chat" | "files" | "groups" | "drive" | "cross_unit")[];
  username?: string | null;
  note?: string;
  [key: string]: unknown;
};

/** ``services.applications.approve``: at sysadmin's step the account is made and the answer carries its one-time ``password``, this once. */
export type ApplicationDecided = {
  id: number;
  status: string;
  name: string;
  employee_no: string;
  unit_id: number;
  unit: string;
  position: string;
  phone: string | null;
  functions: string[];
  username: string | null;
  note: string;
  applicant: OrgPerson | null;
  created_at: string;
  steps: ApplicationStep[];
  user_id: number | null;
  reject_reason: string;
  waiting_for: string | null;
  can_decide: boolean;
  password?: string;
};

/** One step of an application: a decision (``by`` its decider) or a step skipped (``by`` null). */
export type ApplicationStep = {
  stage: string;
  decision: string;
  by: OrgPerson | null;
  at: string;
  reason: string;
};

/** ``services.applications.list_applications``. */
export type Applications = {
  applications: Application[];
  todo_count: number;
  next_offset: number | null;
};

/** ``services.approvals._view``: a request for a second administrator (``payload``: what it will change; ``can_decide``: the caller may decide it). */
export type Approval = {
  id: number;
  kind: string;
  status: "pending" | "approved" | "rejected";
  payload: { [key: string]: unknown };
  target: ApprovalPerson | null;
  requested_by: ApprovalPerson | null;
  requester_role: string;
  decider_role: string;
  requested_at: string;
  decided_by: ApprovalPerson | null;
  decided_at: string | null;
  decision_reason: string;
  can_decide: boolean;
};

/** ``services.approvals.approve``: the approval and the act's answer (an account, a one-time password, a departure). */
export type ApprovalDone = {
  approval: Approval;
  result: AdminUserReissued | PasswordReset | Departure;
};

/** 202 (``services.users._filed``): an act on a privileged account, filed for a second administrator. */
export type ApprovalFiled = {
  pending: true;
  approval: Approval;
};

export type ApprovalPerson = {
  id: number;
  name: string;
  username: string;
  roles: string[];
};

export type ApprovalRejected = {
  approval: Approval;
};

/** ``services.approvals.list_approvals``. */
export type Approvals = {
  approvals: Approval[];
  pending_count: number;
  next_offset: number | null;
};

export type ApproveIn = {
  username?: string | null;
};

/** ``services.archive.view_conversation``: a conversation in context, its versions in order; ``next_after_version`` null on the last page. */
export type ArchiveConversation = {
  conversation: ArchiveConversationHead;
  members: ConversationMember[];
  membership_log: ArchiveMembershipEntry[];
  versions: ArchiveVersion[];
  next_after_version: number | null;
};

export type ArchiveConversationHead = {
  id: number;
  kind: string;
  name: string | null;
  title: string;
  created_at: string;
};

/** The conversation a version was written in; ``title`` is its name or, unnamed, its people's. */
export type ArchiveConversationRef = {
  id: number;
  kind: string | null;
  name: string;
  title: string;
};

export type ArchiveMembershipEntry = {
  user_id: number;
  user_name: string;
  action: string;
  actor_id: number | null;
  actor_name: string;
  detail: string;
  at: string;
};

/** ``services.archive.original_text``: a masked message's original, decrypted for this answer only. */
export type ArchiveOriginal = {
  version_id: number;
  message_id: number;
  original_text: string;
};

export type ArchivePerson = {
  id: number;
  name: string;
  username: string;
  unit: string;
};

export type ArchiveRecipient = {
  id: number;
  name: string;
  username: string;
};

/** ``services.archive.search``: matching versions newest first; ``next_cursor`` null at the end. */
export type ArchiveSearch = {
  results: ArchiveVersion[];
  next_cursor: number | null;
};

/** ``services.archive.snippet``: the text around the first hit, where it starts, each hit's [start, end). */
export type ArchiveSnippet = {
  text: string;
  start: number;
  hits: number[][];
};

/** ``services.archive._version_views``, then ``_with_attachments`` (a created version's files, pack contents included) and ``_with_people`` (recipients, the title, a search's ``snippet``); the conversation view adds ``original_text`` when originals are asked for and allowed. ``seq`` and the conversation's ``kind`` are null when the message or conversation row is gone. */
export type ArchiveVersion = {
  version_id: number;
  message_id: number;
  conversation: ArchiveConversationRef;
  seq: number | null;
  version: number;
  kind: string;
  text: string;
  sender: ArchivePerson;
  actor_id: number | null;
  created_at: string;
  dlp_action: string | null;
  has_original: boolean;
  content_destroyed: boolean;
  attachments?: Attachment[];
  recipients: ArchiveRecipient[];
  recipient_count: number;
  snippet?: ArchiveSnippet;
  original_text?: string;
};

/** ``services.message_views.attachment_view``; the archive's views add ``archive_only`` and ``sha256``. */
export type Attachment = {
  id: number;
  kind: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  filename: string | null;
  scan_status: string;
  archive_only?: boolean;
  sha256?: string;
};

/** ``services.attachments`` after the virus scan: to the members (to the sender alone while the message is held for review). */
export type AttachmentScannedFrame = {
  event_seq?: number;
  type: "attachment.scanned";
  conversation_id: number;
  message_id: number;
  attachment_id: number;
  scan_status: string;
};

/** ``services.audit_read.resolve_people``: a person a query named. */
export type AuditPerson = {
  id: number;
  username: string;
  name: string;
  employee_no: string;
};

/** ``services.audit_read._view``: one record, names beside the ids (``target_name``, ``detail_names``). */
export type AuditRecord = {
  id: number;
  at: string;
  actor_id: number | null;
  actor_username: string;
  actor_name: string;
  actor_role: string;
  ip: string;
  client: string;
  action: string;
  target: string;
  target_name: string;
  outcome: string;
  details: { [key: string]: unknown };
  detail_names: { [key: string]: string };
  hash: string;
};

/** ``services.audit_read.search``: newest first; ``people`` when the query named a person. */
export type AuditTrail = {
  records: AuditRecord[];
  next_offset: number | null;
  people?: AuditPerson[];
};

/** ``routes.compliance.audit_verify`` from ``audit_checkpoints.VerifyReport``. */
export type AuditVerification = {
  ok: boolean;
  count: number;
  last_id: number | null;
  first_bad_id: number | null;
  reason: string;
  anchored_at: number;
  head_checked: boolean;
};

export type BlockedTypeIn = {
  extension: string;
  label?: string;
};

export type Body_attach_fault_file_api_v1_faults__report_id__files_post = {
  file: string;
};

export type Body_secure_pack_api_v1_conversations__conversation_id__secure_pack_post = {
  files: string[];
  password: string;
  client_id?: string | null;
  name?: string | null;
};

export type Body_upload_announcement_file_api_v1_announcements_files_post = {
  file: string;
  confirm?: boolean;
};

export type Body_upload_file_api_v1_conversations__conversation_id__files_post = {
  file: string;
  client_id?: string | null;
  confirm?: boolean;
};

export type Body_upload_image_api_v1_conversations__conversation_id__images_post = {
  file: string;
  client_id?: string | null;
};

/** ``services.message_actions.bundle``: a merged forward opened. */
export type Bundle = {
  message_id: number;
  title: string;
  items: BundleItem[];
};

/** One forwarded message in a merged forward (``items``: a merged forward inside it, else null). */
export type BundleItem = {
  sender: Person;
  kind: string;
  text: string;
  created_at: string;
  items: BundleItem[] | null;
};

/** ``routes.me.client_config``: the settings a client needs. Minutes are as configured: an integer by default, a fraction when set so (``int | float`` keeps whichever). */
export type ClientConfig = {
  idle_lock_minutes: number;
  locale: string;
  max_message_length: number;
  max_image_bytes: number;
  max_file_bytes: number;
  files_without_scanner: string;
  antivirus: "available" | "unavailable";
  recall_window_minutes: number;
};

export type CompleteIn = {
  confirm?: boolean;
};

/** ``services.conversations.conversation_view``, with the caller's own part (``personal``) where the route adds it, and the list's counters and last message in GET /conversations. */
export type Conversation = {
  id: number;
  kind: "direct" | "group";
  name: string | null;
  members: ConversationMember[];
  last_seq: number;
  created_at: string;
  updated_at: string;
  notice: Notice | null;
  all_may_mention_all: boolean;
  my_role: string | null;
  classification: string;
  pinned?: boolean;
  muted?: boolean;
  notice_unread?: boolean;
  unread_count?: number;
  mention_count?: number;
  urgent_unread?: number;
  read_seq?: number;
  last_message?: Message | null;
  created?: boolean;
};

export type ConversationCreate = {
  kind: "direct" | "group";
  members: number[];
  name?: string | null;
};

export type ConversationFrame = {
  event_seq?: number;
  type: "conversation.created" | "conversation.updated" | "conversation.member_added" | "conversation.member_removed";
  conversation: ConversationPublic;
  system?: SystemLine[];
  user_ids?: number[];
};

export type ConversationList = {
  conversations: Conversation[];
};

export type ConversationMember = {
  id: number;
  name: string;
  role: string;
};

/** ``services.group_life._prefs_changed``: the caller's own 置顶 / 消息免打扰 and whether the notice is unread. */
export type ConversationPrefs = {
  conversation_id: number;
  pinned: boolean;
  muted: boolean;
  notice_unread: boolean;
};

/** ``services.conversations.public_view``: the part of a conversation that is the same for every member (what conversation events carry). */
export type ConversationPublic = {
  id: number;
  kind: "direct" | "group";
  name: string | null;
  members: ConversationMember[];
  last_seq: number;
  created_at: string;
  updated_at: string;
  notice: Notice | null;
  all_may_mention_all: boolean;
};

export type ConversationUpdate = {
  name: string;
};

/** ``notify.Dispatcher._dead``: a notification given up (``to`` the address or phone, null: none). */
export type DeadLetter = {
  at: string;
  channel: string;
  user_id: number;
  to: string | null;
  text: string;
  attempts: number;
  error: string;
};

/** ``services.notifications.dead_letters``: newest first, and how many in all. */
export type DeadLetters = {
  dead_letters: DeadLetter[];
  total: number;
};

export type Decision = {
  decision: "approve" | "reject" | "violation" | "escalate";
  note?: string;
};

export type DecisionIn = {
  action: "remove" | "dismiss";
  reason: string;
};

export type DepartIn = {
  reason: string;
  pledged?: boolean;
};

/** ``services.users._apply_depart``: sessions ended, groups left, where the drive went. */
export type Departure = {
  user_id: number;
  sessions_ended: number;
  groups_left: number;
  drive: DriveHandover;
};

/** ``services.directory.search_users``: best match first; ``next_offset`` null on the last page. */
export type DirectoryPage = {
  users: DirectoryPerson[];
  next_offset: number | null;
};

/** ``services.directory._views``: a colleague as the directory shows them; ``phone`` only on a person's own card (GET /directory/users/{id}), never in a search. */
export type DirectoryPerson = {
  id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit: string;
  unit_id: number | null;
  position: string;
  status: string;
  phone?: string | null;
  hr_verified: boolean;
};

/** ``services.users.list_units``: an open unit. */
export type DirectoryUnit = {
  id: number;
  name: string;
  path: string;
  parent_id: number | null;
};

export type DirectoryUnits = {
  units: DirectoryUnit[];
};

export type DissolvedFrame = {
  event_seq?: number;
  type: "conversation.dissolved";
  conversation_id: number;
  system: SystemLine[];
};

/** One DLP finding, as its sender is shown it (the raw value never: ``masked`` only). */
export type DlpFinding = {
  detector: string;
  start: number;
  end: number;
  masked: string;
  action: string;
  category?: string | null;
};

/** One DLP hit as secadmin's console lists it: who, where, what was done, the value masked (never raw). */
export type DlpHit = {
  id: number;
  user_id: number;
  name: string;
  unit: string;
  detector: string;
  category: string | null;
  action: string;
  channel: string;
  target: string;
  masked: string;
  created_at: string;
};

/** ``services.dlp.list_hits``: newest first, the people with most hits, ``next_offset`` null at the end. */
export type DlpHits = {
  hits: DlpHit[];
  by_person: DlpPersonHits[];
  next_offset: number | null;
};

/** A person's hits counted, with the sanction they stand at (``suspended_until`` null: not suspended). */
export type DlpPersonHits = {
  user_id: number;
  name: string;
  hits: number;
  level: string;
  suspended_until: string | null;
};

/** ``services.dlp.get_policy``: the policy in force (``id`` null and ``default`` true: the built-in one) and the names it may use. */
export type DlpPolicy = {
  id: number | null;
  policy: DlpPolicyDocument;
  default: boolean;
  channels: string[];
  categories: string[];
  detectors: string[];
};

/** ``domain.dlp.policy.Policy.to_dict``. */
export type DlpPolicyDocument = {
  version: number;
  default_action: string;
  encrypted_file_action: string;
  rules: DlpRule[];
  thresholds: DlpThreshold[];
};

/** ``domain.dlp.policy.Rule.to_dict``: an action for the findings it matches; a key left out matches all. */
export type DlpRule = {
  action: string;
  detectors?: string[];
  channels?: string[];
  roles?: string[];
  unit_prefix?: string;
  min_confidence?: number;
};

/** ``services.dlp.try_scan``: the verdict, the reasons of the thresholds that fired, the findings and the text as it would be delivered. */
export type DlpScan = {
  action: string;
  thresholds: string[];
  findings: DlpScanFinding[];
  masked_text: string;
};

/** A finding of a trial scan (the value masked, never raw); ``confidence`` as the engine rounds it. */
export type DlpScanFinding = {
  detector: string;
  start: number;
  end: number;
  masked: string;
  action: string;
  confidence: number;
  category: string | null;
};

export type DlpTerm = {
  id: number;
  category: string;
  term: string;
  created_at: string;
};

/** ``services.dlp.list_terms``: the added terms, and how many each built-in lexicon holds. */
export type DlpTerms = {
  terms: DlpTerm[];
  builtin_counts: { [key: string]: number };
  next_offset: number | null;
};

/** ``services.dlp.add_terms``: how many were new. */
export type DlpTermsAdded = {
  added: number;
};

/** ``services.dlp.remove_terms``. */
export type DlpTermsRemoved = {
  removed: number;
};

/** ``domain.dlp.policy.Threshold.to_dict``: ``count`` findings of ``detectors`` in one text take ``action``. */
export type DlpThreshold = {
  detectors: string[];
  count: number;
  action: string;
  channels?: string[];
  reason?: string;
};

/** ``services.dlp`` escalation: to the person (and, from ``unit_notice`` on, their unit heads); ``suspended_until`` null when sending is not suspended. */
export type DlpViolationNoticeFrame = {
  event_seq?: number;
  type: "dlp.violation_notice";
  user_id: number;
  name: string;
  level: string;
  violations: number;
  suspended_until: string | null;
};

export type DraftIn = {
  text?: string;
};

/** Unsent composer texts by conversation id (JSON object keys are text). */
export type Drafts = {
  drafts: { [key: string]: string };
};

export type DriveBlockedType = {
  extension: string;
  label: string;
  added_at: string;
};

export type DriveBlockedTypes = {
  types: DriveBlockedType[];
};

export type DriveChunk = {
  index: number;
  received: number;
  chunks: number;
};

export type DriveDecision = {
  id: number;
  status: string;
  item_id: number;
};

export type DriveFolderStep = {
  id: number;
  name: string;
};

/** ``services.drive_handover.hand_over_txn``: a departed colleague's drive is now the recipient's, in ``folder_id``. */
export type DriveHandedOverFrame = {
  event_seq?: number;
  type: "drive.handed_over";
  from_user_id: number;
  from_name: string;
  folder_id: number;
  files: number;
};

/** ``services.drive_handover.hand_over_txn``: to whom the drive went (null: waiting for HR), into which folder of theirs, and how much. */
export type DriveHandover = {
  handed_to: number | null;
  folder_id?: number;
  files: number;
  bytes: number;
};

/** A departed person's drive: waiting for HR (``holder_id`` null) or with whom it is now. */
export type DriveHandoverRow = {
  user_id: number;
  name: string;
  username: string;
  unit: string;
  departed_at: string | null;
  files: number;
  bytes: number;
  holder_id: number | null;
  holder_name: string | null;
  manager_id: number | null;
  manager_name: string | null;
};

export type DriveHandovers = {
  handovers: DriveHandoverRow[];
};

/** ``services.drive.item_view``: a folder or file of a personal drive or a group's space. ``handed_from`` marks a departed colleague's drive handed over; ``purge_at`` (when the recycle bin destroys it, null in a group space) comes with the bin's list and a delete. */
export type DriveItem = {
  id: number;
  source: "drive";
  kind: "folder" | "file";
  name: string;
  parent_id: number | null;
  conversation_id: number | null;
  size: number;
  mime: string;
  sha256: string;
  scan_status: string | null;
  uploader_id: number;
  uploader_name: string;
  created_at: string;
  updated_at: string;
  last_opened_at: string;
  flagged_unused: boolean;
  deleted_at: string | null;
  handed_from?: number;
  handed_from_name?: string;
  purge_at?: string | null;
};

/** The recycle bin (``days`` before it destroys) or the unused files (``days`` unopened); ``days`` as configured: an integer by default, a fraction when set so (the model keeps which). */
export type DriveItems = {
  items: DriveItem[];
  days: number;
};

/** ``services.drive.list_items``: one folder (or a search); a personal drive adds ``usage``, a group's space the caller's ``role`` in the group. */
export type DriveListing = {
  space: DriveSpace;
  parent_id: number | null;
  path: DriveFolderStep[];
  items: DriveItem[];
  sent_files: DriveSentFile[];
  usage?: DriveUsage;
  role?: string;
};

/** ``services.drive._quota_view``: a person's quota (with ``used``) or a unit's (``name`` its path). */
export type DriveQuota = {
  id: number;
  user_id: number | null;
  unit_id: number | null;
  quota_bytes: number;
  set_at: string;
  name: string;
  used?: number;
};

export type DriveQuotas = {
  default_quota: number;
  file_limit: number;
  quotas: DriveQuota[];
};

/** ``services.drive.removed_notices``: what secadmin removed from the caller's files, and why. */
export type DriveRemoved = {
  items: DriveRemovedItem[];
};

/** secadmin removed a reported file of the recipient's, with the reason. */
export type DriveRemovedFrame = {
  event_seq?: number;
  type: "drive.removed";
  item_id: number;
  name: string;
  reason: string;
};

export type DriveRemovedItem = {
  id: number;
  name: string;
  removed_at: string | null;
  reason: string;
  conversation_id: number | null;
};

export type DriveReport = {
  id: number;
  status: string;
  reason: string;
  created_at: string;
  reporter_id: number;
  reporter_name: string;
  decision_reason: string | null;
  decided_at: string | null;
  item: DriveReportedItem;
};

export type DriveReportFiled = {
  id: number;
  item_id: number;
  status: string;
};

/** A reported file as secadmin sees it: its name, type, size, place and owner, never its content. */
export type DriveReportedItem = {
  id: number;
  name: string;
  size: number;
  mime: string;
  scan_status: string;
  owner_id: number | null;
  owner_name: string;
  uploader_id: number;
  uploader_name: string;
  conversation_id: number | null;
  conversation_name: string | null;
  removed: boolean;
};

/** ``services.drive.reports``. */
export type DriveReports = {
  reports: DriveReport[];
};

/** ``services.drive._sent_files``: a file sent in a group's chat, listed in its space (``id`` is the attachment's; it downloads through the message). */
export type DriveSentFile = {
  id: number;
  source: "message";
  kind: "file";
  name: string | null;
  size: number;
  mime: string;
  scan_status: string;
  uploader_id: number;
  message_id: number;
  created_at: string;
  uploader_name: string;
};

/** Whose the listing is: a person's drive (``owner_id``) or a group's space (``conversation_id``). */
export type DriveSpace = {
  owner_id: number | null;
  conversation_id: number | null;
};

/** A group's space changed (an upload, a folder, a rename...): its members reload it. */
export type DriveSpaceChangedFrame = {
  event_seq?: number;
  type: "drive.space_changed";
  conversation_id: number;
};

/** ``services.drive.flag_unused``: ``count`` of the owner's files unopened for ``days`` (as configured: an integer by default, a fraction when set so). */
export type DriveUnusedFrame = {
  event_seq?: number;
  type: "drive.unused";
  count: number;
  days: number;
};

/** ``services.drive.start_upload`` / ``upload_status``: which chunks the server holds (the status adds where the file will go). */
export type DriveUpload = {
  id: string;
  name: string;
  size: number;
  chunk_size: number;
  chunks: number;
  received: number[];
  conversation_id?: number | null;
  parent_id?: number | null;
};

/** ``services.drive._usage``: bytes used and reserved by open uploads, the quota and where it comes from. */
export type DriveUsage = {
  used: number;
  reserved: number;
  quota: number;
  quota_source: string;
  file_limit: number;
  chunk_size: number;
};

/** ``services.dual_control._settings``: which heavy accesses need a second compliance officer. */
export type DualControlFlags = {
  export_person: boolean;
  export_unit: boolean;
  originals: boolean;
};

export type DualControlSet = {
  export_person?: boolean | null;
  export_unit?: boolean | null;
  originals?: boolean | null;
};

/** ``services.dual_control.settings`` (and ``set_settings``). */
export type DualControlSettings = {
  dual_control: DualControlFlags;
  kinds: string[];
};

export type Error = {
  error: {
    code: "account_departed" | "account_disabled" | "account_locked" | "address_not_allowed" | "announcement_scope_forbidden" | "application_not_pending" | "application_not_your_step" | "approval_not_allowed" | "approval_not_pending" | "approval_pending_exists" | "approval_required" | "bad_request" | "body_too_large" | "busy" | "chunk_mismatch" | "conflict" | "directory_rate_limited" | "dlp_blocked" | "dlp_confirm_required" | "drive_quota_exceeded" | "drive_type_not_allowed" | "edit_window_passed" | "employee_no_taken" | "empty_message" | "export_dir_not_empty" | "fault_resolved" | "field_not_changeable" | "file_blocked" | "file_not_ready" | "file_too_large" | "forbidden" | "forward_not_allowed" | "function_disabled" | "group_approval_required" | "group_request_not_pending" | "group_request_not_yours" | "group_size_limit" | "group_too_large" | "hold_already_released" | "hr_privileged_account" | "internal_error" | "invalid_credentials" | "invalid_json" | "invalid_members" | "invalid_otp" | "invalid_time_range" | "key_in_use" | "last_administrator" | "litestream_missing" | "malware_detected" | "message_recalled" | "message_too_long" | "method_not_allowed" | "network_not_allowed" | "no_original" | "no_unit_head" | "not_a_group" | "not_authenticated" | "not_found" | "otp_required" | "own_request" | "owner_must_transfer" | "password_change_required" | "password_expired" | "pdf_unavailable" | "period_key_missing" | "preview_failed" | "preview_unsupported" | "range_not_satisfiable" | "rate_limited" | "reason_category_required" | "reason_too_short" | "recall_window_passed" | "request_not_approved" | "request_not_pending" | "reserved_role" | "reset_needs_two_factor" | "review_already_decided" | "review_content_hidden" | "role_grant_not_allowed" | "rules_acceptance_required" | "rules_not_published" | "rules_version_stale" | "scan_failed" | "scanner_unavailable" | "self_action_forbidden" | "sending_suspended" | "session_expired" | "session_locked" | "standby_none" | "standby_not_postgresql" | "standby_primary_alive" | "standby_promote_failed" | "standby_unknown_host" | "standby_unreachable" | "too_many_attempts" | "totp_already_enabled" | "totp_enrollment_required" | "totp_not_started" | "totp_required_for_role" | "unit_closed" | "unit_exists" | "unit_move_invalid" | "unit_not_empty" | "unit_not_found" | "unsupported_media" | "upload_incomplete" | "user_already_departed" | "username_taken" | "validation_failed" | "weak_pack_password" | "weak_password";
    /** in the caller's language (zh-CN or en) */
    message: string;
    [key: string]: unknown;
  };
};

/** The client sent something the socket does not take (``code`` bad_request or validation_failed). */
export type ErrorFrame = {
  type: "error";
  code: string;
  field?: string;
};

export type ExportCreate = {
  since?: string | null;
  until?: string | null;
  /** the reason's category (needed; its Chinese label is accepted too): regulatory_inspection, internal_investigation, customer_complaint, litigation, audit_sampling, other */
  category?: "regulatory_inspection" | "internal_investigation" | "customer_complaint" | "litigation" | "audit_sampling" | "other" | "监管检查" | "内部调查" | "客户投诉" | "法律诉讼" | "审计抽查" | "其他";
  reason: string;
  user?: string | null;
  unit?: string | null;
  conversation_id?: number | null;
  formats?: ("jsonl" | "csv" | "eml" | "attachments")[];
  include_originals?: boolean;
};

/** ``routes.compliance._run_export``: an export written (``request_id``: the approved request it carried out, null without one). */
export type ExportDone = {
  status: "done";
  id: number | null;
  name: string;
  counts: { [key: string]: number };
  files: number;
  request_id: number | null;
};

/** ``services.export.Filters.as_dict``. */
export type ExportFilters = {
  user: string | null;
  unit: string | null;
  conversation_id: number | null;
  since: string | null;
  until: string | null;
};

export type ExportList = {
  exports: ExportRecord[];
  next_offset: number | null;
};

/** ``services.export.list_exports``: one export made (its name, never the server's path); ``downloadable`` for the officer who made it only. */
export type ExportRecord = {
  id: number;
  name: string;
  actor_id: number | null;
  actor_name: string;
  filters: ExportFilters;
  counts: { [key: string]: number };
  manifest_sha256: string;
  created_at: string;
  downloadable: boolean;
};

export type FaultAssignIn = {
  user_id?: number | null;
};

export type FaultCounts = {
  active: number;
  overdue: number;
  resolved: number;
};

export type FaultFile = {
  name: string;
  mime: string | null;
  size: number;
};

export type FaultHandler = {
  id: number;
  name: string;
  username: string;
};

export type FaultHandlers = {
  handlers: FaultHandler[];
};

export type FaultIn = {
  title: string;
  location?: string;
  description?: string;
};

/** ``services.faults.queue``: the handlers' queue, with the console's tab counts and the deadline. */
export type FaultQueue = {
  reports: FaultReport[];
  counts: FaultCounts;
  sla_hours: number;
};

export type FaultReply = {
  id: number;
  author: Person;
  text: string;
  created_at: string;
  by_handler: boolean;
};

export type FaultReplyIn = {
  text: string;
};

/** ``services.faults._view``: a fault report and its clock (``seconds_left`` negative: overdue by that much; it stops at resolution). ``replies`` come with one report (GET, reply, resolve, filing). */
export type FaultReport = {
  id: number;
  title: string;
  location: string;
  description: string;
  status: "open" | "in_progress" | "resolved";
  reporter: Person;
  assignee: Person | null;
  resolution: string;
  created_at: string;
  due_at: string;
  answered_at: string | null;
  resolved_at: string | null;
  escalated_at: string | null;
  seconds_left: number;
  overdue: boolean;
  file: FaultFile | null;
  replies?: FaultReply[];
};

/** ``services.faults.my_reports``: the caller's own reports. */
export type FaultReports = {
  reports: FaultReport[];
};

export type FaultResolveIn = {
  resolution: string;
};

export type FolderIn = {
  name: string;
  parent_id?: number | null;
  conversation_id?: number | null;
};

export type ForwardIn = {
  message_ids: number[];
  conversation_id: number;
  merged?: boolean;
  confirm?: boolean;
};

/** ``services.message_actions.forward``: the messages sent (one, with ``bundle_title``, when merged). */
export type Forwarded = {
  messages: Message[];
};

export type Frame = HelloFrame | PongFrame | ErrorFrame | MessageFrame | MessageRecalledFrame | ReactionsFrame | ReadFrame | ConversationFrame | DissolvedFrame | PrefsFrame | PresenceFrame | LoginFlaggedFrame | AttachmentScannedFrame | DlpViolationNoticeFrame | AnnouncementFrame | ApplicationChangedFrame | GroupRequestChangedFrame | DriveSpaceChangedFrame | DriveUnusedFrame | DriveRemovedFrame | DriveHandedOverFrame;

/** ``services.functions.list_rules``: ``target`` the unit's path or the person's name and username. */
export type FunctionRule = {
  id: number;
  scope: string;
  target_id: number;
  target: string;
  function: string;
  allowed: boolean;
  limit: number | null;
  set_at: string;
};

export type FunctionRuleIn = {
  scope: "unit" | "user";
  target_id: number;
  function: "send_files" | "create_groups" | "cross_unit_messages" | "cross_unit_groups" | "cross_unit_groups_unreviewed" | "use_drive" | "group_size";
  allowed?: boolean;
  limit?: number | null;
};

/** The rule that decided a function: a person's own (``target`` empty) or a unit's (its path). */
export type FunctionRuleRef = {
  id: number;
  scope: string;
  target: string;
};

/** ``services.functions.set_rule``. */
export type FunctionRuleSet = {
  id: number;
  scope: string;
  target_id: number;
  function: string;
  allowed: boolean;
  limit: number | null;
};

/** Every rule and the functions' names; with ``user_id``, that person's ``effective`` functions. */
export type FunctionRules = {
  rules: FunctionRule[];
  functions: string[];
  effective?: { [key: string]: FunctionState };
};

/** ``services.functions.effective``: one function on or off, its limit, the deciding rule (null: the default) and its name in the caller's language. */
export type FunctionState = {
  allowed: boolean;
  limit: number | null;
  rule: FunctionRuleRef | null;
  name: string;
};

/** ``services.archive_space.views``: a group-space file or folder as the archive shows it (``size``, ``scan_status`` null for a folder; ``sha256`` null when not known). */
export type GroupFile = {
  id: number;
  kind: "folder" | "file";
  name: string;
  size: number | null;
  mime: string;
  sha256: string | null;
  scan_status: string | null;
  conversation: GroupFileConversation;
  folder_path: string;
  folder_id: number | null;
  uploader: ArchivePerson;
  created_at: string;
  updated_at: string;
  state: "present" | "deleted" | "in_deleted_folder" | "removed";
  deleted_at: string | null;
  deleted_by: string | null;
  removed_at: string | null;
  removed_reason: string | null;
  moved: boolean;
  renamed: boolean;
  history: GroupFileEvent[];
  content_kept: boolean;
};

export type GroupFileConversation = {
  id: number | null;
  name: string;
};

/** What a member did to a group file (from the audit trail): ``old``/``new`` for a rename, ``to`` for a move, ``reason`` for a removal. */
export type GroupFileEvent = {
  action: string;
  at: string;
  by: string;
  by_role: string;
  old?: string;
  new?: string;
  to?: string;
  reason?: string;
};

/** ``services.archive_space.search``: newest first; ``next_cursor`` null at the end. */
export type GroupFiles = {
  results: GroupFile[];
  next_cursor: number | null;
};

/** 202 from POST /conversations: the group needs a unit head's approval; the request was filed. */
export type GroupPending = {
  pending: boolean;
  request: { [key: string]: unknown };
};

/** ``services.group_requests._view``: a requested group and where it stands (``approvers``: the unit heads who may decide it while it is pending). */
export type GroupRequest = {
  id: number;
  name: string;
  status: string;
  requester: OrgPerson | null;
  unit: string;
  members: GroupRequestMember[];
  created_at: string;
  decided_by: OrgPerson | null;
  decided_at: string | null;
  reason: string;
  conversation_id: number | null;
  approvers: OrgPerson[];
  can_decide: boolean;
};

/** ``services.group_requests``: a request for a group with other units moved on (to its requester and the unit heads who decide it). */
export type GroupRequestChangedFrame = {
  event_seq?: number;
  type: "group_request.changed";
  request_id: number;
  status: string;
  name: string;
};

export type GroupRequestMember = {
  id: number;
  name: string;
  unit: string;
};

/** ``services.group_requests.list_requests``. */
export type GroupRequests = {
  requests: GroupRequest[];
  todo_count: number;
};

export type GroupSettingsIn = {
  all_may_mention_all: boolean;
};

export type HTTPValidationError = {
  detail?: ValidationError[];
};

export type HandoverIn = {
  to_user_id: number;
};

/** ``routes.me.health``. */
export type Health = {
  status: "ok";
  database: "sqlite" | "postgresql";
  bus: string;
  connections: number;
  antivirus: "available" | "unavailable";
};

/** First frame on a connection: ``last_event_seq`` is the caller's event counter now. */
export type HelloFrame = {
  type: "hello";
  user_id: number;
  last_event_seq: number;
};

export type HoldCreate = {
  since?: string | null;
  until?: string | null;
  reason: string;
  user_id?: number | null;
  conversation_id?: number | null;
};

export type HoldRelease = {
  reason: string;
};

/** One key-encryption key version: current, present (else retired and gone: missing), ``where`` file or hsm, and how many data keys of each kind (``KeysStatus.labels``) it wraps. */
export type KekVersion = {
  version: number;
  current: boolean;
  present: boolean;
  where: string;
  protects: { [key: string]: number };
  total: number;
};

/** The latest audit record of one key operation: when, the KEK ``version`` (and ``previous``, ``rewrapped``) of a rotation, ``count`` and ``periods`` (labels) of a destruction or an export. */
export type KeyEvent = {
  at: string;
  version: number | null;
  previous: number | null;
  rewrapped: number | null;
  count: number | null;
  periods: string[];
};

export type KeyEvents = {
  rotated: KeyEvent | null;
  period_keys_destroyed: KeyEvent | null;
  period_keys_exported: KeyEvent | null;
};

/** ``services.keys.console``: ``mixun keys status`` for the console, read-only, with the last key operations. ``period_keys_where`` file, hsm or ring; ``period_keys_fallback`` why the host directory could not be used ("" when it is). */
export type KeysStatus = {
  current: number;
  cipher: string;
  provider: string;
  versions: KekVersion[];
  labels: { [key: string]: string };
  unreadable: number;
  periods: PeriodKeyRow[];
  period_keys_where: string;
  period_keys_dir: string;
  period_keys_fallback: string;
  last: KeyEvents;
};

export type LdapSyncError = {
  zh: string;
  en: string;
};

/** ``services.ldap_sync.last_sync``: the last run, its counts and errors (in both languages). */
export type LdapSyncRun = {
  started_at: string;
  finished_at: string | null;
  dry_run: boolean;
  ok: boolean;
  counts: { [key: string]: number };
  errors: LdapSyncError[];
};

/** Whether the sync is configured, and its last run (null: it never ran). */
export type LdapSyncStatus = {
  configured: boolean;
  last: LdapSyncRun | null;
};

/** ``services.retention._hold_view``; the list (``compliance_console.holds_with_names``) adds the person's and the conversation's names where it has them. */
export type LegalHold = {
  id: number;
  user_id: number | null;
  conversation_id: number | null;
  since: string | null;
  until: string | null;
  reason: string;
  placed_by: number;
  placed_at: string;
  released_at: string | null;
  released_by: number | null;
  release_reason: string;
  user_name?: string;
  username?: string;
  conversation_title?: string;
};

/** ``services.retention.release_hold`` carried out (by the asker of an approved request): ``status`` then the hold. */
export type LegalHoldReleased = {
  status: "done";
  id: number;
  user_id: number | null;
  conversation_id: number | null;
  since: string | null;
  until: string | null;
  reason: string;
  placed_by: number;
  placed_at: string;
  released_at: string | null;
  released_by: number | null;
  release_reason: string;
  user_name?: string;
  username?: string;
  conversation_title?: string;
};

export type LegalHolds = {
  holds: LegalHold[];
};

/** ``services.auth.login``'s answer: the session's token and the account. */
export type Login = {
  token: string;
  user: Me;
  must_change_password: boolean;
  must_enroll_totp: boolean;
  must_accept_rules: boolean;
};

export type LoginAlert = {
  id: number;
  user_id: number;
  username: string;
  name: string;
  ip: string;
  reasons: string[];
  created_at: string;
};

/** ``services.auth.login_alerts``: a flagged login (the live frame's ``alert`` has no ``user_agent``). */
export type LoginAlertRow = {
  id: number;
  user_id: number;
  username: string;
  name: string;
  ip: string;
  user_agent: string;
  reasons: string[];
  created_at: string;
};

export type LoginAlerts = {
  alerts: LoginAlertRow[];
};

export type LoginFlaggedFrame = {
  event_seq?: number;
  type: "security.login_flagged";
  alert: LoginAlert;
};

export type LoginIn = {
  username: string;
  password: string;
  otp?: string | null;
};

/** ``services.auth.me_view``: the caller's account; a locked session gets only the lock screen's part. */
export type Me = {
  id: number;
  username: string;
  name: string;
  employee_no?: string | null;
  phone?: string | null;
  unit?: string;
  unit_id?: number | null;
  position?: string;
  status?: string;
  work_status?: string;
  roles: string[];
  is_admin?: boolean;
  hr_verified?: boolean;
  totp_enabled?: boolean;
  must_change_password: boolean;
  must_enroll_totp: boolean;
  must_accept_rules?: boolean;
  locked: boolean;
};

export type MembersIn = {
  user_ids: number[];
};

export type MergeIn = {
  into_id: number;
};

/** ``services.message_views.message_view``: one message as a member sees it (history, sends, edits, recalls, events). Sender-only parts (``client_id``, the findings, ``urgent_recipients``) go to its sender; ``reactions`` come with history pages; ``bundle_title`` with a merged forward just sent. */
export type Message = {
  id: number;
  conversation_id: number;
  seq: number;
  sender: Person;
  kind: string;
  text: string;
  created_at: string;
  edited: boolean;
  edited_at: string | null;
  recalled: boolean;
  urgent: boolean;
  reply_to: number | null;
  mentions: number[];
  attachments: Attachment[];
  read_count: number;
  recipient_count: number;
  client_id?: string | null;
  content_destroyed?: boolean;
  dlp?: MessageDlp;
  urgent_recipients?: UrgentRecipient[];
  reactions?: Reaction[];
  bundle_title?: string;
};

export type MessageCreate = {
  text: string;
  client_id?: string | null;
  urgent?: boolean;
  confirm?: boolean;
  reply_to?: number | null;
};

/** What DLP did to a message: members see ``mask`` alone; the sender also the findings. */
export type MessageDlp = {
  action: string;
  findings?: DlpFinding[];
};

export type MessageFrame = {
  event_seq?: number;
  type: "message.created" | "message.edited";
  conversation_id: number;
  message: Message;
};

/** A page of history, in ``seq`` order. */
export type MessagePage = {
  messages: Message[];
};

export type MessageRecalledFrame = {
  event_seq?: number;
  type: "message.recalled";
  conversation_id: number;
  message: Message;
  recalled_by: number;
};

export type MessageUpdate = {
  text: string;
  confirm?: boolean;
};

export type MoveIn = {
  parent_id?: number | null;
};

/** ``services.announcements.list_mine``: pinned first, then newest; ``banner``: still to read or confirm. */
export type MyAnnouncements = {
  announcements: AnnouncementReceived[];
  next_offset: number | null;
  banner: AnnouncementBanner[];
  unread: number;
};

/** By function name (``send_files``, ``group_size``...). */
export type MyFunctions = {
  functions: { [key: string]: FunctionState };
};

export type Notice = {
  text: string;
  version: number;
  by: NoticeAuthor;
  at: string | null;
};

/** Whoever set a group notice: ``id`` is null for a notice set by no one (an import or a row written before notices recorded their author). */
export type NoticeAuthor = {
  id: number | null;
  name: string;
};

export type NoticeIn = {
  text: string;
};

export type NoticeSeenIn = {
  version: number;
};

/** ``services.ops_alerts._alert``: ``value`` a count, or a percentage (free disk) with one decimal. */
export type OpsAlert = {
  code: string;
  severity: string;
  title: string;
  value: number;
  detail: string;
};

/** ``services.ops_alerts.alerts``: the faults (sysadmin's) or security risks (secadmin's) now. */
export type OpsAlerts = {
  checked_at: string;
  alerts: OpsAlert[];
};

export type OrgDepartIn = {
  reason: "termination" | "retirement" | "internal_retirement" | "resignation" | "transfer" | "other";
  pledged?: boolean;
};

/** ``services.org.list_people``. */
export type OrgPeople = {
  people: OrgPersonRow[];
  next_offset: number | null;
};

/** ``services.applications._person`` / ``services.group_requests._person``: an account named in a view. */
export type OrgPerson = {
  id: number;
  name: string;
  username: string;
};

/** ``services.org._person_view``: a person as HR's list shows them. */
export type OrgPersonRow = {
  id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit_id: number | null;
  unit: string;
  position: string;
  phone: string | null;
  hr_verified: boolean;
  departed: boolean;
  departure_reason: string | null;
  disabled: boolean;
  administrator: boolean;
  privileged: boolean;
};

/** ``services.org.update_person``: the person after HR's correction, with the fields that changed. */
export type OrgPersonUpdated = {
  id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit_id: number | null;
  unit: string;
  position: string;
  phone: string | null;
  hr_verified: boolean;
  departed: boolean;
  departure_reason: string | null;
  disabled: boolean;
  administrator: boolean;
  privileged: boolean;
  changed: string[];
};

/** ``services.org._unit_view``: a unit, closed or not, with the people directly in it. */
export type OrgUnit = {
  id: number;
  name: string;
  path: string;
  parent_id: number | null;
  closed: boolean;
  people: number;
};

export type OrgUnits = {
  units: OrgUnit[];
};

export type OtpIn = {
  otp: string;
};

export type PasswordChangeIn = {
  old_password: string;
  new_password: string;
};

export type PasswordIn = {
  password: string;
};

/** ``services.users._apply_reset_password``: the one-time password, shown once. */
export type PasswordReset = {
  password: string;
  disabled: boolean;
};

/** ``KeyRing.period_status``: one period key (month ``period`` YYYYMM, retention group ``group`` an opaque tag, "" month-wide); ``state`` present, destroyed or missing; ``where`` file, hsm or ring when present; ``protects`` conversation data keys wrapped under it, ``legacy`` ones still under the KEK alone. */
export type PeriodKeyRow = {
  period: number;
  group: string;
  group_name: string;
  group_label: string;
  label: string;
  present: boolean;
  state: string;
  where: string | null;
  protects: number;
  legacy: number;
  destroyed_at: string | null;
  stray_file: boolean;
};

/** Someone named in a view: a sender, a reacting member, whoever set a notice. */
export type Person = {
  id: number;
  name: string;
};

export type PersonUpdate = {
  name?: string | null;
  employee_no?: string | null;
  unit_id?: number | null;
  position?: string | null;
  phone?: string | null;
  [key: string]: unknown;
};

export type PolicyIn = {
  policy: { [key: string]: unknown };
  note?: string;
};

export type PolicySet = {
  /** default, audit, kind:direct, kind:group or unit:<path> */
  scope: string;
  messages_days: number;
  files_days: number;
};

export type PongFrame = {
  type: "pong";
};

/** The caller's own 置顶 / 消息免打扰 changed (in another tab or device). */
export type PrefsFrame = {
  event_seq?: number;
  type: "conversation.prefs";
  conversation_id: number;
  pinned: boolean;
  muted: boolean;
  notice_unread: boolean;
};

export type PrefsIn = {
  pinned?: boolean | null;
  muted?: boolean | null;
};

/** ``services.presence.contacts_presence``: the shown status by user id (object keys are text). */
export type Presence = {
  presence: { [key: string]: string };
};

export type PresenceFrame = {
  event_seq?: number;
  type: "presence.changed";
  user_id: number;
  status: string;
  work_status?: string;
};

/** ``services.announcements.publish_scope``: the whole bank, or the caller's unit and its sub-units. */
export type PublishScope = {
  bank_wide: boolean;
  units: PublishUnit[];
};

export type PublishUnit = {
  id: number;
  path: string;
};

export type PublishedAnnouncements = {
  announcements: AnnouncementPublished[];
  next_offset: number | null;
};

export type QuotaIn = {
  quota_bytes: number;
  user_id?: number | null;
  unit_id?: number | null;
};

export type Reaction = {
  emoji: string;
  users: Person[];
};

export type ReactionIn = {
  emoji: "👍" | "收到" | "❤️" | "😄" | "🙏" | "👌" | "🎉" | "OK";
  on?: boolean;
};

/** ``services.message_actions.react``: the message's reactions after the change. */
export type Reactions = {
  message_id: number;
  reactions: Reaction[];
};

export type ReactionsFrame = {
  event_seq?: number;
  type: "message.reactions";
  conversation_id: number;
  message_id: number;
  reactions: Reaction[];
};

/** To the senders of the messages read: ``user_id`` read up to ``seq``. */
export type ReadFrame = {
  event_seq?: number;
  type: "conversation.read";
  conversation_id: number;
  user_id: number;
  seq: number;
};

export type ReadIn = {
  seq: number;
};

export type ReasonIn = {
  reason: string;
};

export type ReceiptRead = {
  user_id: number;
  name: string;
  read_at: string | null;
};

export type ReceiptUnread = {
  user_id: number;
  name: string;
};

/** ``services.messages.receipts``: who has read a message; an urgent one adds everyone's phone. */
export type Receipts = {
  message_id: number;
  read: ReceiptRead[];
  unread: ReceiptUnread[];
  urgent_phones?: UrgentPhone[];
};

/** ``services.auth.totp_verify``: shown once. */
export type RecoveryCodes = {
  recovery_codes: string[];
};

export type RenameIn = {
  name: string;
};

export type ReportCreate = {
  message_id: number;
  reason?: string;
};

/** ``services.review.report_message``: the review item an employee's report opened. */
export type ReportFiled = {
  id: number;
  status: string;
};

export type ReportIn = {
  reason: string;
};

export type RequestDecision = {
  note?: string;
};

/** ``services.retention.list_policies``. */
export type RetentionPolicies = {
  policies: RetentionPolicy[];
};

export type RetentionPolicy = {
  scope: string;
  messages_days: number;
  files_days: number;
};

/** ``services.retention.set_policy`` in force (a lengthening, or an approved shortening). */
export type RetentionPolicySet = {
  status: "done";
  scope: string;
  messages_days: number;
  files_days: number;
};

/** ``services.retention.list_runs``: a run and what it destroyed (``dry_run`` 1 for a rehearsal). */
export type RetentionRunRecord = {
  id: number;
  started_at: string;
  finished_at: string | null;
  actor: string;
  counts: { [key: string]: number };
};

/** ``services.retention.run``: what went (or would go, ``dry_run``); a real run adds how many data keys were destroyed. */
export type RetentionRunResult = {
  run_id: number;
  dry_run: boolean;
  counts: { [key: string]: number };
  data_keys_destroyed?: number;
};

export type RetentionRuns = {
  runs: RetentionRunRecord[];
};

/** ``services.review.decide``: a violation adds the person's count and sanction level. */
export type ReviewDecided = {
  id: number;
  status: string;
  violations?: number;
  level?: string;
};

/** An account the review flags, and why (``detail``: days, a date or a version, by ``kind``). */
export type ReviewFinding = {
  kind: string;
  user_id: number;
  username: string;
  name: string;
  unit: string;
  roles: string[];
  detail: string;
  last_login_at: string | null;
};

/** ``services.review._view`` with the message's files: a held or reported message. Who is not a compliance officer (secadmin) gets ``text`` empty, ``content_hidden`` true and no attachments. */
export type ReviewItem = {
  id: number;
  kind: string;
  status: string;
  message_id: number;
  conversation_id: number;
  subject: Person;
  reporter_id: number | null;
  reason: string;
  text: string;
  content_hidden: boolean;
  dlp_findings: DlpFinding[];
  created_at: string;
  age_seconds: number;
  sla_breached: boolean;
  decided_at: string | null;
  decided_by: number | null;
  decision_note: string;
  attachments: Attachment[];
};

/** ``services.review.list_queue``: oldest first, with the open count and the oldest open item's age (null when none is open). */
export type ReviewQueue = {
  items: ReviewItem[];
  next_offset: number | null;
  open: number;
  oldest_open_age_seconds: number | null;
  sla_hours: number;
};

/** ``services.account_review.thresholds``. */
export type ReviewThresholds = {
  dormant_days: number;
  admin_days: number;
  interval_hours: number;
  password_max_age_days: number;
};

export type RolesIn = {
  roles: string[];
};

export type RulesAcceptIn = {
  version: number;
};

/** ``services.rules.compliance``: who has (not) accepted the current version (``version`` null and no ``next_offset``: nothing published yet). */
export type RulesAcceptance = {
  version: number | null;
  total: number;
  pending: number;
  accepted: number;
  people: RulesAcceptanceRow[];
  next_offset?: number | null;
};

export type RulesAcceptanceRow = {
  user_id: number;
  username: string;
  name: string;
  employee_no: string | null;
  unit: string;
  accepted_at: string | null;
  accepted: boolean;
};

/** ``services.rules.accept``. */
export type RulesAccepted = {
  version: number;
  accepted_at: string;
};

/** ``services.rules.get_current``: the current version (null: none published yet) and the caller's standing; ``due_at`` (when the acceptance runs out) comes once something is published. */
export type RulesCurrent = {
  rules: RulesText | null;
  accepted_at: string | null;
  must_accept: boolean;
  due_at?: string | null;
};

export type RulesPublishIn = {
  title: string;
  body: string;
};

/** ``services.rules._view``: one published version of the rules. */
export type RulesText = {
  version: number;
  title: string;
  body: string;
  published_at: string;
};

/** ``services.rules.list_versions``: a version with how many people accepted it. */
export type RulesVersion = {
  version: number;
  title: string;
  body: string;
  published_at: string;
  accepted: number;
};

export type RulesVersions = {
  versions: RulesVersion[];
};

export type ScanIn = {
  text: string;
  channel?: "direct" | "group" | "announcement" | "file" | "drive";
  roles?: string[];
  unit_path?: string;
};

export type SearchHit = {
  message_id: number;
  conversation_id: number;
  seq: number;
  sender: Person;
  text: string;
  created_at: string;
};

/** ``services.archive.search_own``: the caller's own messages matching the words, newest first. */
export type SearchResults = {
  results: SearchHit[];
  next_cursor: number | null;
};

/** ``services.attachments.send_secure_pack``: the pack's message, with the sender told to give the password by phone (``instruction``; never in the message itself). */
export type SecurePackMessage = {
  id: number;
  conversation_id: number;
  seq: number;
  sender: Person;
  kind: string;
  text: string;
  created_at: string;
  edited: boolean;
  edited_at: string | null;
  recalled: boolean;
  urgent: boolean;
  reply_to: number | null;
  mentions: number[];
  attachments: Attachment[];
  read_count: number;
  recipient_count: number;
  client_id?: string | null;
  content_destroyed?: boolean;
  dlp?: MessageDlp;
  urgent_recipients?: UrgentRecipient[];
  reactions?: Reaction[];
  bundle_title?: string;
  instruction: string;
};

/** ``services.auth.list_sessions``: a live session (``current``: the caller's own). */
export type SessionRow = {
  id: number;
  user_id: number;
  username: string;
  name: string;
  created_at: string;
  last_seen_at: string;
  ip: string;
  user_agent: string;
  current: boolean;
};

export type Sessions = {
  sessions: SessionRow[];
};

export type ShareIn = {
  conversation_id: number;
  client_id?: string | null;
  confirm?: boolean;
};

export type StatusIn = {
  status: "available" | "busy" | "meeting" | "away";
  [key: string]: unknown;
};

/** ``services.conversations.system_lines``: a group's system line (joined, invited, removed, left, renamed, owner...). */
export type SystemLine = {
  id: number;
  conversation_id: number;
  action: string;
  detail: string;
  user: Person;
  actor: Person;
  at: string;
};

/** ``services.group_life.system_log``: the group's system lines since the caller joined, oldest first. */
export type SystemLines = {
  system: SystemLine[];
};

export type TermsIn = {
  category: "illegal" | "obscene" | "violent" | "gambling" | "drugs" | "fraud" | "advertising";
  terms: string[];
};

/** ``services.auth.totp_enroll``: the secret, as a URI and a QR code (SVG text). */
export type TotpEnrollment = {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
};

export type UnitCreate = {
  name: string;
  parent_id?: number | null;
};

/** ``services.users.create_unit``. */
export type UnitCreated = {
  id: number;
  name: string;
  path: string;
  parent_id: number | null;
};

/** ``services.org.merge_unit``: the unit merged (now closed) and the one it went into. */
export type UnitMerged = {
  merged: OrgUnit;
  into: OrgUnit;
  people_moved: number;
  sub_units_moved: number;
};

export type UnitUpdate = {
  name?: string | null;
  parent_id?: number | null;
  [key: string]: unknown;
};

export type UploadIn = {
  name: string;
  size: number;
  parent_id?: number | null;
  conversation_id?: number | null;
  sha256?: string | null;
};

/** An urgent message's recipient with the phone to call (null: none on file). */
export type UrgentPhone = {
  user_id: number;
  name: string;
  phone: string | null;
  read: boolean;
};

export type UrgentRecipient = {
  id: number;
  name: string;
  phone: string | null;
  read: boolean;
};

export type UserIdIn = {
  user_id: number;
};

export type ValidationError = {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
  ctx?: { [key: string]: unknown };
};

export type ViolationRecord = {
  id: number;
  message_id: number | null;
  level: string;
  note: string;
  recorded_by: number;
  created_at: string;
};

/** ``services.review.violations_of``: a person's recorded violations, oldest first. */
export type Violations = {
  violations: ViolationRecord[];
};
