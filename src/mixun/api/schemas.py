"""Request bodies. Strict types: a number where text belongs is a 422, not a guess."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mixun.api.deps import MAX_ID, DbId
from mixun.domain.roles import Role
from mixun.services.message_actions import REACTIONS
from mixun.services.users import WORK_STATUSES

# Allowed values the services check, written into the schema (the OpenAPI document states them).
ROLE_ITEMS: dict[str, Any] = {"items": {"type": "string", "enum": [r.value for r in Role]}}


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class LoginIn(_In):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    otp: str | None = Field(default=None, max_length=64)


class PasswordChangeIn(_In):
    old_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class PasswordIn(_In):
    password: str = Field(max_length=1000)


class OtpIn(_In):
    otp: str = Field(max_length=64)


class StatusIn(_In):
    model_config = ConfigDict(strict=True, extra="allow")  # other fields named in a 422 (PATCH /me)
    status: str = Field(max_length=16, json_schema_extra={"enum": list(WORK_STATUSES)})


class ConversationCreate(_In):
    kind: str = Field(max_length=16, json_schema_extra={"enum": ["direct", "group"]})
    members: list[DbId] = Field(max_length=2000)
    name: str | None = Field(default=None, max_length=200)


class ConversationUpdate(_In):
    name: str = Field(max_length=200)


class MembersIn(_In):
    user_ids: list[DbId] = Field(min_length=1, max_length=2000)


class UserIdIn(_In):
    user_id: DbId


class AdminIn(_In):
    user_id: DbId
    admin: bool


class MessageCreate(_In):
    text: str
    client_id: str | None = Field(default=None, max_length=64)
    urgent: bool = False
    confirm: bool = False
    reply_to: DbId | None = None


class MessageUpdate(_In):
    text: str
    confirm: bool = False


class ReadIn(_In):
    seq: int = Field(ge=0, le=MAX_ID)


class AdminUserCreate(_In):
    username: str = Field(max_length=64)
    name: str = Field(max_length=100)
    unit_path: str = Field(max_length=500)
    password: str = Field(max_length=1000)
    phone: str | None = Field(default=None, max_length=32)
    position: str = Field(default="", max_length=100)
    employee_no: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=lambda: ["employee"], max_length=10, json_schema_extra=ROLE_ITEMS)


class AdminUserUpdate(_In):
    # Unknown fields kept, so the route names them in a 422 (a real name is HR's to change, issue 21).
    model_config = ConfigDict(strict=True, extra="allow")
    disabled: bool | None = None
    roles: list[str] | None = Field(default=None, max_length=10, json_schema_extra=ROLE_ITEMS)
    unit_id: DbId | None = None
    position: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class UnitCreate(_In):
    name: str = Field(max_length=100)
    parent_id: DbId | None = None


# ---- groups: group life and message actions ---------------------------------------------------------

class NoticeIn(_In):
    text: str = Field(max_length=2000)


class NoticeSeenIn(_In):
    version: int = Field(ge=0, le=2**31 - 1)


class PrefsIn(_In):
    pinned: bool | None = None
    muted: bool | None = None


class GroupSettingsIn(_In):
    all_may_mention_all: bool


class ForwardIn(_In):
    message_ids: list[DbId] = Field(min_length=1, max_length=100)
    conversation_id: DbId
    merged: bool = False
    confirm: bool = False


class ReactionIn(_In):
    emoji: str = Field(min_length=1, max_length=16, json_schema_extra={"enum": list(REACTIONS)})
    on: bool = True
