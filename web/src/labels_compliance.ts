// Chinese (and English) labels for the codes the auditor's and compliance consoles show: audit actions,
// their details, reason categories, review kinds and states, export filters. Kept apart from i18n.ts
// so the consoles' vocabulary lives in one place; an unknown code is shown as a neutral 其他 label,
// never as the raw code alone.
import { locale, t } from './i18n';
import { roleName } from './ui';

type Pair = [string, string];
const ACTIONS: Record<string, Pair> = {
  'account.created': ['创建账号', 'Account created'],
  'account.departed': ['办理离职', 'Departure recorded'],
  'account.password_reset': ['重置密码', 'Password reset'],
  'account.removed_from_groups': ['移出群聊', 'Removed from groups'],
  'account.status_changed': ['更改账号状态', 'Account status changed'],
  'account.unlocked': ['解除锁定', 'Account unlocked'],
  'account.roles_changed': ['更改角色', 'Roles changed'],
  'archive.exported': ['导出归档', 'Archive exported'],
  'archive.export_downloaded': ['下载导出文件', 'Export downloaded'],
  'archive.searched': ['检索归档', 'Archive searched'],
  'archive.viewed': ['查看会话归档', 'Conversation viewed in the archive'],
  'archive.attachment_viewed': ['查看归档文件', 'Archived file opened'],
  'archive.original_viewed': ['查看遮盖前原文', 'Unmasked original viewed'],
  'archive.group_files_searched': ['检索群文件归档', 'Group files searched in the archive'],
  'archive.group_file_viewed': ['下载归档的群文件', 'Archived group file opened'],
  'access_request.filed': ['提交双人复核申请', 'Dual-control request filed'],
  'access_request.approved': ['批准双人复核申请', 'Dual-control request approved'],
  'access_request.rejected': ['驳回双人复核申请', 'Dual-control request rejected'],
  'access_request.used': ['执行已批准的申请', 'Approved request carried out'],
  'access_request.released': ['交还未执行的申请', 'Approved request given back'],
  'account.disabled': ['停用账号', 'Account disabled'],
  'account.enabled': ['启用账号', 'Account enabled'],
  'account.updated': ['修改账号', 'Account changed'],
  'account.reinstated': ['办理复职', 'Account reinstated'],
  'account.two_factor_reset': ['重置双因素认证', 'Two-factor reset'],
  'approval.requested': ['提交审批申请', 'Approval requested'],
  'approval.approved': ['批准审批申请', 'Approval granted'],
  'approval.rejected': ['驳回审批申请', 'Approval rejected'],
  'approval.decision_refused': ['拒绝越权审批', 'Approval decision refused'],
  'compliance.dual_control_changed': ['更改双人复核设置', 'Dual-control setting changed'],
  'audit.exported': ['导出审计日志', 'Audit trail exported'],
  'audit.searched': ['查询审计日志', 'Audit trail searched'],
  'audit.verified': ['校验审计日志', 'Audit trail verified'],
  'auth.screen_locked': ['锁定屏幕', 'Screen locked'],
  'conversation.dissolved': ['解散群聊', 'Group dissolved'],
  'export.signing_key_created': ['生成导出签名密钥', 'Export signing key created'],
  'standby.promoted': ['备用库升为主库', 'Standby promoted'],
  'dlp.warned': ['敏感信息提醒', 'DLP warning'],
  'file.scan_failed': ['文件查毒失败', 'File scan failed'],
  'file.previewed': ['预览文件', 'File previewed'],
  'review.attachment_viewed': ['复核时查看文件', 'File opened in review'],
  'auth.account_locked': ['账号被锁定', 'Account locked'],
  'auth.login_failed': ['登录失败', 'Login failed'],
  'auth.login_flagged': ['异常登录提醒', 'Login flagged'],
  'auth.login_refused': ['拒绝登录', 'Login refused'],
  'auth.login_succeeded': ['登录成功', 'Logged in'],
  'auth.logout': ['退出登录', 'Logged out'],
  'auth.logout_all': ['退出全部会话', 'Logged out everywhere'],
  'auth.password_change_failed': ['修改密码失败', 'Password change failed'],
  'auth.password_changed': ['修改密码', 'Password changed'],
  'auth.recovery_code_used': ['使用恢复码', 'Recovery code used'],
  'auth.screen_unlocked': ['解除锁屏', 'Screen unlocked'],
  'auth.totp_disabled': ['停用双因素认证', 'Two-factor disabled'],
  'auth.totp_enabled': ['启用双因素认证', 'Two-factor enabled'],
  'auth.totp_enrollment_started': ['开始绑定双因素认证', 'Two-factor enrolment started'],
  'dlp.blocked': ['敏感信息拦截', 'DLP blocked'],
  'dlp.escalated': ['违规升级处置', 'DLP escalated'],
  'dlp.hit': ['命中敏感信息规则', 'DLP hit'],
  'dlp.lexicon_changed': ['更改敏感词库', 'Lexicon changed'],
  'dlp.policy_changed': ['更改数据防泄漏策略', 'DLP policy changed'],
  'dlp.scan_tried': ['试扫敏感信息', 'DLP test scan'],
  'dlp.suspension_lifted': ['恢复发送权限', 'Sending suspension lifted'],
  'file.downloaded': ['下载文件', 'File downloaded'],
  'file.infected': ['发现病毒文件', 'Infected file'],
  'file.pack_refused': ['拒绝加密压缩包', 'Secure pack refused'],
  'file.packed': ['发送加密压缩包', 'Secure pack sent'],
  'file.refused': ['拒绝文件', 'File refused'],
  'legal_hold.placed': ['设置法律保全', 'Legal hold placed'],
  'legal_hold.released': ['解除法律保全', 'Legal hold released'],
  'retention.policy_changed': ['更改保留策略', 'Retention policy changed'],
  'retention.ran': ['执行保留期清理', 'Retention run'],
  'review.reported': ['举报消息', 'Message reported'],
  'review.approved': ['复核放行', 'Review: approved'],
  'review.rejected': ['复核驳回', 'Review: rejected'],
  'review.escalated': ['复核升级', 'Review: escalated'],
  'review.violation': ['认定违规', 'Review: violation'],
  'session.ended': ['结束会话', 'Session ended'],
  'session.expired': ['会话过期', 'Session expired'],
  'unit.created': ['创建部门', 'Unit created'],
  'account.review_exported': ['导出账号检查结果', 'Account review exported'],
  'account.review_run': ['执行账号检查', 'Account review run'],
  'announcement.confirmed': ['确认公告', 'Announcement confirmed'],
  'announcement.file_downloaded': ['下载公告附件', 'Announcement file downloaded'],
  'announcement.file_uploaded': ['上传公告附件', 'Announcement file uploaded'],
  'announcement.broadcast': ['向全行发送停机通知（短信/邮件）', 'Outage notice sent to everyone (SMS / e-mail)'],
  'announcement.published': ['发布公告', 'Announcement published'],
  'announcement.reminded': ['提醒阅读公告', 'Announcement reminder sent'],
  'announcement.withdrawn': ['撤回公告', 'Announcement withdrawn'],
  'group_request.filed': ['提交跨单位建群申请', 'Cross-unit group requested'],
  'group_request.approved': ['批准跨单位建群申请', 'Cross-unit group request approved'],
  'group_request.rejected': ['驳回跨单位建群申请', 'Cross-unit group request rejected'],
  'group_request.withdrawn': ['撤回跨单位建群申请', 'Cross-unit group request withdrawn'],
  'application.allocated': ['开通申请的账号', 'Applied-for account opened'],
  'application.approved': ['批准开户申请', 'Account application approved'],
  'application.filed': ['提交开户申请', 'Account application filed'],
  'application.rejected': ['驳回开户申请', 'Account application rejected'],
  'directory.card_viewed': ['查看人员名片', 'Person card viewed'],
  'directory.harvest_refused': ['拒绝频繁查询通讯录', 'Directory lookups refused (rate)'],
  'drive.deleted': ['删除网盘文件', 'Drive item deleted'],
  'drive.destroyed': ['销毁网盘文件', 'Drive item destroyed'],
  'drive.downloaded': ['下载网盘文件', 'Drive file downloaded'],
  'drive.folder_created': ['新建网盘文件夹', 'Drive folder created'],
  'drive.handed_over': ['移交离职人员网盘', 'Drive handed over'],
  'drive.handover_pending': ['网盘待人事指定接收人', 'Drive handover waiting for HR'],
  'drive.kept': ['保留久未使用的文件', 'Unused file kept'],
  'drive.moved': ['移动网盘文件', 'Drive item moved'],
  'drive.quota_cleared': ['取消网盘容量设置', 'Drive quota cleared'],
  'drive.quota_set': ['设置网盘容量', 'Drive quota set'],
  'drive.removed': ['移除被举报的网盘文件', 'Reported drive file removed'],
  'drive.renamed': ['重命名网盘文件', 'Drive item renamed'],
  'drive.report_dismissed': ['驳回网盘文件举报', 'Drive report dismissed'],
  'drive.reported': ['举报网盘文件', 'Drive file reported'],
  'drive.restored': ['从回收站恢复', 'Drive item restored'],
  'drive.shared': ['网盘文件发送到会话', 'Drive file shared'],
  'drive.type_allowed': ['允许文件类型', 'File type allowed'],
  'drive.type_blocked': ['禁止文件类型', 'File type blocked'],
  'drive.unused_flagged': ['标记久未使用的文件', 'Unused files flagged'],
  'drive.uploaded': ['上传网盘文件', 'Drive file uploaded'],
  'fault.assigned': ['指派故障工单', 'Fault report assigned'],
  'fault.escalated': ['故障工单超时上报', 'Fault report escalated'],
  'fault.file_attached': ['故障工单附加文件', 'File attached to a fault report'],
  'fault.filed': ['提交故障报告', 'Fault report filed'],
  'fault.replied': ['答复故障工单', 'Fault report answered'],
  'fault.resolved': ['解决故障工单', 'Fault report resolved'],
  'function.rule_removed': ['删除功能权限规则', 'Function rule removed'],
  'function.rule_set': ['设置功能权限', 'Function rule set'],
  'org.imported': ['导入人事数据', 'HR data imported'],
  'org.ldap_synced': ['从 LDAP 目录同步人事数据', 'HR data synced from the LDAP directory'],
  'person.hr_updated': ['人事更正人员信息', 'Person corrected by HR'],
  'report.inspection': ['生成巡检报告', 'Inspection report made'],
  'rules.accepted': ['接受使用与保密规定', 'Rules accepted'],
  'rules.published': ['发布使用与保密规定', 'Rules published'],
  'rules.report_exported': ['导出规定接受情况', 'Rules acceptance exported'],
  'scim.token_created': ['生成 SCIM 令牌', 'SCIM token created'],
  'scim.user_deleted': ['人事系统删除人员（按离职处理）', 'Person deleted by the HR system (departed)'],
  'unit.closed': ['撤销部门', 'Unit closed'],
  'unit.merged': ['合并部门', 'Units merged'],
  'unit.moved': ['调整部门隶属', 'Unit moved'],
  'unit.renamed': ['部门更名', 'Unit renamed'],
  'keys.rotation_started': ['开始密钥轮换', 'Key rotation started'],
  'keys.rotated': ['完成密钥轮换', 'Keys rotated'],
  'keys.rotation_interrupted': ['密钥轮换中断', 'Key rotation interrupted'],
  'keys.destroyed': ['销毁已退役密钥', 'Retired key destroyed'],
  'keys.data_keys_destroyed': ['销毁到期内容的数据密钥', 'Data keys of expired content destroyed'],
  'keys.period_keys_destroyed': ['销毁到期月份的期间密钥', 'Period keys of expired months destroyed'],
  'keys.period_keys_exported': ['导出期间密钥托管文件', 'Period keys exported to an escrow'],
  'keys.period_keys_imported': ['从托管文件恢复期间密钥', 'Period keys restored from an escrow'],
  'keys.restored': ['从备份恢复数据与密钥', 'Data and keys restored from a backup'],
  'keys.text_sealing_started': ['开始加密已有消息文本', 'Sealing of existing message texts started'],
  'keys.text_sealed': ['已有消息文本加密完成', 'Existing message texts sealed'],
  'keys.text_sealing_interrupted': ['已有消息文本加密中断', 'Sealing of existing message texts interrupted'],
};
const PREFIXES: Record<string, Pair> = {
  'account.': ['账号', 'Account'], 'archive.': ['归档', 'Archive'], 'audit.': ['审计', 'Audit'], 'auth.': ['登录与认证', 'Authentication'],
  'dlp.': ['数据防泄漏', 'DLP'], 'file.': ['文件', 'Files'], 'legal_hold.': ['法律保全', 'Legal hold'], 'retention.': ['保留期', 'Retention'],
  'review.': ['复核', 'Review'], 'session.': ['会话', 'Session'], 'unit.': ['部门', 'Units'], 'access_request.': ['双人复核', 'Dual control'],
  'approval.': ['审批', 'Approvals'], 'compliance.': ['合规设置', 'Compliance settings'],
  'conversation.': ['会话', 'Conversations'], 'export.': ['导出', 'Exports'], 'standby.': ['主备切换', 'Standby'],
  'keys.': ['密钥管理', 'Keys'], 'announcement.': ['公告', 'Announcements'], 'application.': ['开户申请', 'Account applications'], 'group_request.': ['跨单位建群申请', 'Cross-unit group requests'],
  'directory.': ['通讯录', 'Directory'], 'drive.': ['网盘', 'Drive'], 'fault.': ['故障工单', 'Fault reports'],
  'function.': ['功能权限', 'Function switches'], 'org.': ['组织架构', 'Organisation'], 'person.': ['人员信息', 'People'],
  'report.': ['报告', 'Reports'], 'rules.': ['使用与保密规定', 'Rules'], 'scim.': ['人事系统接口', 'SCIM'],
};
const DETAILS: Record<string, Pair> = {
  credentials_reissued: ['已重新签发登录凭据', 'Credentials reissued'], dormant: ['长期未登录', 'Dormant'],
  no_two_factor: ['未启用两步验证', 'No two-factor'], admin_inactive: ['长期未登录的管理员', 'Inactive administrators'],
  not_hr_verified: ['未经人事认证', 'Not HR-verified'], rules_not_accepted: ['未接受规定', 'Rules not accepted'], allowed: ['允许', 'Allowed'], announcement_id: ['公告', 'Announcement'], assignee: ['处理人', 'Assignee'], by: ['经由', 'By'],
  bytes: ['字节数', 'Bytes'], format: ['格式', 'Format'], function: ['功能', 'Function'], functions: ['功能', 'Functions'],
  hours: ['小时', 'Hours'], hr_verified: ['人事认证', 'HR-verified'], into: ['并入', 'Into'], items: ['项数', 'Items'],
  label: ['标签', 'Label'], limit: ['上限', 'Limit'], must_confirm: ['须确认', 'Must confirm'], new: ['新值', 'New'], old: ['原值', 'Old'],
  overdue: ['已超时', 'Overdue'], owner_id: ['所有人', 'Owner'], owners: ['所有人数', 'Owners'], parent_id: ['上级部门', 'Parent unit'],
  people: ['人数', 'People'], pledged: ['已签离职保密承诺', 'Exit pledge signed'], previous_holder: ['原持有人', 'Previous holder'],
  quota_bytes: ['容量（字节）', 'Quota (bytes)'], recipients: ['接收人数', 'Recipients'], report_id: ['举报编号', 'Report'],
  rows: ['行数', 'Rows'], scan: ['扫描', 'Scan'], scan_status: ['扫描状态', 'Scan status'], sha256: ['摘要', 'SHA-256'],
  source: ['来源', 'Source'], stage: ['环节', 'Stage'], title: ['标题', 'Title'], to_user_id: ['接收人', 'Recipient'],
  trigger: ['触发方式', 'Trigger'], units: ['部门', 'Units'], version: ['版本', 'Version'], what: ['内容', 'What'],
  reason: ['理由', 'Reason'], reason_category: ['理由类别', 'Reason category'], query_length: ['检索词长度', 'Query length'],
  person_q: ['上传人', 'Uploader'], group_q: ['群聊', 'Group'],
  sender: ['发送人', 'Sender'], sender_q: ['发送人', 'Sender'], participant: ['参与人', 'Participant'], participant_q: ['参与人', 'Participant'],
  unit: ['部门', 'Unit'], conversation_id: ['会话', 'Conversation'], since: ['起始', 'From'], until: ['截止', 'To'], dlp: ['仅限敏感信息', 'DLP only'],
  results: ['结果数', 'Results'], versions: ['消息版本数', 'Versions'], originals: ['含原文', 'With originals'], around: ['定位消息', 'Around'],
  filename: ['文件名', 'File name'], message_id: ['消息', 'Message'], version_id: ['消息版本', 'Version'], request_id: ['申请编号', 'Request'],
  counts: ['数量', 'Counts'], manifest_sha256: ['清单摘要', 'Manifest SHA-256'], user: ['人员', 'Person'], include_originals: ['含遮盖前原文', 'With originals'],
  action_filter: ['操作筛选', 'Action filter'], actor_filter: ['操作人筛选', 'Actor filter'], person_filter: ['人员筛选', 'Person filter'],
  ok: ['结果', 'Result'], first_bad_id: ['首条异常记录', 'First bad record'], kinds: ['类型', 'Kinds'], note: ['备注', 'Note'],
  requested_by: ['申请人', 'Requested by'], before: ['修改前', 'Before'], after: ['修改后', 'After'], roles: ['角色', 'Roles'],
  disabled: ['停用', 'Disabled'], username: ['用户名', 'Username'], name: ['姓名', 'Name'], reasons: ['原因', 'Reasons'], detector: ['检测项', 'Detector'],
  detectors: ['检测项', 'Detectors'], count: ['次数', 'Count'], decision: ['决定', 'Decision'], status: ['状态', 'Status'], dry_run: ['试运行', 'Dry run'],
  scope: ['范围', 'Scope'], messages_days: ['消息保留天数', 'Message days'], files_days: ['文件保留天数', 'File days'], ip: ['地址', 'Address'],
  session_id: ['会话编号', 'Session'], password_expired: ['密码已过期', 'Password expired'], added: ['新增', 'Added'], removed: ['移除', 'Removed'],
  changes: ['变更', 'Changes'], notified: ['已通知人数', 'Notified'], with_phone: ['有手机号的人数', 'With a phone number'], with_email: ['有邮箱的人数', 'With an e-mail address'], requester: ['申请人', 'Requester'], conversation: ['会话', 'Conversation'], channel: ['渠道', 'Channel'], detail: ['说明', 'Detail'], dlp_action: ['处置方式', 'DLP action'], file_kind: ['文件类型', 'File kind'],
  files: ['文件数', 'Files'], findings: ['命中项', 'Findings'], groups: ['群聊', 'Groups'], groups_left: ['退出的群聊', 'Groups left'], item: ['事项', 'Item'],
  level: ['级别', 'Level'], minutes: ['分钟', 'Minutes'], outcome: ['结果', 'Outcome'], path: ['路径', 'Path'], rules: ['规则', 'Rules'],
  sessions: ['会话数', 'Sessions'], sessions_ended: ['结束的会话数', 'Sessions ended'], signature: ['签名', 'Signature'], size: ['大小', 'Size'],
  subject_id: ['当事人', 'Subject'], target: ['对象', 'Target'], thresholds: ['阈值', 'Thresholds'], user_id: ['人员编号', 'Person'],
  violations: ['违规次数', 'Violations'], actor_id: ['操作人编号', 'Actor'],
  actor: ['操作方', 'Actor'], algorithm: ['算法', 'Algorithm'], approval_id: ['审批编号', 'Approval'],
  decided_by_role: ['审批角色', 'Decided by role'], fingerprint: ['密钥指纹', 'Key fingerprint'], forced: ['强制', 'Forced'],
  key_fingerprint: ['签名密钥指纹', 'Signing key fingerprint'], kind: ['类型', 'Kind'], members: ['成员数', 'Members'],
  now_asynchronous: ['改为异步复制', 'Now asynchronous'], payload: ['申请内容', 'Request'], seconds: ['秒', 'Seconds'],
  two_factor_kept: ['保留双因素认证', 'Two-factor kept'], from: ['原值', 'From'], to: ['新值', 'To'],
  unit_id: ['部门', 'Unit'], position: ['职务', 'Position'], phone: ['电话', 'Phone'], employee_no: ['工号', 'Employee no.'],
  audit_records: ['审计记录', 'Audit records'], events: ['事件', 'Events'], held: ['保全保留', 'Kept under hold'],
  messages: ['消息', 'Messages'], attachments: ['附件', 'Files'], conversations: ['会话', 'Conversations'],
  decision_note: ['处理意见', 'Decision note'], via: ['途径', 'Via'],
  periods: ['会话与月份', 'Conversations and months'], sealed: ['已加密', 'Sealed'],
  previous: ['上一版本', 'Previous version'], rewrapped: ['重新封装的数据密钥', 'Data keys rewrapped'], left: ['剩余', 'Left'],
  loaded: ['已导入的月份', 'Months loaded'], already_present: ['已存在的月份', 'Months already present'],
  destroyed_not_loaded: ['已销毁、未导入的月份', 'Destroyed months not loaded'],
  in_hsm: ['保存在 HSM 中的月份', 'Months kept in the HSM'], where: ['保存位置', 'Kept in'],
  failed: ['中途失败', 'Failed part way'],
  backup_created_at: ['备份时间', 'Backup taken at'], restored_at: ['恢复时间', 'Restored at'],
  periods_restored: ['从托管文件恢复的月份', 'Months restored from the escrow'],
  periods_on_host: ['本机已有的月份', 'Months already on this host'],
  periods_missing: ['缺失（显示为已销毁）的月份', 'Months missing (read as destroyed)'],
};
const WORDS: Record<string, Pair> = {
  scheduled: ['定时', 'Scheduled'], manual: ['手动', 'On demand'],
  // reason categories
  regulatory_inspection: ['监管检查', 'Regulatory inspection'], internal_investigation: ['内部调查', 'Internal investigation'],
  customer_complaint: ['客户投诉', 'Customer complaint'], litigation: ['法律诉讼', 'Litigation'], audit_sampling: ['审计抽查', 'Audit sampling'],
  other: ['其他', 'Other'],
  // review queue
  dlp_hold: ['敏感信息暂扣', 'Held by DLP'], report: ['员工举报', 'Reported by staff'], 'DLP hold': ['敏感信息暂扣', 'Held by DLP'],
  open: ['待处理', 'Open'], escalated: ['已升级', 'Escalated'], decided: ['已处理', 'Decided'], approved: ['已放行', 'Approved'],
  rejected: ['已驳回', 'Rejected'], violation: ['认定违规', 'Violation'],
  // access requests
  pending: ['待批准', 'Pending'], used: ['已执行', 'Carried out'],
  export_person: ['导出个人全部记录', "Export a person's history"], export_unit: ['导出部门全部记录', "Export a unit's history"],
  originals: ['查看遮盖前原文', 'View unmasked originals'],
  retention_policy: ['缩短保存期限', 'Shorten retention'], hold_release: ['解除法律保全', 'Release a legal hold'],
  // message version kinds
  created: ['发送', 'Sent'], edited: ['编辑', 'Edited'], recalled: ['撤回', 'Recalled'], hidden: ['隐藏', 'Hidden'],
  // conversation kinds, membership log
  direct: ['单聊', 'Direct'], group: ['群聊', 'Group'], joined: ['加入', 'Joined'], left: ['退出', 'Left'], removed: ['被移出', 'Removed'],
  role_changed: ['角色变更', 'Role changed'], renamed: ['改名', 'Renamed'], owner: ['群主', 'Owner'], admin: ['管理员', 'Admin'], member: ['成员', 'Member'],
  // DLP and login reasons
  bulk_id_numbers: ['批量身份证号', 'Many ID numbers'], bulk_card_numbers: ['批量银行卡号', 'Many card numbers'],
  bulk_personal_data: ['批量个人信息', 'Much personal data'], new_client: ['新设备登录', 'New device'], new_ip: ['新地址登录', 'New address'],
  outside_working_hours: ['非工作时间登录', 'Outside working hours'], after_failures: ['多次失败后登录', 'After failed attempts'],
  block: ['拦截', 'Block'], confirm: ['提醒确认', 'Confirm'], mask: ['遮盖', 'Mask'], hold: ['暂扣待审', 'Hold'], allow: ['放行', 'Allow'],
  success: ['成功', 'Success'], failure: ['失败', 'Failure'], denied: ['拒绝', 'Denied'],
  // approval kinds, the CLI as actor
  update: ['修改账号', 'Account change'], roles: ['变更角色', 'Role change'], reset_password: ['重置密码', 'Password reset'],
  reset_two_factor: ['重置双因素认证', 'Two-factor reset'], depart: ['办理离职', 'Departure'], reinstate: ['办理复职', 'Reinstatement'],
  cli: ['服务器命令行', 'Server command line'],
  // export formats
  jsonl: ['JSON Lines 数据', 'JSON Lines'], csv: ['CSV 表格', 'CSV'], eml: ['邮件格式（EML）', 'Email (EML)'], attachments: ['附件原件', 'Attachments'],
};
const COUNTS: Record<string, Pair> = {
  versions: ['消息版本', 'versions'], messages: ['消息', 'messages'], conversations: ['会话', 'conversations'],
  attachments: ['附件', 'files'], eml_files: ['邮件文件', 'EML files'], group_files: ['群文件', 'group files'],
};

