"""Streaming archive export (C2): JSON Lines, CSV, one EML file per conversation and day, attachments,
and a manifest with counts and the SHA-256 of every file, signed with the server's Ed25519 export key
(manifest.sig); ``verify_export`` re-checks a directory against a public key the checker trusts.

An export is written into a hidden temporary directory beside the target and renamed into place only
when complete and signed, so a failed export leaves nothing behind. Each message states who could see
it when it was sent (the membership intervals the archive's membership_log keeps), not who is a member
today. docs/evidence.md.

Versions are read in keyset batches ordered by (conversation, id), so memory stays constant whatever
the size: only the current EML file, and small caches of people, units and participants, are held.
"""

from __future__ import annotations

import base64
import bisect
import csv
import functools
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mixun.config import Settings
from mixun.db.models import (
    Attachment,
    Conversation,
    Member,
    MembershipLog,
    Message,
    MessageVersion,
    Unit,
    User,
)
from mixun.db.models_archive import ExportRecord
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.keystore import KeyMissing
from mixun.services import archive_space, audit, drive
from mixun.services.runtime import Ctx

Progress = Callable[[int, int], None]  # (versions written, versions to write)

BATCH = 10_000
FORMAT = "mixun-archive-export/2"  # /2: signed (manifest.sig), participants as of each message
SIGNATURE_FILE = "manifest.sig"
SIGNING_KEY_NAME = "export-signing.key"
CSV_FIELDS = ["version_id", "message_id", "conversation_id", "conversation_kind", "conversation_name",
              "participants", "version", "version_kind", "sender_id", "sender_username", "sender_name",
              "sender_unit", "actor_id", "created_at", "text", "attachments"]
ALL_FORMATS = ("jsonl", "csv", "eml", "attachments")


@dataclass
class Filters:
    user: str | None = None  # a username: everything in every conversation they ever took part in
    conversation_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    unit: str | None = None  # a unit path: every conversation anyone in that unit (or below) took part in

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "unit": self.unit, "conversation_id": self.conversation_id,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


@dataclass
class _Caches:
    users: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # id -> (username, name, unit)
    convs: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, name)
    # conversation -> membership intervals (user, from, until or None while still a member)
    intervals: dict[int, list[tuple[int, datetime, datetime | None]]] = field(default_factory=dict)
    bounds: dict[int, list[datetime]] = field(default_factory=dict)  # sorted interval ends, per conversation
    segments: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    people: dict[tuple[int, ...], list[dict[str, Any]]] = field(default_factory=dict)

    def person(self, uid: int) -> dict[str, Any]:
        username, name, unit = self.users.get(uid, ("", "", ""))
        return {"id": uid, "username": username, "name": name, "unit": unit}

    def _listed(self, uids: list[int]) -> list[dict[str, Any]]:
        key = tuple(sorted(set(uids)))
        got = self.people.get(key)
        if got is None:
            got = self.people[key] = [self.person(u) for u in key]
        return got

    def participants(self, cid: int, sent: datetime, at: datetime) -> list[dict[str, Any]]:
        """Who could see a message of ``cid`` sent at ``sent``, in this version of ``at``: members whose
        one membership spans both (someone who joined later never saw it, someone who left no longer does)."""
        ivs = self.intervals.get(cid, [])
        if sent == at:  # a new message: membership is constant between two changes, so cache per segment
            bounds = self.bounds.get(cid, [])
            seg = (cid, bisect.bisect_right(bounds, at))
            got = self.segments.get(seg)
            if got is None:
                got = self.segments[seg] = self._listed(
                    [u for u, start, end in ivs if start <= at and (end is None or end > at)])
            return got
        return self._listed([u for u, start, end in ivs if start <= sent and (end is None or end > at)])

    def present_between(self, cid: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return self._listed([u for u, a, b in self.intervals.get(cid, []) if a < end and (b is None or b > start)])


class _Sink:
    """A file written once, hashed as it is written."""

    def __init__(self, root: Path, rel: str) -> None:
        self.rel = rel
        self.path = root / rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "wb")  # noqa: SIM115
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.h.update(data)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        self.fh.close()
        return {"sha256": self.h.hexdigest(), "size": self.size}


