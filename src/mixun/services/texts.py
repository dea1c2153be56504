"""Sealing message text at rest: the data key of a conversation's calendar month (docs/keys.md).

Every writer of message text (sends, edits, versions, event payloads that carry a message, drafts) seals
through here; readers need nothing (the columns open what they read, db/sealed.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


# Scopes of data keys that belong to no conversation (never crypto-shredded: ``keys.shred_spent`` only
# destroys ``c:`` scopes). One key per month each, in the same key ring, so rotation rewraps them and
# ``mixun keys status`` counts them with the message-text keys.
DLP_SCOPE = "dlp"  # DLP hits with no conversation (a file checked for an announcement or a personal drive)
NOTIFY_SCOPE = "notify"  # notification texts in the outbox and the dead-letter list


def seal_scoped(rt: Runtime, scope_name: str, at: datetime, text: str) -> str:
    """``text`` sealed under the data key of a scope that is not a conversation, for the month of ``at``."""
    return rt.keys.data_keys.seal(scope_name, period_of(at), text)


def seal_findings(rt: Runtime, conversation_id: int, at: datetime, findings: list[dict[str, Any]] | None) -> str | None:
    """A message's DLP findings (detectors and masked excerpts) sealed like its text, for
    ``messages.dlp_findings`` (a JSON string the column opens on read); None when there are none."""
    if not findings:
        return None
    return seal(rt, conversation_id, at, json.dumps(findings, ensure_ascii=False))
