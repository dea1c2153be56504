"""Sealing message text at rest: the data key of a conversation's calendar month (docs/keys.md).

Every writer of message text (sends, edits, versions, event payloads that carry a message, drafts) seals
through here; readers need nothing (the columns open what they read, db/sealed.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.engine import Database
from mixun.db.models import Message
from mixun.db.sealed import PREFIX, open_text
from mixun.errors import MixunError
from mixun.keystore import PeriodKeyGone, period_of
from mixun.services.runtime import Runtime


def scope(conversation_id: int) -> str:
    return f"c:{conversation_id}"


def seal(rt: Runtime, conversation_id: int, at: datetime, text: str) -> str:
    return seal_many(rt, [(conversation_id, at, text)])[0]


def seal_many(rt: Runtime, items: Sequence[tuple[int, datetime, str]]) -> list[str]:
    """Sealed texts of (conversation id, time, text) items, in order: one look-up in the key ring for the
    keys this process has not used yet, none otherwise. A conversation-month whose data key is in the ring
    but whose period key is not (a backup restored without the period keys' escrow, ADR 0020) is a
    registered error, not a crash."""
    try:
        return rt.keys.data_keys.seal_many([(scope(cid), period_of(at), text) for cid, at, text in items],
                                           group_of=key_groups(rt))
    except PeriodKeyGone as exc:
        raise MixunError("period_key_missing") from exc


def key_groups(rt: Runtime) -> Callable[[list[int]], dict[int, str]]:
    """What names the retention group of conversations whose data key the ring makes now (ADR 0020,
    "Groups"): asked only when a (conversation, month) key is new."""

    def group_of(conversation_ids: list[int]) -> dict[int, str]:
        from mixun.services.retention_groups import key_groups as groups

        current = rt.db.current_write() if isinstance(rt.db, Database) else None
        if current is not None:  # sealing inside a write: see the conversation it may just have created
            with current.no_autoflush:
                return groups(current, conversation_ids)
        with rt.db.read() as s:
            return groups(s, conversation_ids)

    return group_of


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


def conversation_of_target(s: Session, target: str) -> int | None:
    """The conversation an audit or DLP target names: ``conversation:N``, or ``message:N`` (an edit)
    through its message; None for targets outside conversations (``drive:N``, ``announcement``)."""
    kind, _, ref = target.partition(":")
    if not ref.isdigit():
        return None
    if kind == "conversation":
        return int(ref)
    if kind == "message":
        cid = s.execute(select(Message.conversation_id).where(Message.id == int(ref))).scalar()
        return int(cid) if cid is not None else None
    return None


def seal_excerpts(rt: Runtime, s: Session, target: str, at: datetime, excerpts: list[str]) -> list[str]:
    """DLP's masked excerpts found on ``target``, sealed at rest (docs/keys.md): under the data key of the
    target's conversation and month, so crypto-shredding reaches them with the messages; outside any
    conversation under the ``dlp`` scope's key of the month (never shredded)."""
    cid = conversation_of_target(s, target)
    if cid is not None:
        return seal_many(rt, [(cid, at, e) for e in excerpts])
    return [seal_scoped(rt, DLP_SCOPE, at, e) for e in excerpts]


def sealed_findings(rt: Runtime, s: Session, target: str, at: datetime, findings: Any) -> Any:
    """A list of DLP findings (dicts with a ``masked`` excerpt) with each excerpt sealed, for the audit
    trail's details; anything else unchanged."""
    if not isinstance(findings, list) or not any(isinstance(f, dict) and f.get("masked") for f in findings):
        return findings
    wanted = [i for i, f in enumerate(findings) if isinstance(f, dict) and isinstance(f.get("masked"), str)
              and f["masked"] and not f["masked"].startswith(PREFIX)]
    sealed = seal_excerpts(rt, s, target, at, [findings[i]["masked"] for i in wanted])
    out = list(findings)
    for i, value in zip(wanted, sealed, strict=True):
        out[i] = dict(findings[i], masked=value)
    return out


def opened(value: Any) -> Any:
    """``value`` (audit details, say) with every sealed string in it opened, for showing."""
    if isinstance(value, str):
        return open_text(value) if value.startswith(PREFIX) else value
    if isinstance(value, list):
        return [opened(v) for v in value]
    if isinstance(value, dict):
        return {k: opened(v) for k, v in value.items()}
    return value
