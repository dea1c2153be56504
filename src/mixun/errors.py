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
}


class MixunError(Exception):
    """An expected failure with a registered code; never carries a stack trace to clients."""

    def __init__(self, code: str, message: str | tuple[str, str] | None = None, **details: Any) -> None:
        """``message`` overrides the registered text: one string, or (zh-CN, English)."""
        if code not in ERRORS:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(code)
        self.code = code
        self.custom_message = message
        self.details = details

    @property
    def status(self) -> int:
        return ERRORS[self.code][0]

    def message_for(self, locale: str) -> str:
        if isinstance(self.custom_message, tuple):
            zh_text, en_text = self.custom_message
            return en_text if locale.startswith("en") else zh_text
        if self.custom_message:
            return self.custom_message
        zh, en = ERRORS[self.code][1], ERRORS[self.code][2]
        return en if locale.startswith("en") else zh


def error_body(code: str, locale: str = "zh-CN", message: str | None = None, **details: Any) -> dict[str, Any]:
    err = MixunError(code, message, **details)
    return {"error": {"code": code, "message": err.message_for(locale), **details}}
