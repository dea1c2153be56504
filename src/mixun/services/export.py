"""Streaming archive export (C2): JSON Lines, CSV, one EML file per conversation and day, attachments,
and a manifest with counts and the SHA-256 of every file; ``verify_export`` re-checks a directory.

Versions are read in keyset batches ordered by (conversation, id), so memory stays constant whatever
the size: only the current EML file, and small caches of people, units and participants, are held.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import Attachment, Conversation, Member, MembershipLog, MessageVersion, Unit, User
from mixun.db.models_archive import ExportRecord
from mixun.errors import MixunError
from mixun.services import audit
from mixun.services.runtime import Ctx

BATCH = 10_000
FORMAT = "mixun-archive-export/1"
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
    convs: dict[int, tuple[str, str, list[dict[str, Any]]]] = field(default_factory=dict)


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
            raise MixunError("not_found", f"没有用户 {f.user}")
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


def _load_conv(s: Session, c: _Caches, cid: int) -> tuple[str, str, list[dict[str, Any]]]:
    got = c.convs.get(cid)
    if got is None:
        conv = s.execute(select(Conversation.kind, Conversation.name).where(Conversation.id == cid)).first()
        ids = set(s.execute(select(Member.user_id).where(Member.conversation_id == cid)).scalars())
        ids |= set(s.execute(select(MembershipLog.user_id).where(MembershipLog.conversation_id == cid)).scalars())
        people = []
        for uid in sorted(ids):
            username, name, unit = _load_user(s, c, uid)
            people.append({"id": uid, "username": username, "name": name, "unit": unit})
        got = (conv[0] if conv else "", conv[1] if conv else "", people)
        c.convs[cid] = got
    return got


def _preload(s: Session, c: _Caches, scope: list[int] | None) -> None:
    """Conversations, their participants and the people: a few queries up front instead of per row."""
    for uid, username, name, unit in s.execute(select(User.id, User.username, User.name, Unit.path)
                                               .join(Unit, Unit.id == User.unit_id, isouter=True)).all():
        c.users[uid] = (username, name, unit or "")
    people: dict[int, set[int]] = {}
    for cid, uid in s.execute(select(Member.conversation_id, Member.user_id)).all():
        people.setdefault(cid, set()).add(uid)
    for cid, uid in s.execute(select(MembershipLog.conversation_id, MembershipLog.user_id).distinct()).all():
        people.setdefault(cid, set()).add(uid)
    wanted = set(scope) if scope is not None else None
    for cid, kind, name in s.execute(select(Conversation.id, Conversation.kind, Conversation.name)).all():
        if wanted is not None and cid not in wanted:
            continue
        c.convs[cid] = (kind, name, [{"id": u, "username": c.users.get(u, ("", "", ""))[0],
                                      "name": c.users.get(u, ("", "", ""))[1],
                                      "unit": c.users.get(u, ("", "", ""))[2]} for u in sorted(people.get(cid, ()))])


def _versions(s: Session, f: Filters, scope: list[int] | None, by_conversation: bool) -> Iterator[list[Any]]:
    """Batches of version rows: in id order, or (for EML) conversation by conversation, each in id order."""
    cols = (MessageVersion.id, MessageVersion.message_id, MessageVersion.conversation_id, MessageVersion.version,
            MessageVersion.kind, MessageVersion.sender_id, MessageVersion.actor_id, MessageVersion.text,
            MessageVersion.created_at)
    if not by_conversation:  # id order reads the table sequentially: the fastest path for JSONL and CSV
        last = 0
        while True:
            stmt = select(*cols).where(MessageVersion.id > last)
            if f.conversation_id is not None:
                stmt = stmt.where(MessageVersion.conversation_id == f.conversation_id)
            if scope is not None:
                stmt = stmt.where(MessageVersion.conversation_id.in_(scope or [-1]))
            if f.since is not None:
                stmt = stmt.where(MessageVersion.created_at >= f.since)
            if f.until is not None:
                stmt = stmt.where(MessageVersion.created_at <= f.until)
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
    """One RFC 5322 message per (conversation, UTC day): a text/plain transcript of that day."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key: tuple[int, str] | None = None
        self.sink: _Sink | None = None
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, cid: int, day: str, header: tuple[str, str, list[dict[str, Any]]], line: str) -> None:
        if self.key != (cid, day):
            self.close()
            self.key = (cid, day)
            self.sink = _Sink(self.root, f"eml/{cid}/{day}.eml")
            kind, name, people = header
            to = ", ".join(f"{Header(p['name'], 'utf-8').encode()} <{p['username']}@mixun.local>" for p in people)
            subject = Header(f"密讯 {kind} {name or cid} {day}", "utf-8").encode()
            head = (f"From: Mixun Archive <archive@mixun.local>\r\nTo: {to}\r\nSubject: {subject}\r\n"
                    f"Date: {format_datetime(datetime.fromisoformat(day + 'T00:00:00+00:00'))}\r\n"
                    f"Message-ID: <conv{cid}.{day}@mixun.local>\r\nX-Mixun-Conversation: {cid}\r\n"
                    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n")
            self.sink.write(head.encode())
        assert self.sink is not None
        self.sink.write(line.encode())

    def close(self) -> None:
        if self.sink is not None:
            self.files[self.sink.rel] = self.sink.close()
            self.sink = None


def write_export(s: Session, ctx: Ctx, out: Path, f: Filters, formats: tuple[str, ...] = ALL_FORMATS,
                 include_originals: bool = False) -> dict[str, Any]:
    """Write the export into ``out`` (must be empty or missing); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise MixunError("conflict", "导出目录必须为空")
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
        writer.writerow(CSV_FIELDS)
        csv_sink.write(csv_buf.take())
    eml = _Eml(out) if "eml" in formats else None
    counts = {"versions": 0, "messages": 0, "conversations": 0, "attachments": 0, "eml_files": 0}
    seen_convs: set[int] = set()
    last_msg = -1
    dumps = orjson.dumps
    for rows in _versions(s, f, scope, by_conversation=eml is not None):
        cids = {r[2] for r in rows}
        att_map = _attachments_for(s, sorted({r[1] for r in rows})) if cids & with_files else {}
        originals = dict(s.execute(select(MessageVersion.id, MessageVersion.original_enc).where(
            MessageVersion.id.in_([r[0] for r in rows]), MessageVersion.original_enc.is_not(None))).all()
        ) if include_originals else {}
        lines: list[bytes] = []
        for vid, mid, cid, version, vkind, sender_id, actor_id, text, created_at in rows:
            ckind, cname, people = _load_conv(s, caches, cid)
            username, name, unit = _load_user(s, caches, sender_id)
            atts = att_map.get(mid, []) if vkind == "created" else []
            att_views = [{"id": a.id, "filename": a.filename, "mime": a.mime, "size": a.size, "sha256": a.sha256,
                          "path": f"attachments/{a.id}-{_safe(a.filename)}"} for a in atts]
            at = created_at.isoformat()
            rec = {"version_id": vid, "message_id": mid, "version": version, "version_kind": vkind,
                   "conversation": {"id": cid, "kind": ckind, "name": cname}, "participants": people,
                   "sender": {"id": sender_id, "username": username, "name": name, "unit": unit},
                   "actor_id": actor_id, "created_at": at, "text": text, "attachments": att_views}
            if vid in originals:  # the unmasked original of a DLP-masked message, asked for explicitly
                rec["original_text"] = ctx.rt.keys.decrypt_small(originals[vid], "dlp-original").decode()
            if jsonl is not None:
                lines.append(dumps(rec))
            if csv_sink is not None:
                writer.writerow([vid, mid, cid, ckind, cname, ";".join(p["name"] for p in people), version,
                                 vkind, sender_id, username, name, unit, actor_id, at, text,
                                 ";".join(a["path"] for a in att_views)])
            if eml is not None:
                label = {"created": "", "edited": "[编辑] ", "recalled": "[撤回] ", "hidden": "[隐藏] "}.get(vkind, "")
                eml.add(cid, at[:10], (ckind, cname, people),
                        f"[{at[11:19]}] {name} ({unit}): {label}{text}\r\n")
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
    for sink in (jsonl, csv_sink):
        if sink is not None:
            files[sink.rel] = sink.close()
    if eml is not None:
        eml.close()
        files.update(eml.files)
        counts["eml_files"] = len(eml.files)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "filters": f.as_dict(),
                "formats": list(formats), "counts": counts,
                "files": {k: files[k] for k in sorted(files)}}
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


def export(ctx: Ctx, out: Path, f: Filters, formats: tuple[str, ...] = ALL_FORMATS,
           reason: str = "", include_originals: bool = False) -> dict[str, Any]:
    """Export and audit it; the audit record carries the manifest's SHA-256."""
    with ctx.rt.db.read() as s:
        manifest = write_export(s, ctx, out, f, formats, include_originals)
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    with ctx.rt.db.write() as s:
        s.add(ExportRecord(actor_id=ctx.principal.user_id if ctx.principal else None, path=str(out),
                           filters=f.as_dict(), counts=manifest["counts"], manifest_sha256=digest))
        audit.record(s, ctx, "archive.exported", target=str(out)[:200], reason=reason[:500], **f.as_dict(),
                     counts=manifest["counts"], manifest_sha256=digest, include_originals=include_originals)
    return manifest


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str]


def verify_export(root: Path) -> VerifyResult:
    """Re-hash every file named in manifest.json; report changed, missing and unlisted files."""
    problems: list[str] = []
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return VerifyResult(False, 0, [f"manifest.json unreadable: {exc}"])
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    checked = 0
    for rel, info in listed.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != info.get("sha256"):
            problems.append(f"{rel}: SHA-256 does not match the manifest (changed)")
        checked += 1
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            rel = str((Path(dirpath) / n).relative_to(root))
            if rel != "manifest.json" and rel not in listed:
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
    return {"exports": [{"id": r.id, "name": Path(r.path).name, "path": r.path, "actor_id": r.actor_id,
                         "actor_name": nm or "", "filters": r.filters, "counts": r.counts,
                         "manifest_sha256": r.manifest_sha256, "created_at": r.created_at.isoformat()}
                        for r, nm in rows[:limit]],
            "next_offset": offset + limit if len(rows) > limit else None}
