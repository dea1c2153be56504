"""The types of the events a person's stream carries (the ``type`` of a WebSocket frame).

The values are the wire's: clients switch on them (INTERFACE.md names ``message.created``); a new
event type is added here, and its frame to mixun/api/models.py (``Frame``).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_RECALLED = "message.recalled"
    MESSAGE_REACTIONS = "message.reactions"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_MEMBER_ADDED = "conversation.member_added"
    CONVERSATION_MEMBER_REMOVED = "conversation.member_removed"
    CONVERSATION_DISSOLVED = "conversation.dissolved"
    CONVERSATION_PREFS = "conversation.prefs"
    CONVERSATION_READ = "conversation.read"
    ATTACHMENT_SCANNED = "attachment.scanned"
    PRESENCE_CHANGED = "presence.changed"
    SECURITY_LOGIN_FLAGGED = "security.login_flagged"
    DLP_VIOLATION_NOTICE = "dlp.violation_notice"
    ANNOUNCEMENT_PUBLISHED = "announcement.published"
    ANNOUNCEMENT_REMINDER = "announcement.reminder"
    APPLICATION_CHANGED = "application.changed"
    GROUP_REQUEST_CHANGED = "group_request.changed"
    DRIVE_SPACE_CHANGED = "drive.space_changed"
    DRIVE_UNUSED = "drive.unused"
    DRIVE_REMOVED = "drive.removed"
    DRIVE_HANDED_OVER = "drive.handed_over"
