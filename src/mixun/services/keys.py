"""Key-encryption keys: what each version protects, rotation online, destruction of retired versions.

Rotation makes a new KEK and moves the pointer to it first (every process wraps new data keys with it
from then on), then rewraps every stored data key in batches of one transaction each. What a data key
protects (a file's bytes, a two-factor secret, a DLP original) is never re-encrypted: only its wrapping
changes. A batch that loses a race with a concurrent change leaves that row for the next pass; an
interrupted rotation leaves every row readable (under the old or the new version) and a second
`mixun keys rotate` finishes the work under a newer version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Text, and_, delete, func, or_, select, text, tuple_, update
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import InstrumentedAttribute, Session

from mixun.db.models import (
    Attachment,
    AuditLog,
    Bundle,
    Conversation,
    EventPayload,
    Message,
    MessageVersion,
    User,
)
from mixun.db.models_archive import RekeyPermit
from mixun.db.models_dlp import DlpHit
from mixun.db.models_web import Draft
from mixun.db.sealed import PREFIX
from mixun.domain.audit_actions import AuditAction
from mixun.domain.retention import group_label
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.keystore import CIPHER_NAMES, KeyStore, period_label, period_of
from mixun.services import access, audit, events, period_escrow, texts
from mixun.services.backup_crypto import BackupKey
from mixun.services.runtime import Ctx, Runtime

BATCH = 500


@dataclass(frozen=True)
class Target:
    """A column holding wrapped data keys: ``wrapped`` a bare wrapped key, ``small`` an encrypt_small blob."""

    name: str
    label: str
    pk: InstrumentedAttribute[Any]
    column: InstrumentedAttribute[Any]
    form: str
    archive: bool = False


TARGETS: tuple[Target, ...] = (
    Target("attachments", "文件与图片 files and images", Attachment.id, Attachment.data_key_wrapped, "wrapped"),
    Target("totp_secrets", "两步验证密钥 two-factor secrets", User.id, User.totp_secret_enc, "small"),
    Target("dlp_originals", "脱敏前原文 DLP originals", MessageVersion.id, MessageVersion.original_enc, "small",
           archive=True),
)


TEXT_KEYS = "message_texts"
LABELS = {TEXT_KEYS: "消息文本（按会话和月份）message texts (per conversation and month)",
          **{t.name: t.label for t in TARGETS}}


def _version(keys: KeyStore, target: Target, value: bytes) -> int:
    return keys.wrapped_version(value) if target.form == "wrapped" else keys.small_version(value)


def _rewrap(keys: KeyStore, target: Target, value: bytes, version: int) -> bytes:
    return keys.rewrap(value, version) if target.form == "wrapped" else keys.rewrap_small(value, version)


def _rows(s: Session, target: Target, after: int, limit: int) -> list[tuple[int, bytes]]:
    rows = s.execute(select(target.pk, target.column).where(target.column.is_not(None), target.pk > after)
                     .order_by(target.pk).limit(limit)).all()
    return [(int(pk), bytes(value)) for pk, value in rows]


def status(rt: Runtime) -> dict[str, Any]:
    """Each KEK version: present, current, and how many data keys of each kind it wraps."""
    keys = rt.keys
    current = keys.current_version()
    counts: dict[int, dict[str, int]] = {}
    unreadable = 0
    with rt.db.read() as s:
        for target in TARGETS:
            after = 0
            while rows := _rows(s, target, after, 5000):
                for _pk, value in rows:
                    try:
                        v = _version(keys, target, value)
                    except ValueError:
                        unreadable += 1
                        continue
                    per = counts.setdefault(v, {})
                    per[target.name] = per.get(target.name, 0) + 1
                after = rows[-1][0]
    for v, n in keys.data_keys.versions().items():  # the data keys of message text (in the key ring)
        per = counts.setdefault(v, {})
        per[TEXT_KEYS] = per.get(TEXT_KEYS, 0) + n
    versions = sorted(set(keys.versions()) | set(counts))
    present = set(keys.versions())
    return {
        "current": current,
        "cipher": CIPHER_NAMES[keys.alg],
        "provider": "pkcs11" if keys.hsm is not None else "file",
        "versions": [{"version": v, "current": v == current, "present": v in present,
                      "where": "hsm" if keys.in_hsm(v) else "file",
                      "protects": {name: counts.get(v, {}).get(name, 0) for name in LABELS},
                      "total": sum(counts.get(v, {}).values())} for v in versions],
        "labels": dict(LABELS),
        "unreadable": unreadable,
        "periods": [dict(p, group_label=group_label(p["group_name"]) if p["group"] else group_label(""))
                    for p in keys.data_keys.period_status()],
        "period_keys_where": keys.data_keys.periods.where,
        # The host directory of this ring's period key files, and why it is the key directory instead
        # when the host's could not be used (then backups hold them: ADR 0020).
        "period_keys_dir": str(keys.data_keys.periods.dir),
        "period_keys_fallback": keys.data_keys.periods.fallback,
    }


# The console's key screen (issue 20): what `mixun keys status` prints, and the last key operations from
# the audit trail. Read-only: rotating and destroying keys stay CLI operations (long, with progress).
CONSOLE_EVENTS = {"rotated": AuditAction.KEYS_ROTATED,
                  "period_keys_destroyed": AuditAction.KEYS_PERIOD_KEYS_DESTROYED,
                  "period_keys_exported": AuditAction.KEYS_PERIOD_KEYS_EXPORTED}


def _last_event(s: Session, action: AuditAction) -> dict[str, Any] | None:
    """The latest record of ``action``: when, and the facts the screen shows (never who or where from)."""
    row = s.execute(select(AuditLog).where(AuditLog.action == action.value)
                    .order_by(AuditLog.id.desc()).limit(1)).scalars().first()
    if row is None:
        return None
    d = row.details if isinstance(row.details, dict) else {}

    def num(key: str) -> int | None:
        v = d.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    periods = d.get("periods")
    months = [str(p) for p in periods][:200] if isinstance(periods, list) else []
    version = int(row.target[4:]) if row.target.startswith("kek:") and row.target[4:].isdigit() else None
    return {"at": row.at, "version": version, "previous": num("previous"), "rewrapped": num("rewrapped"),
            "count": num("count") if num("count") is not None else (len(months) if periods is not None else None),
            "periods": months}


def console(ctx: Ctx) -> dict[str, Any]:
    """``status`` for the security administrator's and the auditor's console, with the last rotation,
    period-key destruction and escrow export from the audit trail."""
    access.require(ctx.principal, Perm.KEYS_STATUS)
    out = status(ctx.rt)
    with ctx.rt.db.read() as s:
        out["last"] = {name: _last_event(s, action) for name, action in CONSOLE_EVENTS.items()}
    return out


def _permit(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL mixun.rekey = 'on'"))
    else:
        s.add(RekeyPermit(id=1))
        s.flush()


def _close_permit(s: Session) -> None:
    if s.get_bind().dialect.name != "postgresql":
        s.execute(delete(RekeyPermit))


def _pending(rt: Runtime, version: int) -> int:
    n = 0
    with rt.db.read() as s:
        for target in TARGETS:
            after = 0
            while rows := _rows(s, target, after, 5000):
                n += sum(1 for _pk, value in rows if _version(rt.keys, target, value) != version)
                after = rows[-1][0]
    return n + rt.keys.data_keys.pending(version)


def rotate(ctx: Ctx, progress: Callable[[int, int], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """A new KEK, then every data key not under it rewrapped; returns versions and counts."""
    rt = ctx.rt
    keys = rt.keys
    before = keys.current_version()
    version = keys.create_kek()
    with rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_ROTATION_STARTED, target=f"kek:{version}", previous=before)
    total = _pending(rt, version)
    done = skipped = 0
    stopped = False
    if progress:
        progress(0, total)
    # The data keys of message text first (they live in the key ring, beside the KEKs).
    text_done, stopped = keys.data_keys.rewrap(
        version, BATCH, progress=(lambda n: progress(n, total)) if progress else None, should_stop=should_stop)
    done += text_done
    for target in TARGETS:
        after = 0
        while not stopped:
            with rt.db.read() as s:
                rows = _rows(s, target, after, BATCH)
            if not rows:
                break
            after = rows[-1][0]
            todo = [(pk, value) for pk, value in rows if _version(keys, target, value) != version]
            if not todo:
                continue
            with rt.db.write() as s:
                if target.archive:
                    _permit(s)
                for pk, old in todo:
                    res = s.execute(update(target.pk.class_).where(target.pk == pk, target.column == old)
                                    .values({target.column.key: _rewrap(keys, target, old, version)})
                                    .execution_options(synchronize_session=False))
                    if res.rowcount == 1:  # type: ignore[attr-defined]
                        done += 1
                    else:  # changed meanwhile (a re-enrolled secret): whatever is there now is newer
                        skipped += 1
                if target.archive:
                    _close_permit(s)
            if progress:
                progress(done + skipped, total)
            if should_stop and should_stop():
                stopped = True
    left = _pending(rt, version)
    result = {"version": version, "previous": before, "rewrapped": done, "changed_meanwhile": skipped,
              "left": left, "interrupted": stopped, "cipher": CIPHER_NAMES[keys.alg]}
    with rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_ROTATED if not stopped else AuditAction.KEYS_ROTATION_INTERRUPTED,
                     target=f"kek:{version}", previous=before, rewrapped=done, left=left)
    return result


def destroy(ctx: Ctx, version: int) -> dict[str, Any]:
    """Destroy a retired KEK that wraps nothing any more (refused for the current one and for version 1,
    which also keys the login-name hash)."""
    rt = ctx.rt
    if version == 1:
        raise MixunError("key_in_use", version=version, why="master")
    if version == rt.keys.current_version():
        raise MixunError("key_in_use", version=version, why="current")
    if version not in rt.keys.versions():
        raise MixunError("not_found")
    st = status(rt)
    row = next((v for v in st["versions"] if v["version"] == version), None)
    if row and row["total"]:
        raise MixunError("key_in_use", version=version, why="wraps", count=row["total"])
    rt.keys.destroy_kek(version)
    with rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_DESTROYED, target=f"kek:{version}")
    return {"version": version, "destroyed": True}



# ---- crypto-shredding --------------------------------------------------------------------------------

def _month(period: int) -> tuple[datetime, datetime]:
    y, m = divmod(period, 100)
    start = datetime(y, m, 1, tzinfo=UTC)
    return start, datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)


def shred_spent(ctx: Ctx, now: datetime | None = None, reason: str = "retention") -> dict[str, Any]:
    """Destroy the data key of every (conversation, month) that no stored message, version, draft or
    current group notice of that conversation and month needs any more (retention destroyed them, or they never outlived it):
    the copies of those texts in old backups become unreadable. Months that may still be written (the
    current one and the day before) are never touched. Audited with the conversations and months."""
    now = now or datetime.now(UTC)
    ring = ctx.rt.keys.data_keys
    open_from = period_of(now - timedelta(days=1))
    spent: list[tuple[str, int]] = []
    with ctx.rt.db.read() as s:
        for _kid, scope, period in ring.scopes():
            if period >= open_from or not scope.startswith("c:"):
                continue
            cid = int(scope[2:])
            start, end = _month(period)
            checks = (select(Message.id).where(Message.conversation_id == cid, Message.created_at >= start,
                                               Message.created_at < end),
                      select(MessageVersion.id).where(MessageVersion.conversation_id == cid,
                                                      MessageVersion.created_at >= start, MessageVersion.created_at < end),
                      select(Draft.user_id).where(Draft.conversation_id == cid, Draft.updated_at >= start,
                                                  Draft.updated_at < end),
                      select(Conversation.id).where(Conversation.id == cid, Conversation.notice != "",
                                                    Conversation.notice_at >= start, Conversation.notice_at < end))
            if all(s.execute(q.limit(1)).first() is None for q in checks):
                spent.append((scope, period))
    gone = ring.destroy(spent, reason)
    if gone:
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.KEYS_DATA_KEYS_DESTROYED, target="data_keys", count=len(gone), reason=reason,
                         periods=[f"{scope[2:]}:{period}" for scope, period in spent][:200])
    # A month none of whose conversations' keys is left: its period key goes too, and with it every
    # backup's copy of that month's ring entries (ADR 0020). Never the open months.
    months = [period_label(p, g) for g, p in ring.destroy_spent_periods(open_from, reason)]
    if months:
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.KEYS_PERIOD_KEYS_DESTROYED, target="period_keys", count=len(months),
                         reason=reason, periods=months, where=ring.periods.where)
    return {"destroyed": len(gone), "scopes": spent, "periods_destroyed": months}


# ---- the period keys' escrow (ADR 0020) ----------------------------------------------------------------

def export_periods(ctx: Ctx, out: Path, key: BackupKey, now: datetime | None = None) -> dict[str, Any]:
    """The escrow of the period keys (current and next month's made first), audited with the months."""
    now = now or datetime.now(UTC)
    this = period_of(now)
    nxt = period_of(_month(this)[1])

    def record(result: dict[str, Any]) -> None:  # before the escrow gets its name: never one unaudited
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.KEYS_PERIOD_KEYS_EXPORTED, target="period_keys",
                         periods=result["periods"], in_hsm=result["in_hsm"])

    return period_escrow.write(ctx.rt.keys, out, key, ahead=[this, nxt], inside=[ctx.rt.settings.data_dir],
                               record=record)


