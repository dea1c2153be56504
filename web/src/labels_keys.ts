// Chinese (and English) words of the key management screen (admin_keys.tsx): what `mixun keys status`
// prints, for the security administrator and the auditor. Codes are never shown alone.
import { locale } from './i18n';

type Pair = [string, string];
const WORDS: Record<string, Pair> = {
  title: ['密钥管理状态', 'Key management status'],
  intro: ['只读：密钥的轮换与销毁在服务器上以命令行完成（耗时较长，带进度显示）。', 'Read-only: keys are rotated and destroyed on the server with the command line (long, with progress).'],
  cipher: ['新数据密钥的算法', 'Cipher of new data keys'],
  provider: ['密钥加密密钥保存于', 'Key-encryption keys kept in'],
  period_where: ['新建期间密钥保存于', 'New period keys made in'],
  period_dir: ['本机期间密钥目录', "The host's period key directory"],
  where_file: ['文件', 'File'],
  where_hsm: ['硬件安全模块（HSM）', 'HSM (PKCS#11)'],
  where_ring: ['密钥环数据库', 'Key ring database'],
  where_file_host: ['本机文件（不在备份中）', 'Files on this host (not in backups)'],
  fallback: ['警告：本机期间密钥目录不可用（{why}），期间密钥保存在密钥目录中，备份将包含它们。请设置 MIXUN_PERIOD_KEYS_DIR。', "Warning: the host's period key directory is not usable ({why}), so period keys are kept in the key directory and backups hold them. Set MIXUN_PERIOD_KEYS_DIR."],
  unreadable: ['无法识别的密文：{n} 条', 'Unrecognised ciphertexts: {n}'],
  last_title: ['最近的密钥操作（审计记录）', 'Last key operations (audit trail)'],
  last_rotated: ['最近一次密钥轮换', 'Last key rotation'],
  last_destroyed: ['最近一次销毁期间密钥', 'Last period keys destroyed'],
  last_exported: ['最近一次导出期间密钥托管文件', 'Last period key escrow export'],
  operation: ['操作', 'Operation'],
  never: ['尚无记录', 'Never'],
  rotated_detail: ['新版本 v{v}（上一版本 v{p}），重新封装 {n} 个数据密钥', 'New version v{v} (previous v{p}), {n} data keys rewrapped'],
  periods_detail: ['{n} 个期间密钥：{list}', '{n} period keys: {list}'],
  versions_title: ['密钥加密密钥（KEK）版本', 'Key-encryption key versions'],
  version: ['版本', 'Version'],
  state: ['状态', 'State'],
  where: ['位置', 'Where'],
  protects: ['保护的数据密钥', 'Data keys protected'],
  detail: ['明细', 'Detail'],
  kek_current: ['当前', 'Current'],
  kek_retired: ['已退役', 'Retired'],
  kek_missing: ['缺失', 'Missing'],
  periods_title: ['期间密钥（按月份与保留组）', 'Period keys (by month and retention group)'],
  month: ['月份', 'Month'],
  group: ['保留组', 'Retention group'],
  protects_conv: ['保护的会话数据密钥', 'Conversation data keys protected'],
  legacy: ['仅由KEK封装：{n}', 'Under the KEK alone: {n}'],
  legacy_hint: ['部分旧的会话数据密钥仅由KEK封装：运行 mixun keys rotate 后将以期间密钥封装。', 'Conversation keys from before period keys are under the KEK alone: mixun keys rotate wraps them under their period keys.'],
  p_present: ['在用', 'In use'],
  p_destroyed: ['已销毁', 'Destroyed'],
  p_missing: ['缺失', 'Missing'],
  stray: ['警告：存在不应有的期间密钥文件 {label}（期间密钥由HSM保存，此文件不会被使用，请核查来源）', 'Warning: a period key file {label} that the HSM mode never uses: check who put it there'],
  no_periods: ['暂无期间密钥', 'No period keys yet'],
  commands_title: ['如何操作', 'How to act'],
  cmd_rotate: ['轮换密钥加密密钥：在服务器上运行 mixun keys rotate（可中断，再次运行即继续）', 'Rotate the key-encryption key: run mixun keys rotate on the server (interruptible; run it again to finish)'],
  cmd_destroy: ['销毁不再保护任何数据的已退役版本：mixun keys destroy <版本>（版本 1 即 master.key 除外）', 'Destroy a retired version that protects nothing: mixun keys destroy <version> (except version 1, master.key)'],
  cmd_periods: ['期间密钥：每次保留期清理后自动销毁已无内容的月份；托管导出：mixun keys export-periods --out 文件', 'Period keys: each retention run destroys the months with nothing left; escrow: mixun keys export-periods --out FILE'],
  cmd_status: ['命令行查看同一状态：mixun keys status', 'The same status on the command line: mixun keys status'],
  g_legacy: ['按月（分组前）', 'Month-wide (before groups)'],
  g_default: ['默认', 'Default'],
  g_direct: ['单聊', 'Direct chats'],
  g_group: ['群聊', 'Group chats'],
  g_unit: ['单位 {x}', 'Unit {x}'],
  g_hold: ['保全 会话 {x}', 'Hold: conversation {x}'],
  kind_message_texts: ['消息文本（按会话和月份）', 'Message texts (per conversation and month)'],
  kind_attachments: ['文件与图片', 'Files and images'],
  kind_totp_secrets: ['两步验证密钥', 'Two-factor secrets'],
  kind_dlp_originals: ['脱敏前原文', 'DLP originals'],
};

export function kw(key: string, params?: Record<string, string | number>): string {
  const pair = WORDS[key];
  let s = pair ? pair[locale === 'en' ? 1 : 0] : key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function hasKw(key: string): boolean { return key in WORDS; }
