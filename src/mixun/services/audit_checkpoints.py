"""Signed checkpoints of the audit chain and the full verification behind `mixun audit verify`.

The hash chain alone cannot show that records were cut off the end, nor that someone re-hashed the
whole chain. So every committed audit record moves a signed "head" (id, hash) kept in a file in the
data dir's keys/ folder, signed with an HMAC key that lives there too, apart from the database; and
retention, before trimming the oldest records, stores a signed anchor so verification can start from it.

Since migration 0008 every record also carries a MAC under a second key of the key store
(keys/audit-record.key, which also says from which record on records are authenticated), so someone
with database access alone cannot append a record. And every signed head can be written a second time
where the server cannot rewrite it: MIXUN_AUDIT_HEAD_MIRROR (a directory where each head becomes a new
read-only file, opened O_EXCL: point it at a WORM mount or a directory the auditor owns) and, with
MIXUN_AUDIT_HEAD_SYSLOG=1, syslog. `verify` checks the trail against the newest mirrored head, so
putting back an older head file, or deleting it, no longer hides a cut-off tail. docs/evidence.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
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
RECORD_KEY_NAME = "audit-record.key"
HEAD_NAME = "audit-head.json"
MIRROR_SETTING = "MIXUN_AUDIT_HEAD_MIRROR"
SYSLOG_SETTING = "MIXUN_AUDIT_HEAD_SYSLOG"
_lock = threading.Lock()
_written: dict[str, int] = {}  # head file path -> highest audit id this process wrote
_record_keys: dict[str, tuple[bytes, int]] = {}  # record key path -> (key, first authenticated id)
log = logging.getLogger("mixun.audit")


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


def _record_key_path(settings: Settings) -> Path:
    return _keys_dir(settings) / RECORD_KEY_NAME


def read_record_key(settings: Settings) -> tuple[bytes, int] | None:
    """(key, id of the first authenticated record), or None before any record was authenticated."""
    path = _record_key_path(settings)
    got = _record_keys.get(str(path))
    if got is not None:
        return got
    try:
        body = json.loads(path.read_text())
        got = (bytes.fromhex(body["key"]), int(body["from_id"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    _record_keys[str(path)] = got
    return got


def record_key(settings: Settings, next_id: int) -> tuple[bytes, int]:
    """The record-MAC key, created on first use (mode 0600) saying that records from ``next_id`` on are
    authenticated: the records before it were written before this change and stay as they were."""
    got = read_record_key(settings)
    if got is not None:
        return got
    path = _record_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{RECORD_KEY_NAME}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps({"key": secrets.token_bytes(32).hex(), "from_id": next_id}))
    try:
        os.link(tmp, path)  # atomic and exclusive: another process that got there first wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    got = read_record_key(settings)
    assert got is not None
    return got


def mark_authenticated_from(settings: Settings) -> None:
    """At start-up (`mixun init`, `mixun serve`, after the migrations): create the record key naming the
    next record as the first that must carry a MAC, so no unauthenticated record can be slipped in
    between the upgrade and the first event written by this version."""
    if read_record_key(settings) is not None:
        return
    from sqlalchemy import create_engine

    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as c:
            last = c.execute(select(func.max(AuditLog.id))).scalar() or 0
    finally:
        engine.dispose()
    record_key(settings, int(last) + 1)


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
    _mirror(settings, body)


def mirror_dir(settings: Settings) -> Path | None:
    value = settings.extra.get(MIRROR_SETTING, "").strip()
    return Path(value) if value else None


def _mirror(settings: Settings, body: dict[str, Any]) -> None:
    """(Both locks held, after the head file moved.) Append the head where the server cannot rewrite it.
    A failure is logged, never raised: the record is committed already and the head file moved."""
    d = mirror_dir(settings)
    if d is not None:
        try:
            fd = os.open(d / f"{int(body['audit_id']):016d}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(body))
        except FileExistsError:
            pass  # written once already; never replaced
        except OSError as exc:
            log.error("audit head mirror %s not written: %s", d, exc)
    if settings.extra.get(SYSLOG_SETTING, "").strip().lower() in ("1", "true", "yes"):
        import syslog

        syslog.openlog("mixun-audit", syslog.LOG_PID, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_NOTICE, "audit head id={audit_id} hash={hash} at={at} signature={signature}"
                      .format(**body))


def newest_mirrored_head(settings: Settings) -> dict[str, Any] | None:
    """The mirrored head with the highest record id (None when no mirror is set or it is empty)."""
    d = mirror_dir(settings)
    if d is None:
        return None
    best = -1
    try:
        with os.scandir(d) as it:
            for entry in it:
                stem, dot, ext = entry.name.partition(".")
                if dot and ext == "json" and stem.isdigit():
                    best = max(best, int(stem))
    except FileNotFoundError:
        return None
    if best < 0:
        return None
    try:
        return dict(json.loads((d / f"{best:016d}.json").read_text()))
    except (OSError, ValueError):
        return {"audit_id": best, "hash": "", "at": "", "signature": ""}


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
    mirror_id: int | None = None  # the newest mirrored head the trail was checked against
    authenticated_from: int | None = None  # records from this id on carry a MAC


def _read_heads(settings: Settings) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(head file, newest mirrored head), read together under the lock the writers take, so a head
    moving meanwhile cannot make them disagree."""
    lock_path = _keys_dir(settings) / f".{HEAD_NAME}.lock"
    if not lock_path.parent.exists():
        return None, newest_mirrored_head(settings)
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_SH)
        return read_head(settings), newest_mirrored_head(settings)