const pick = (p: Pair) => (locale === 'en' ? p[1] : p[0]);

/** An audit action as words; an unknown one by its family (账号、登录…), never the raw code alone. */
export function actionLabel(code: string): string {
  if (ACTIONS[code]) return pick(ACTIONS[code]);
  const fam = Object.keys(PREFIXES).find((p) => code.startsWith(p));
  return fam ? `${pick(PREFIXES[fam])} · ${pick(WORDS.other)}` : pick(WORDS.other);
}
export function actionOptions(): { code: string; label: string }[] {
  return Object.keys(PREFIXES).map((p) => ({ code: p, label: pick(PREFIXES[p]) }));
}
/** A code the consoles show (category, state, kind, reason…) in words; unknown codes stay as given. */
export function word(code: string | null | undefined): string {
  if (code == null || code === '') return '';
  if (WORDS[code]) return pick(WORDS[code]);
  for (const family of ['dlp_detector_', 'login_reason_', 'approval_kind_', 'depart_']) {
    const w = t(family + code);
    if (w !== family + code) return w;
  }
  const role = roleName(code);
  if (role !== code) return role;
  return code;
}
export const REASON_CATEGORIES = ['regulatory_inspection', 'internal_investigation', 'customer_complaint', 'litigation', 'audit_sampling', 'other'];
export const REASON_MIN = 10;
/** "部门负责人、员工" from "unit_head,employee". */
export function rolesLabel(v: string | string[] | null | undefined): string {
  const list = Array.isArray(v) ? v : (v || '').split(',').filter(Boolean);
  return list.map(roleName).join('、');
}
function value(k: string, v: any): string {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v === 'boolean') return v ? (locale === 'en' ? 'yes' : '是') : (locale === 'en' ? 'no' : '否');
  if (Array.isArray(v)) return v.map((x) => value(k, x)).filter(Boolean).join('、');
  if (typeof v === 'object') {
    if (k === 'counts') return countsLabel(v);
    return Object.entries(v).map(([a, b]) => `${DETAILS[a] ? pick(DETAILS[a]) : word(a)} ${value(a, b)}`).filter((x) => x.trim()).join('，');
  }
  if (k === 'roles') return rolesLabel(String(v));
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) { const d = new Date(v); if (!isNaN(d.getTime())) return d.toLocaleString(locale === 'en' ? 'en' : 'zh-CN', { hour12: false }); }
  return typeof v === 'string' ? word(v) : String(v);
}
/** An audit record's details as readable lines ("理由：…"), not JSON; hashes and empty values left out. */
export function detailLines(details: Record<string, any> | null | undefined, names?: Record<string, string> | null): string[] {
  if (!details) return [];
  return Object.entries(details).filter(([k, v]) => k !== 'manifest_sha256' && v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${DETAILS[k] ? pick(DETAILS[k]) : k}${locale === 'en' ? ': ' : '：'}${names?.[k] || value(k, v)}`);
}
export function countsLabel(c: Record<string, number> | null | undefined): string {
  if (!c) return '';
  return Object.entries(c).filter(([k]) => k !== 'dry_run').map(([k, n]) => `${COUNTS[k] ? pick(COUNTS[k]) : word(k)} ${n}`).join(' · ');
}
/** A target such as user:5 as the server named it, else by its kind (用户 #5). */
export function targetLabel(target: string, name?: string): string {
  if (!target) return '';
  if (name) return name;
  const [kind, id] = target.split(':');
  const kinds: Record<string, Pair> = {
    user: ['用户', 'User'], conversation: ['会话', 'Conversation'], unit: ['部门', 'Unit'], hold: ['法律保全', 'Legal hold'],
    attachment: ['文件', 'File'], message: ['消息', 'Message'], session: ['会话登录', 'Session'], review: ['复核事项', 'Review item'],
    lexicon: ['敏感词库', 'Lexicon'], dlp_policy: ['数据防泄漏策略', 'DLP policy'], retention_run: ['保留期清理', 'Retention run'],
    export: ['导出', 'Export'], access_request: ['双人复核申请', 'Dual-control request'], archive: ['归档', 'Archive'],
    dual_control: ['双人复核设置', 'Dual-control setting'],
    drive_item: ['网盘文件', 'Drive item'],
  };
  if (kinds[kind]) return id ? `${pick(kinds[kind])} #${id}` : pick(kinds[kind]);
  return target;
}
