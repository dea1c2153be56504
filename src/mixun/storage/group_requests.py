"""Requests for a group with other units, waiting for (or decided by) the requester's unit head."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import GroupRequest
from mixun.errors import MixunError


def find_request(s: Session, request_id: int) -> GroupRequest | None:
    return s.get(GroupRequest, request_id)


def get_request(s: Session, request_id: int, *, lock: bool = False) -> GroupRequest:
    req = s.get(GroupRequest, request_id, with_for_update=lock)
    if req is None:
        raise MixunError("not_found")
    return req


def list_by_requester(s: Session, requester_id: int, limit: int) -> list[GroupRequest]:
    """``requester_id``'s requests, newest first."""
    return list(s.execute(select(GroupRequest).where(GroupRequest.requester_id == requester_id)
                          .order_by(GroupRequest.id.desc()).limit(limit)).scalars())


def list_pending(s: Session) -> list[GroupRequest]:
    """Every pending request, oldest first."""
    return list(s.execute(select(GroupRequest).where(GroupRequest.status == "pending")
                          .order_by(GroupRequest.id)).scalars())