def verify(ctx: Ctx, batch: int = 5000) -> VerifyReport:
    """Walk the whole trail from its anchor (each record's link, hash and MAC), then check it still
    reaches the signed head and the newest mirrored head."""
    settings = ctx.rt.settings
    key = signing_key(settings)
    # The heads first: a record committed while the trail is read only moves them past what was read.
    head, mirrored = _read_heads(settings)
    rkey = read_record_key(settings)
    mac_key, mac_from = rkey if rkey else (None, None)
    fields = [AuditLog.id, AuditLog.at, AuditLog.actor_id, AuditLog.actor_role, AuditLog.ip, AuditLog.client,
              AuditLog.action, AuditLog.target, AuditLog.outcome, AuditLog.details, AuditLog.prev_hash,
              AuditLog.hash, AuditLog.mac]
    with ctx.rt.db.read() as s:
        checkpoints = list(s.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.audit_id)).scalars())
        for cp in checkpoints:
            if not _valid(key, cp.audit_id, cp.hash, cp.at, cp.signature):
                return VerifyReport(False, 0, None, GENESIS, cp.audit_id,
                                    f"checkpoint for record {cp.audit_id} has a bad signature (forged)")
        if mac_from is None:
            # No record key: either nothing was authenticated yet, or the key was taken away.
            first_mac = s.execute(select(func.min(AuditLog.id)).where(AuditLog.mac.is_not(None))).scalar()
            if first_mac is not None:
                return VerifyReport(False, 0, None, GENESIS, first_mac,
                                    f"the audit record key keys/{RECORD_KEY_NAME} is missing, so record "
                                    f"{first_mac} and those after it cannot be authenticated")
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
            report: ChainReport = verify_chain(rows, prev_hash, prev_id, mac_key, mac_from)
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

        def broken(bad: int | None, reason: str) -> VerifyReport:
            return VerifyReport(False, total, prev_id, prev_hash, bad, reason, anchored)

        def check_reaches(h: dict[str, Any], what: str) -> VerifyReport | None:
            hid, hhash = int(h["audit_id"]), str(h["hash"])
            if not _valid(key, hid, hhash, str(h.get("at", "")), str(h.get("signature", ""))):
                return broken(hid, f"the {what} has a bad signature")
            if prev_id is None or prev_id < hid:
                return broken((prev_id or 0) + 1, f"records were removed from the end: the {what} reaches "
                                                  f"record {hid} but the trail ends at {prev_id or 0}")
            at_head = s.execute(select(AuditLog.hash).where(AuditLog.id == hid)).scalar()
            if at_head != hhash:
                return broken(hid, f"record does not match the {what} (chain rewritten)")
            return None

        if mirrored is not None:
            problem = check_reaches(mirrored, f"mirrored signed head ({MIRROR_SETTING})")
            if problem:
                return problem
            mid = int(mirrored["audit_id"])
            if head is None:
                return broken(mid, f"the signed head keys/{HEAD_NAME} was deleted (the mirror holds a head "
                                   f"for record {mid})")
            if int(head["audit_id"]) < mid:
                return broken(mid, f"the signed head keys/{HEAD_NAME} was put back: it reaches record "
                                   f"{head['audit_id']} but the mirror holds a head for record {mid}")
        if head is None:
            if mac_from is not None and prev_id is not None and prev_id >= mac_from:
                return broken(prev_id, f"the signed head keys/{HEAD_NAME} was deleted (authenticated records "
                                       "exist, and every one of them moves it)")
            return VerifyReport(True, total, prev_id, prev_hash, anchored_at=anchored, authenticated_from=mac_from)
        problem = check_reaches(head, "signed head checkpoint")
        if problem:
            return problem
    return VerifyReport(True, total, prev_id, prev_hash, anchored_at=anchored, head_checked=True,
                        mirror_id=int(mirrored["audit_id"]) if mirrored else None, authenticated_from=mac_from)
