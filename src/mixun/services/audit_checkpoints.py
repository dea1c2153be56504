"""Signed checkpoints of the audit chain and the full verification behind `mixun audit verify`.

The hash chain alone cannot show that records were cut off the end, nor that someone re-hashed the
whole chain. So every committed audit record moves a signed "head" (id, hash) kept in a file in the
data dir's keys/ folder, signed with an HMAC key that lives there too, apart from the database; and
retention, before trimming the oldest records, stores a signed anchor so verification can start from it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.config import Settings
from mixun.db.models import AuditLog
from mixun.db.models_archive import AuditCheckpoint
from mixun.domain.audit_chain import GENESIS, ChainReport, verify_chain
from mixun.services.runtime import Ctx

KEY_NAME = "audit-checkpoint.key"
HEAD_NAME = "audit-head.json"
_lock = threading.Lock()
_written: dict[str, int] = {}  # head file path -> highest audit id this process wrote


def _keys_dir(settings: Settings) -> Path:
    return settings.key_file.parent


def signing_key(settings: Settings) -> bytes:
    """The HMAC key (created on first use, mode 0600) beside master.key."""
    path = _keys_dir(settings) / KEY_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        except FileExistsError:
            pass
    return path.read_bytes()


def sign(key: bytes, audit_id: int, hash_: str, at: str) -> str:
    msg = f"mixun-audit-checkpoint|{audit_id}|{hash_}|{at}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _valid(key: bytes, audit_id: int, hash_: str, at: str, signature: str) -> bool:
    return hmac.compare_digest(sign(key, audit_id, hash_, at), signature)


def note_head(settings: Settings, audit_id: int, hash_: str) -> None:
    """Move the signed head forward (called after each audit commit; never moves it back)."""
    path = _keys_dir(settings) / HEAD_NAME
    with _lock:
        if _written.get(str(path), 0) >= audit_id:
            return
        # Other processes move it too (the writer process, --workers N): read, compare and replace
        # under a lock they all take, or a slower one could put an older head back.
        with open(path.with_name(f".{HEAD_NAME}.lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            _move_head(settings, path, audit_id, hash_)


def _move_head(settings: Settings, path: Path, audit_id: int, hash_: str) -> None:
    """(Both locks held.) Write the new head unless the file already holds a later one."""
    current = read_head(settings)
    if current and int(current.get("audit_id", 0)) >= audit_id:
        _written[str(path)] = int(current["audit_id"])
        return
    at = datetime.now(UTC).isoformat()
    body = {"audit_id": audit_id, "hash": hash_, "at": at,
            "signature": sign(signing_key(settings), audit_id, hash_, at)}
    tmp = path.with_name(f".{HEAD_NAME}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)
    _written[str(path)] = audit_id


def read_head(settings: Settings) -> dict[str, Any] | None:
    path = _keys_dir(settings) / HEAD_NAME
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return None


def add_checkpoint(session: Session, settings: Settings, audit_id: int, hash_: str, reason: str) -> None:
    """Store a signed anchor (id, hash) in the database, e.g. before retention trims the trail."""
    at = datetime.now(UTC).isoformat()
    session.add(AuditCheckpoint(audit_id=audit_id, hash=hash_, at=at, reason=reason,
                                signature=sign(signing_key(settings), audit_id, hash_, at)))
    session.flush()


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int
    last_id: int | None
    last_hash: str
    first_bad_id: int | None = None
    reason: str = ""
    anchored_at: int = 0
    head_checked: bool = False


def verify(ctx: Ctx, batch: int = 5000) -> VerifyReport:
    """Walk the whole trail from its anchor, then check it still reaches the signed head."""
    settings = ctx.rt.settings
    key = signing_key(settings)
    fields = [AuditLog.id, AuditLog.at, AuditLog.actor_id, AuditLog.actor_role, AuditLog.ip, AuditLog.client,
              AuditLog.action, AuditLog.target, AuditLog.outcome, AuditLog.details, AuditLog.prev_hash,
              AuditLog.hash]
    with ctx.rt.db.read() as s:
        checkpoints = list(s.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.audit_id)).scalars())
        for cp in checkpoints:
            if not _valid(key, cp.audit_id, cp.hash, cp.at, cp.signature):
                return VerifyReport(False, 0, None, GENESIS, cp.audit_id,
                                    f"checkpoint for record {cp.audit_id} has a bad signature (forged)")
        by_id = {cp.audit_id: cp.hash for cp in checkpoints}
        first = s.execute(select(func.min(AuditLog.id))).scalar()
        prev_hash, prev_id, anchored = GENESIS, None, 0
        if first is not None and first != 1:
            first_prev = s.execute(select(AuditLog.prev_hash).where(AuditLog.id == first)).scalar_one()
            if by_id.get(first - 1) != first_prev:
                return VerifyReport(False, 0, None, GENESIS, first,
                                    "the first records were removed (no signed checkpoint anchors record "
                                    f"{first})")
            prev_hash, prev_id, anchored = first_prev, first - 1, first - 1
        total = 0
        while True:
            stmt = select(*fields).order_by(AuditLog.id).limit(batch)
            if prev_id is not None:
                stmt = stmt.where(AuditLog.id > prev_id)
            rows = [dict(r._mapping) for r in s.execute(stmt).all()]
            if not rows:
                break
            report: ChainReport = verify_chain(rows, prev_hash, prev_id)
            total += report.count
            if not report.ok:
                return VerifyReport(False, total, report.last_id, report.last_hash, report.first_bad_id,
                                    report.reason, anchored)
            for r in rows:
                expected = by_id.get(r["id"])
                if expected is not None and expected != r["hash"]:
                    return VerifyReport(False, total, None, r["hash"], r["id"],
                                        "record does not match its signed checkpoint (chain rewritten)", anchored)
            prev_hash, prev_id = report.last_hash, report.last_id
    head = read_head(settings)
    if head is None:
        return VerifyReport(True, total, prev_id, prev_hash, anchored_at=anchored)
    hid, hhash = int(head["audit_id"]), str(head["hash"])
    if not _valid(key, hid, hhash, str(head["at"]), str(head.get("signature", ""))):
        return VerifyReport(False, total, prev_id, prev_hash, hid, "the signed head checkpoint has a bad signature",
                            anchored)
    if prev_id is None or prev_id < hid:
        return VerifyReport(False, total, prev_id, prev_hash, (prev_id or 0) + 1,
                            f"records were removed from the end: the signed checkpoint reaches record {hid} "
                            f"but the trail ends at {prev_id or 0}", anchored)
    with ctx.rt.db.read() as s:
        at_head = s.execute(select(AuditLog.hash).where(AuditLog.id == hid)).scalar()
    if at_head != hhash:
        return VerifyReport(False, total, prev_id, prev_hash, hid,
                            "record does not match the signed head checkpoint (chain rewritten)", anchored)
    return VerifyReport(True, total, prev_id, prev_hash, anchored_at=anchored, head_checked=True)
