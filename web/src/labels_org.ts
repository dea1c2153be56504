// Words of the organisation screens (issue 21: account applications, HR's tree and people, departures),
// Chinese first with English, kept apart from i18n.ts so these screens' vocabulary lives in one place.
import { locale } from './i18n';

type Pair = [string, string];
const WORDS: Record<string, Pair> = {
  applications: ['开户申请', 'Account applications'],
  applications_mine: ['我提交的', 'Filed by me'],
  applications_todo: ['待我审批', 'Waiting for me'],
  applications_all: ['全部', 'All'],
  application_new: ['申请开户', 'Apply for an account'],
  application_hint: ['为新入职员工申请账号：部门负责人审批、人力资源部审批后，由系统管理员开通并发放一次性初始密码。',
    'Apply for a new employee\'s account: the unit head and HR approve, then the system administrator opens it with a one-time password.'],
  application_filed: ['申请已提交，等待审批', 'Filed; waiting for approval'],
  status_pending_unit_head: ['待部门负责人审批', 'Waiting for the unit head'],
  status_pending_hr: ['待人力资源部审批', 'Waiting for HR'],
  status_pending_sysadmin: ['待系统管理员开通', 'Waiting for the system administrator'],
  status_allocated: ['已开通', 'Account opened'],
  status_rejected: ['已驳回', 'Rejected'],
  stage_pending_unit_head: ['部门负责人', 'Unit head'],
  stage_pending_hr: ['人力资源部', 'HR'],
  stage_pending_sysadmin: ['系统管理员', 'System administrator'],
  decision_approved: ['同意', 'approved'],
  decision_rejected: ['驳回', 'rejected'],
  decision_allocated: ['已开通', 'opened the account'],
  decision_skipped: ['无部门负责人，跳过', 'skipped (no unit head)'],
  functions: ['申请功能', 'Functions requested'],
  fn_chat: ['即时通讯', 'Messaging'],
  fn_files: ['文件传输', 'File transfer'],
  fn_groups: ['创建群聊', 'Create groups'],
  fn_drive: ['个人网盘', 'Personal drive'],
  fn_cross_unit: ['跨部门沟通', 'Cross-unit messages'],
  username_optional: ['用户名（可选，开通时确定）', 'Username (optional; set when opened)'],
  note: ['备注', 'Note'],
  applicant: ['申请人', 'Applicant'],
  progress: ['办理进度', 'Progress'],
  approve: ['同意', 'Approve'],
  allocate: ['开通账号', 'Open the account'],
  allocate_hint: ['确认用户名后开通账号；初始密码只显示这一次，请当面交给本人，本人首次登录须修改。',
    'Confirm the username to open the account; the first password is shown once: hand it to the person, who must change it at first login.'],
  allocated_title: ['账号已开通', 'Account opened'],
  allocated_done: ['已为{name}开通账号 {username}，一次性初始密码：', 'Account {username} opened for {name}; one-time password:'],
  reject_reason: ['驳回理由', 'Reason for rejection'],
  org_units: ['组织架构', 'Org structure'],
  org_people: ['人员信息', 'People'],
  unit_people: ['{n} 人', '{n} people'],
  unit_closed: ['已撤销', 'Closed'],
  unit_rename: ['更名', 'Rename'],
  unit_move: ['调整隶属', 'Move'],
  unit_merge: ['合并', 'Merge'],
  unit_close: ['撤销', 'Close'],
  unit_add_child: ['新建下级', 'Add sub-unit'],
  unit_new_name: ['新名称', 'New name'],
  unit_new_parent: ['新的上级机构', 'New parent unit'],
  unit_top_level: ['（顶级机构）', '(top level)'],
  unit_merge_into: ['并入', 'Merge into'],
  unit_merge_hint: ['该机构的全部人员和下级机构将并入所选机构，该机构随即撤销。', 'Everyone and every sub-unit moves into the chosen unit, which closes this one.'],
  unit_close_confirm: ['确认撤销“{name}”？撤销后不能再调入人员。', 'Close “{name}”? Nobody can be moved into it afterwards.'],
  unit_merged: ['已合并，调入 {n} 人', 'Merged; {n} people moved'],
  ldap_title: ['LDAP 目录同步', 'LDAP directory sync'],
  ldap_off: ['未配置 LDAP / AD 目录同步（可在服务器上设置 MIXUN_LDAP_URL 等，见运维文档）。', 'The LDAP / AD sync is not configured (MIXUN_LDAP_URL and related settings on the server; see the operations docs).'],
  ldap_never: ['尚未运行过同步。由服务器上的定时任务执行 mixun org ldap-sync。', 'The sync has not run yet. A scheduled `mixun org ldap-sync` on the server runs it.'],
  ldap_last: ['最近一次：{when}', 'Last run: {when}'],
  ldap_dry: ['试运行（未做任何更改）', 'Dry run (nothing changed)'],
  ldap_ok: ['成功', 'Succeeded'],
  ldap_failed: ['失败，未做任何更改', 'Failed; nothing was changed'],
  ldap_counts: ['新建 {created} 人，调动 {moved} 人，更名 {renamed} 人，更新 {updated} 人，离职 {departed} 人，未变 {unchanged} 人，新建机构 {units_created} 个', '{created} created, {moved} moved, {renamed} renamed, {updated} updated, {departed} departed, {unchanged} unchanged, {units_created} units created'],
  ldap_errors: ['问题（{n} 条）：', 'Problems ({n}):'],
  person_edit: ['信息更正', 'Correct'],
  person_edit_hint: ['实名、工号、机构和职务以人力资源部为准；更正记入审计日志，并标记为人事认证。',
    'Real names, numbers, units and positions come from HR; each correction is audited and marks the person HR-verified.'],
  not_verified: ['未经人事认证', 'Not HR-verified'],
  depart_resignation: ['辞职', 'Resignation'],
  depart_transfer: ['调出', 'Transfer out'],
  depart_pledged: ['已签署离职保密承诺', 'Exit confidentiality pledge signed'],
  departure_kind: ['离职类型', 'Kind of departure'],
  admin_only_sysadmin: ['管理员及合规人员账号由系统管理员办理', 'Administrators\' and compliance officers\' accounts are handled by the system administrator'],
};

export function w(key: string, params?: Record<string, string | number>): string {
  const pair = WORDS[key];
  let s = pair ? pair[locale === 'en' ? 1 : 0] : key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export const DEPART_KINDS = ['termination', 'resignation', 'retirement', 'internal_retirement', 'transfer', 'other'];
export function departKind(k: string): string {
  return k === 'resignation' || k === 'transfer' ? w('depart_' + k) : '';
}
export const FUNCTIONS = ['chat', 'files', 'groups', 'drive', 'cross_unit'];
