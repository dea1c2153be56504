"""Sealing message text at rest: the data key of a conversation's calendar month (docs/keys.md).

Every writer of message text (sends, edits, versions, event payloads that carry a message, drafts) seals
through here; readers need nothing (the columns open what they read, db/sealed.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mixun.keystore import period_of
from mixun.services.runtime import Runtime


def scope(conversation_id: int) -> str:
    return f"c:{conversation_id}"


def seal(rt: Runtime, conversation_id: int, at: datetime, text: str) -> str:
    return rt.keys.data_keys.seal(scope(conversation_id), period_of(at), text)


def seal_many(rt: Runtime, items: Sequence[tuple[int, datetime, str]]) -> list[str]:
    """Sealed texts of (conversation id, time, text) items, in order: one look-up in the key ring for the
    keys this process has not used yet, none otherwise."""
    return rt.keys.data_keys.seal_many([(scope(cid), period_of(at), text) for cid, at, text in items])