def import_periods(ctx: Ctx, path: Path, key_file: Path | None = None,
                   passphrase: str | None = None) -> dict[str, list[str]]:
    """Put an escrow's period keys back (a restore's disaster recovery), audited; destroyed months are
    not brought back."""
    escrow = period_escrow.read(path, key_file, passphrase)
    written: list[tuple[str, int]] = []
    try:
        result = period_escrow.load(ctx.rt.keys, escrow, written)
    except BaseException:
        if written:  # a write failed part way: what was written is audited all the same
            with ctx.rt.db.write() as s:
                audit.record(s, ctx, AuditAction.KEYS_PERIOD_KEYS_IMPORTED, target="period_keys",
                             loaded=[period_label(p, g) for g, p in written], failed=True)
        raise
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_PERIOD_KEYS_IMPORTED, target="period_keys", loaded=result["loaded"],
                     already_present=result["already_present"], destroyed_not_loaded=result["destroyed_not_loaded"])
    return result


# ---- sealing rows from before message-text encryption ------------------------------------------------

@dataclass(frozen=True)
class PlainTexts:
    """A column that may still hold plain text: its key, the conversation and time that choose the data
    key, and whether it is the append-only archive (then the rekey permit is needed)."""

    name: str
    table: Any
    keys: tuple[str, ...]
    column: str
    conversation: str | None
    at: str
    archive: bool = False