class _CsvBuffer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)

    def take(self) -> bytes:
        data = "".join(self.parts).encode()
        self.parts.clear()
        return data


def _conversation_scope(s: Session, f: Filters) -> list[int] | None:
    if f.user is None and f.unit is None:
        return None
    if f.user is not None:
        uid = s.execute(select(User.id).where(User.username == f.user)).scalar()
        if uid is None:
            raise MixunError("not_found", (f"没有用户 {f.user}", f"No user {f.user}"))
        uids = [uid]
    else:
        path = (f.unit or "").strip().rstrip("/")
        uids = list(s.execute(select(User.id).join(Unit, Unit.id == User.unit_id)
                              .where((Unit.path == path) | Unit.path.startswith(path + "/"))).scalars())
        if not uids and s.execute(select(Unit.id).where(Unit.path == path)).first() is None:
            raise MixunError("not_found", (f"没有部门 {path}", f"No unit {path}"))
        uids = uids or [-1]
    ids = set(s.execute(select(Member.conversation_id).where(Member.user_id.in_(uids))).scalars())
    ids |= set(s.execute(select(MembershipLog.conversation_id).where(MembershipLog.user_id.in_(uids))).scalars())
    ids |= set(s.execute(select(MessageVersion.conversation_id).where(MessageVersion.sender_id.in_(uids))
                         .distinct()).scalars())
    return sorted(ids)


def _load_user(s: Session, c: _Caches, uid: int) -> tuple[str, str, str]:
    got = c.users.get(uid)
    if got is None:
        row = s.execute(select(User.username, User.name, Unit.path).join(Unit, Unit.id == User.unit_id, isouter=True)
                        .where(User.id == uid)).first()
        got = (row[0], row[1], row[2] or "") if row else ("", "", "")
        c.users[uid] = got
    return got


def _preload(s: Session, c: _Caches, scope: list[int] | None) -> None:
    """Conversations, the people and every membership interval: a few queries up front instead of per row.

    Intervals come from membership_log (joined opens one; left and removed close it). A member with no
    logged join (data from before the log) counts from conversation_members.joined_at."""
    for uid, username, name, unit in s.execute(select(User.id, User.username, User.name, Unit.path)
                                               .join(Unit, Unit.id == User.unit_id, isouter=True)).all():
        c.users[uid] = (username, name, unit or "")
    wanted = set(scope) if scope is not None else None
    for cid, kind, name in s.execute(select(Conversation.id, Conversation.kind, Conversation.name)).all():
        if wanted is None or cid in wanted:
            c.convs[cid] = (kind, name)
    log = select(MembershipLog.conversation_id, MembershipLog.user_id, MembershipLog.action,
                 MembershipLog.created_at).where(MembershipLog.action.in_(("joined", "left", "removed")))
    if scope is not None:
        log = log.where(MembershipLog.conversation_id.in_(scope or [-1]))
    open_: dict[tuple[int, int], datetime] = {}
    for cid, uid, action, at in s.execute(log.order_by(MembershipLog.id)).all():
        if action == "joined":
            open_.setdefault((cid, uid), at)
        elif (cid, uid) in open_:
            c.intervals.setdefault(cid, []).append((uid, open_.pop((cid, uid)), at))
    members = select(Member.conversation_id, Member.user_id, Member.joined_at)
    if scope is not None:
        members = members.where(Member.conversation_id.in_(scope or [-1]))
    for cid, uid, joined_at in s.execute(members).all():
        start = open_.pop((cid, uid), None)
        c.intervals.setdefault(cid, []).append((uid, start or joined_at, None))
    for (cid, uid), start in open_.items():  # a logged join with neither a leave nor a member row
        c.intervals.setdefault(cid, []).append((uid, start, None))
    for cid, ivs in c.intervals.items():
        c.bounds[cid] = sorted({t for _u, a, b in ivs for t in (a, b) if t is not None})


