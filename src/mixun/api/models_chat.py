"""Response models of the rest of routes/conversations.py: read receipts, a group's system lines and
prefs, forwards, merged forwards opened, reactions (ADR 0018: open TypedDicts, closed in the document;
each names its builder and follows its field order)."""

from __future__ import annotations

from typing import NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT, Message, Person, Reaction, SystemLine


@with_config(OUT)
class ReceiptRead(TypedDict):
    user_id: int
    name: str
    read_at: str | None


@with_config(OUT)
class ReceiptUnread(TypedDict):
    user_id: int
    name: str


@with_config(OUT)
class UrgentPhone(TypedDict):
    """An urgent message's recipient with the phone to call (null: none on file)."""

    user_id: int
    name: str
    phone: str | None
    read: bool


@with_config(OUT)
class Receipts(TypedDict):
    """``services.messages.receipts``: who has read a message; an urgent one adds everyone's phone."""

    message_id: int
    read: list[ReceiptRead]
    unread: list[ReceiptUnread]
    urgent_phones: NotRequired[list[UrgentPhone]]


@with_config(OUT)
class SystemLines(TypedDict):
    """``services.group_life.system_log``: the group's system lines since the caller joined, oldest first."""

    system: list[SystemLine]


@with_config(OUT)
class ConversationPrefs(TypedDict):
    """``services.group_life._prefs_changed``: the caller's own 置顶 / 消息免打扰 and whether the notice is unread."""

    conversation_id: int
    pinned: bool
    muted: bool
    notice_unread: bool


@with_config(OUT)
class Forwarded(TypedDict):
    """``services.message_actions.forward``: the messages sent (one, with ``bundle_title``, when merged)."""

    messages: list[Message]


@with_config(OUT)
class BundleItem(TypedDict):
    """One forwarded message in a merged forward (``items``: a merged forward inside it, else null)."""

    sender: Person
    kind: str
    text: str
    created_at: str
    items: list[BundleItem] | None


@with_config(OUT)
class Bundle(TypedDict):
    """``services.message_actions.bundle``: a merged forward opened."""

    message_id: int
    title: str
    items: list[BundleItem]


@with_config(OUT)
class Reactions(TypedDict):
    """``services.message_actions.react``: the message's reactions after the change."""

    message_id: int
    reactions: list[Reaction]


@with_config(OUT)
class SecurePackMessage(Message):
    """``services.attachments.send_secure_pack``: the pack's message, with the sender told to give the
    password by phone (``instruction``; never in the message itself)."""

    instruction: str