PLAIN: tuple[PlainTexts, ...] = (
    PlainTexts("messages", Message.__table__, ("id",), "text", "conversation_id", "created_at"),
    PlainTexts("message_versions", MessageVersion.__table__, ("id",), "text", "conversation_id", "created_at",
               archive=True),
    PlainTexts("drafts", Draft.__table__, ("user_id", "conversation_id"), "text", "conversation_id", "updated_at"),
    PlainTexts("event_payloads", EventPayload.__table__, ("id",), "body", None, "created_at"),
    PlainTexts("group_notices", Conversation.__table__, ("id",), "notice", "id", "notice_at"),
    PlainTexts("message_bundles", Bundle.__table__, ("message_id",), "items", None, ""),
    # DLP's masked excerpts: a message's findings, and each hit (its conversation is named by its target).
    PlainTexts("dlp_findings", Message.__table__, ("id",), "dlp_findings", "conversation_id", "created_at"),
    PlainTexts("dlp_hits", DlpHit.__table__, ("id",), "masked", None, "created_at"),
)


_JSON_PREFIX = json.dumps(PREFIX)[:-1]  # a sealed value stored in a JSON column: a JSON string


def _not_sealed(raw: Any, t: PlainTexts) -> Any:
    cond = and_(raw != "", func.substr(raw, 1, len(PREFIX)) != PREFIX,
                func.substr(raw, 1, len(_JSON_PREFIX)) != _JSON_PREFIX)  # an empty text holds nothing to seal
    if t.name == "event_payloads":  # only an event about a conversation may carry its text
        cond = and_(cond, or_(raw.like('%"conversation_id"%'), raw.like('%"conversation"%')))
    if t.name == "dlp_findings":  # a message without findings holds JSON null (or an empty list)
        cond = and_(cond, raw != "null", raw != "[]")
    return cond