def _filtered(stmt: Any, f: Filters, scope: list[int] | None) -> Any:
    """``stmt`` over message versions narrowed to the export's conversation, scope and time range."""
    if f.conversation_id is not None:
        stmt = stmt.where(MessageVersion.conversation_id == f.conversation_id)
    if scope is not None:
        stmt = stmt.where(MessageVersion.conversation_id.in_(scope or [-1]))
    if f.since is not None:
        stmt = stmt.where(MessageVersion.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(MessageVersion.created_at <= f.until)
    return stmt


def _count_versions(s: Session, f: Filters, scope: list[int] | None) -> int:
    """How many versions the export will write (the progress bar's total)."""
    return int(s.execute(_filtered(select(func.count()).select_from(MessageVersion), f, scope)).scalar_one())


def _versions(s: Session, f: Filters, scope: list[int] | None, by_conversation: bool,
              originals: bool = False) -> Iterator[Sequence[Any]]:
    """Batches of version rows: in id order, or (for EML) conversation by conversation, each in id order."""
    cols: tuple[Any, ...] = (
        MessageVersion.id, MessageVersion.message_id, MessageVersion.conversation_id, MessageVersion.version,
        MessageVersion.kind, MessageVersion.sender_id, MessageVersion.actor_id, MessageVersion.text,
        MessageVersion.created_at)
    if originals:
        cols += (MessageVersion.original_enc,)
    if not by_conversation:  # id order reads the table sequentially: the fastest path for JSONL and CSV
        last = 0
        while True:
            stmt = _filtered(select(*cols).where(MessageVersion.id > last), f, scope)
            rows = s.execute(stmt.order_by(MessageVersion.id).limit(BATCH)).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]
    if f.conversation_id is not None:
        convs = [f.conversation_id] if scope is None or f.conversation_id in scope else []
    elif scope is not None:
        convs = scope
    else:
        convs = list(s.execute(select(Conversation.id).order_by(Conversation.id)).scalars())
    for cid in convs:
        last = 0
        while True:
            stmt = select(*cols).where(MessageVersion.conversation_id == cid, MessageVersion.id > last)
            if f.since is not None:
                stmt = stmt.where(MessageVersion.created_at >= f.since)
            if f.until is not None:
                stmt = stmt.where(MessageVersion.created_at <= f.until)
            rows = s.execute(stmt.order_by(MessageVersion.id).limit(BATCH)).all()
            if not rows:
                break
            yield rows
            last = rows[-1][0]
            if len(rows) < BATCH:
                break


def _attachments_for(s: Session, message_ids: list[int]) -> dict[int, list[Attachment]]:
    out: dict[int, list[Attachment]] = {}
    for i in range(0, len(message_ids), 900):
        for a in s.execute(select(Attachment).where(Attachment.message_id.in_(message_ids[i : i + 900]))).scalars():
            out.setdefault(a.message_id or 0, []).append(a)
    return out


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:80]
    return keep or "file"