def _plain_rows(s: Session, t: PlainTexts, after: tuple[Any, ...] | None, limit: int) -> list[Any]:
    """Rows whose column is not sealed yet, as stored (raw, not opened), in key order after ``after``."""
    col = t.table.c[t.column]
    raw = sa_cast(col, Text)  # the stored string (a JSON column's text too), past the type's opening
    cols = [*(t.table.c[k] for k in t.keys), raw.label("raw")]
    if t.conversation:
        cols.append(t.table.c[t.conversation])
    if t.at:
        cols.append(t.table.c[t.at])
        if t.name == "dlp_hits":
            cols.append(t.table.c.target)
    elif t.name == "message_bundles":
        cols += [Message.conversation_id, Message.created_at]
    stmt = select(*cols).where(col.is_not(None), _not_sealed(raw, t))
    if t.name == "message_bundles":
        stmt = stmt.join(Message, Message.id == t.table.c.message_id)
    if after is not None:
        stmt = stmt.where(tuple_(*(t.table.c[k] for k in t.keys)) > tuple_(*after))
    return list(s.execute(stmt.order_by(*(t.table.c[k] for k in t.keys)).limit(limit)).all())


def plain_counts(rt: Runtime) -> dict[str, int]:
    """How many rows of each column still hold plain text."""
    out = {}
    with rt.db.read() as s:
        for t in PLAIN:
            col = sa_cast(t.table.c[t.column], Text)
            out[t.name] = int(s.execute(select(func.count()).select_from(t.table).where(
                t.table.c[t.column].is_not(None), _not_sealed(col, t))).scalar_one())
    return out