class _Eml:
    """One RFC 5322 message per (conversation, UTC day): a text/plain transcript of that day, addressed to
    whoever was a member at some time that day."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key: tuple[int, str] | None = None
        self.sink: _Sink | None = None
        self.files: dict[str, dict[str, Any]] = {}

    def open(self, cid: int, day: str, kind: str, name: str, people: list[dict[str, Any]]) -> None:
        self.close()
        self.key = (cid, day)
        self.sink = _Sink(self.root, f"eml/{cid}/{day}.eml")
        to = ", ".join(f"{Header(p['name'], 'utf-8').encode()} <{p['username']}@mixun.local>" for p in people)
        subject = Header(f"密讯 {kind} {name or cid} {day}", "utf-8").encode()
        head = (f"From: Mixun Archive <archive@mixun.local>\r\nTo: {to}\r\nSubject: {subject}\r\n"
                f"Date: {format_datetime(datetime.fromisoformat(day + 'T00:00:00+00:00'))}\r\n"
                f"Message-ID: <conv{cid}.{day}@mixun.local>\r\nX-Mixun-Conversation: {cid}\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n")
        self.sink.write(head.encode())

    def add(self, line: str) -> None:
        assert self.sink is not None
        self.sink.write(line.encode())

    def close(self) -> None:
        if self.sink is not None:
            self.files[self.sink.rel] = self.sink.close()
            self.sink = None


def _sent_times(s: Session, rows: Sequence[Any]) -> dict[int, datetime]:
    """When each message of a batch was sent (a new message's own version says so; edits look it up)."""
    sent = {r[1]: r[8] for r in rows if r[4] == "created"}
    rest = sorted({r[1] for r in rows if r[1] not in sent})
    for i in range(0, len(rest), 900):
        sent.update(s.execute(select(Message.id, Message.created_at).where(Message.id.in_(rest[i : i + 900]))).all())
    return sent


def write_export(s: Session, ctx: Ctx, out: Path, f: Filters, formats: tuple[str, ...] = ALL_FORMATS,
                 include_originals: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Write the export into ``out`` (must be empty or missing); returns the manifest (unsigned: ``export``
    signs it). With ``include_originals`` each DLP-masked version also carries its original text."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise MixunError("export_dir_not_empty")
    scope = _conversation_scope(s, f)
    caches = _Caches()
    _preload(s, caches, scope)
    with_files = set(s.execute(select(Attachment.conversation_id).distinct()).scalars())
    files: dict[str, dict[str, Any]] = {}
    jsonl = _Sink(out, "messages.jsonl") if "jsonl" in formats else None
    csv_sink = _Sink(out, "messages.csv") if "csv" in formats else None
    csv_buf = _CsvBuffer()
    writer = csv.writer(csv_buf, lineterminator="\r\n")
    if csv_sink is not None:
        csv_sink.write(b"\xef\xbb\xbf")  # BOM: spreadsheet programs then read the Chinese correctly
        writer.writerow(CSV_FIELDS + (["original_text"] if include_originals else []))
        csv_sink.write(csv_buf.take())
    eml = _Eml(out) if "eml" in formats else None
    counts = {"versions": 0, "messages": 0, "conversations": 0, "attachments": 0, "eml_files": 0}
    if include_originals:
        counts["originals"] = 0
    seen_convs: set[int] = set()
    last_msg = -1
    dumps = orjson.dumps
    keys = ctx.rt.keys
    total = _count_versions(s, f, scope) if progress else 0
    if progress:
        progress(0, total)
    for rows in _versions(s, f, scope, by_conversation=eml is not None, originals=include_originals):
        cids = {r[2] for r in rows}
        att_map = _attachments_for(s, sorted({r[1] for r in rows})) if cids & with_files else {}
        sent_at = _sent_times(s, rows)
        lines: list[bytes] = []
        for row in rows:
            vid, mid, cid, version, vkind, sender_id, actor_id, text, created_at = row[:9]
            original: str | None = None
            if include_originals and row[9] is not None:
                try:
                    original = keys.decrypt_small(row[9], "dlp-original").decode()
                except ValueError:
                    original = None  # its key was destroyed (retention): the masked text is all there is
            ckind, cname = caches.convs.get(cid, ("", ""))
            people = caches.participants(cid, sent_at.get(mid, created_at), created_at)
            username, name, unit = _load_user(s, caches, sender_id)
            atts = att_map.get(mid, []) if vkind == "created" else []
            att_views: list[dict[str, Any]] = [{"id": a.id, "filename": a.filename, "mime": a.mime, "size": a.size, "sha256": a.sha256,
                          "path": f"attachments/{a.id}-{_safe(a.filename)}"} for a in atts]
            at = created_at.isoformat()
            rec = {"version_id": vid, "message_id": mid, "version": version, "version_kind": vkind,
                   "conversation": {"id": cid, "kind": ckind, "name": cname}, "participants": people,
                   "sender": {"id": sender_id, "username": username, "name": name, "unit": unit},
                   "actor_id": actor_id, "created_at": at, "text": text, "attachments": att_views}
            if original is not None:
                rec["original_text"] = original
                counts["originals"] += 1
            if jsonl is not None:
                lines.append(dumps(rec))
            if csv_sink is not None:
                writer.writerow([vid, mid, cid, ckind, cname, ";".join(p["name"] for p in people), version,
                                 vkind, sender_id, username, name, unit, actor_id, at, text,
                                 ";".join(a["path"] for a in att_views)]
                                + ([original or ""] if include_originals else []))
            if eml is not None:
                label = {"created": "", "edited": "[编辑] ", "recalled": "[撤回] ", "hidden": "[隐藏] "}.get(vkind, "")
                day = at[:10]
                if eml.key != (cid, day):
                    start = datetime.fromisoformat(day + "T00:00:00+00:00")
                    eml.open(cid, day, ckind, cname, caches.present_between(cid, start, start + timedelta(days=1)))
                eml.add(f"[{at[11:19]}] {name} ({unit}): {label}{text}\r\n"
                        + (f"    [原文] {original}\r\n" if original is not None else ""))
            if cid not in seen_convs:
                seen_convs.add(cid)
                counts["conversations"] += 1
            if vkind == "created" and mid != last_msg:
                counts["messages"] += 1
            last_msg = mid
            counts["versions"] += 1
            if "attachments" in formats:
                for a, v in zip(atts, att_views, strict=True):
                    files[v["path"]] = _write_attachment(ctx, out, v["path"], a)
                    counts["attachments"] += 1
        if jsonl is not None and lines:
            jsonl.write(b"\n".join(lines) + b"\n")
        if csv_sink is not None:
            csv_sink.write(csv_buf.take())
        if progress:
            progress(counts["versions"], max(total, counts["versions"]))
    for sink in (jsonl, csv_sink):
        if sink is not None:
            files[sink.rel] = sink.close()
    if eml is not None:
        eml.close()
        files.update(eml.files)
        counts["eml_files"] = len(eml.files)
    group_files = _write_group_files(s, ctx, out, f, scope, formats, files)
    counts["group_files"] = len(group_files)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "filters": f.as_dict(),
                "formats": list(formats), "include_originals": include_originals, "counts": counts,
                "group_files": group_files, "files": {k: files[k] for k in sorted(files)}}
    (out / "manifest.json").write_bytes(json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    return manifest


def _write_attachment(ctx: Ctx, out: Path, rel: str, a: Attachment) -> dict[str, Any]:
    sink = _Sink(out, rel)
    try:
        dek = ctx.rt.keys.unwrap(a.data_key_wrapped)
        path = ctx.rt.settings.blob_dir / a.blob_key[:2] / a.blob_key
        sink.write(ctx.rt.keys.decrypt_with(dek, path.read_bytes(), "blob"))
    except (OSError, ValueError):
        pass  # destroyed or unreadable: an empty file, and the manifest says so
    info = sink.close()
    if info["size"] == 0:
        info["missing"] = True
    return info


def _write_group_files(s: Session, ctx: Ctx, out: Path, f: Filters, scope: list[int] | None,
                       formats: tuple[str, ...], files: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The files and folders of the groups' file spaces (群文件) within the export's scope and dates, those
    members deleted or moved included: each described in the manifest (uploader, group, folder, time,
    size, scan state, what members did to it), and with "attachments" each file's content, decrypted as
    an attachment is, under group_files/ and hashed in the manifest's file list."""
    described: list[dict[str, Any]] = []
    last = 0
    while True:
        items = archive_space.in_scope(s, scope, f.conversation_id, f.since, f.until, after=last)
        if not items:
            return described
        last = items[-1].id
        for item, view in zip(items, archive_space.views(s, items), strict=True):
            if "attachments" in formats and view["content_kept"]:
                rel = f"group_files/{item.id}-{_safe(item.name)}"
                files[rel] = _write_group_file(ctx, out, rel, item)
                view["path"] = rel
            described.append(view)


def _write_group_file(ctx: Ctx, out: Path, rel: str, item: Any) -> dict[str, Any]:
    """One group-space file, decrypted segment by segment as it is written (one segment in memory)."""
    sink = _Sink(out, rel)
    try:
        for piece in drive.item_reader(ctx.rt, item).iter_range():
            sink.write(piece)
    except (OSError, ValueError, InvalidTag, KeyMissing):
        sink.close()
        sink = _Sink(out, rel)  # destroyed or unreadable: an empty file, and the manifest says so
    info = sink.close()
    if info["size"] == 0 and item.size:
        info["missing"] = True
    return info


def _signing_key_path(settings: Settings) -> Path:
    return settings.key_file.parent / SIGNING_KEY_NAME


def load_signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The server's export signing key, or None before the first export."""
    try:
        key = serialization.load_pem_private_key(_signing_key_path(settings).read_bytes(), password=None)
    except FileNotFoundError:
        return None
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{_signing_key_path(settings)} is not an Ed25519 key")
    return key


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signing_key(ctx: Ctx) -> Ed25519PrivateKey:
    """The export signing key, created on first use (mode 0600, in the key store beside master.key); its
    creation and the public key's fingerprint go into the audit trail."""
    settings = ctx.rt.settings
    key = load_signing_key(settings)
    if key is not None:
        return key
    path = _signing_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = Ed25519PrivateKey.generate()
    pem = new.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(f".{SIGNING_KEY_NAME}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(tmp, path)  # exclusive: of two processes creating it at once, one key wins
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink(missing_ok=True)
    key = load_signing_key(settings)
    assert key is not None
    if created:
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.EXPORT_SIGNING_KEY_CREATED, target=SIGNING_KEY_NAME, algorithm="Ed25519",
                         fingerprint=fingerprint(key.public_key()))
    return key


def sign_manifest(key: Ed25519PrivateKey, manifest_bytes: bytes) -> dict[str, Any]:
    return {"algorithm": "Ed25519", "signed_file": "manifest.json", "key_fingerprint": fingerprint(key.public_key()),
            "signature": base64.b64encode(key.sign(manifest_bytes)).decode()}


def _target_ready(out: Path) -> None:
    """``out`` must be missing or an empty directory; nothing is created there until the export is done."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MixunError("export_dir_not_empty")


def export(ctx: Ctx, out: Path, f: Filters, formats: tuple[str, ...] = ALL_FORMATS,
           reason: str = "", include_originals: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Export into ``out``, sign the manifest, and audit it (the record carries the manifest's SHA-256).

    The files are written into a hidden directory beside ``out`` and renamed into place only when the
    export is complete and signed; on any failure that directory is removed. With ``include_originals``
    every DLP-masked version also carries its unmasked original (decrypted from the archive), and the
    audit record says so."""
    _target_ready(out)
    key = signing_key(ctx)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{secrets.token_hex(6)}"
    try:
        with ctx.rt.db.read() as s:
            manifest = write_export(s, ctx, tmp, f, formats, include_originals=include_originals, progress=progress)
        manifest_bytes = (tmp / "manifest.json").read_bytes()
        (tmp / SIGNATURE_FILE).write_text(json.dumps(sign_manifest(key, manifest_bytes), indent=1))
        _target_ready(out)
        try:
            os.rename(tmp, out)  # replaces an empty directory; fails if something appeared there meanwhile
        except OSError as exc:
            raise MixunError("export_dir_not_empty") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    with ctx.rt.db.write() as s:
        s.add(ExportRecord(actor_id=ctx.principal.user_id if ctx.principal else None, path=str(out),
                           filters=f.as_dict(), counts=manifest["counts"], manifest_sha256=digest))
        # The export's name, not its absolute path: the audit trail is read over the API.
        audit.record(s, ctx, AuditAction.ARCHIVE_EXPORTED, target=out.name[:200], reason=reason[:500], **f.as_dict(),
                     counts=manifest["counts"], manifest_sha256=digest, originals=include_originals,
                     key_fingerprint=fingerprint(key.public_key()))
    return manifest


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _check_signature(root: Path, manifest_bytes: bytes, public: Ed25519PublicKey | None) -> list[str]:
    try:
        sig = json.loads((root / SIGNATURE_FILE).read_text(encoding="utf-8"))
        signature = base64.b64decode(str(sig["signature"]), validate=True)
    except FileNotFoundError:
        return [f"{SIGNATURE_FILE}: missing (the export is not signed)"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{SIGNATURE_FILE}: unreadable ({exc})"]
    if public is None:
        return ["no public key to check the signature with: pass --public-key FILE "
                "(the output of `mixun export public-key` on the server)"]
    expected = fingerprint(public)
    if sig.get("key_fingerprint") != expected:
        return [f"{SIGNATURE_FILE}: signed by another key ({sig.get('key_fingerprint')}, expected {expected})"]
    try:
        public.verify(signature, manifest_bytes)
    except InvalidSignature:
        return ["manifest.json: the signature does not match (the manifest was changed or rewritten after "
                "the server signed it)"]
    return []


def verify_export(root: Path, public_key: Ed25519PublicKey | None) -> VerifyResult:
    """Check manifest.json's signature with ``public_key``, then re-hash every file it names; report a
    rewritten manifest and changed, missing and unlisted files."""
    problems: list[str] = []
    try:
        manifest_bytes = (root / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (OSError, ValueError) as exc:
        return VerifyResult(False, 0, [f"manifest.json unreadable: {exc}"])
    problems += _check_signature(root, manifest_bytes, public_key)
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    checked = 0
    for rel, info in listed.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != info.get("sha256"):
            problems.append(f"{rel}: SHA-256 does not match the manifest (changed)")
        checked += 1
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            rel = str((Path(dirpath) / n).relative_to(root))
            if rel not in ("manifest.json", SIGNATURE_FILE) and rel not in listed:
                problems.append(f"{rel}: not in the manifest (added)")
    jl = root / "messages.jsonl"
    if jl.is_file() and "messages.jsonl" in listed:
        with open(jl, "rb") as fh:
            lines = sum(1 for _ in fh)
        if lines != manifest.get("counts", {}).get("versions"):
            problems.append(f"messages.jsonl: {lines} lines but the manifest counts "
                            f"{manifest.get('counts', {}).get('versions')} versions")
    return VerifyResult(not problems, checked, problems)


def list_exports(ctx: Ctx, limit: int, offset: int) -> dict[str, Any]:
    """Exports made so far (newest first), with who made them, the filters and the counts."""
    from mixun.db.models import User

    with ctx.rt.db.read() as s:
        rows = s.execute(select(ExportRecord, User.name).outerjoin(User, User.id == ExportRecord.actor_id)
                         .order_by(ExportRecord.id.desc()).offset(offset).limit(limit + 1)).all()
    # The name only: the server's absolute paths stay on the server.
    return {"exports": [{"id": r.id, "name": Path(r.path).name, "actor_id": r.actor_id,
                         "actor_name": nm or "", "filters": r.filters, "counts": r.counts,
                         "manifest_sha256": r.manifest_sha256, "created_at": r.created_at.isoformat(),
                         "downloadable": r.actor_id == ctx.user_id}
                        for r, nm in rows[:limit]],
            "next_offset": offset + limit if len(rows) > limit else None}