def encrypt_existing(ctx: Ctx, progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Seal every text written before message-text encryption, in batches of one transaction each, each
    row compared-and-set on its old value (a row changed meanwhile is left for the next run). It can stop
    between batches and be run again: what is sealed stays sealed, the rest still reads as before."""
    rt = ctx.rt
    total = sum(plain_counts(rt).values())
    with rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_TEXT_SEALING_STARTED, target="message_texts", left=total)
    done = skipped = 0
    stopped = False
    if progress:
        progress(0, total)
    for t in PLAIN:
        after: tuple[Any, ...] | None = None
        while not stopped:
            nk = len(t.keys)
            items: list[tuple[Any, str, datetime, str]] = []  # (row, key scope, time, stored value)
            with rt.db.read() as s:
                rows = _plain_rows(s, t, after, BATCH)
                for row in rows:
                    value = row[nk]
                    if t.name == "event_payloads":
                        try:
                            body = json.loads(value)
                        except ValueError:
                            continue
                        cid = events.conversation_of(body) if isinstance(body, dict) else None
                        if cid is None:  # names no conversation: carries no message text
                            continue
                        items.append((row, texts.scope(cid), row[nk + 1], value))
                    elif t.name == "dlp_hits":  # the conversation its target names, else the dlp scope
                        cid = texts.conversation_of_target(s, row[nk + 2])
                        items.append((row, texts.scope(cid) if cid is not None else texts.DLP_SCOPE, row[nk + 1],
                                      value))
                    else:
                        items.append((row, texts.scope(row[nk + 1]), row[nk + 2], value))
            if not rows:
                break
            after = tuple(rows[-1][:nk])
            sealed = rt.keys.data_keys.seal_many([(scope, period_of(at), value) for _r, scope, at, value in items],
                                                 group_of=texts.key_groups(rt))
            with rt.db.write() as s:
                if t.archive:
                    _permit(s)
                for (row, _scope, _at, old), new in zip(items, sealed, strict=True):
                    if not old:
                        continue
                    where = [t.table.c[k] == row[i] for i, k in enumerate(t.keys)]
                    where.append(sa_cast(t.table.c[t.column], Text) == old)
                    res = s.execute(update(t.table).where(*where).values({t.column: new}))
                    if res.rowcount == 1:  # type: ignore[attr-defined]
                        done += 1
                    else:
                        skipped += 1
                if t.archive:
                    _close_permit(s)
            if progress:
                progress(done + skipped, total)
            if should_stop and should_stop():
                stopped = True
    left = sum(plain_counts(rt).values())
    with rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_TEXT_SEALED if not stopped else AuditAction.KEYS_TEXT_SEALING_INTERRUPTED,
                     target="message_texts", sealed=done, left=left)
    return {"sealed": done, "changed_meanwhile": skipped, "left": left, "interrupted": stopped}
