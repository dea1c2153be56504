"""Attachments in conversations (REQUIREMENTS M2, M4, D1–D4, D7): images, files and secure packs.

Every kind is judged from its content, never its name; files and their names go through the DLP engine
on channel `file`; every byte is scanned by ClamAV before anyone may download it (without clamd the
`MIXUN_FILES_WITHOUT_SCANNER` policy decides: wait — held until scanned, refuse, or allow as unscanned);
everything is encrypted at rest with a per-file data key, and the attachment row is written in the
same transaction as its message, so a refused or failed send leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select, update

from mixun.db.engine import affected
from mixun.db.models import Attachment, Message
from mixun.domain.audit_actions import AuditAction
from mixun.domain.dlp import mask_text
from mixun.domain.events import EventType
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.files.antivirus import ClamdScanner, ScanResult
from mixun.files.inspect import IMAGES, FileKind
from mixun.files.packing import PackRefused, WeakPackPassword, check_pack_password, safe_names, scan_and_pack
from mixun.sendpath import batch
from mixun.sendpath.checks import sender_unit_path, take_send_token
from mixun.sendpath.request import SendRequest
from mixun.services import audit, events, functions
from mixun.services.conversations import access_conversation
from mixun.services.dlp import service as dlp_service
from mixun.services.message_views import find_sent_view
from mixun.services.messages import access_message
from mixun.services.runtime import Ctx, DlpOutcome, Runtime
from mixun.storage import conversations as conversation_store
from mixun.storage.messages import ARCHIVE_ONLY

log = logging.getLogger("mixun.attachments")

ALLOWED = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
THUMB = (320, 320)
Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs


def _clean_image(data: bytes) -> tuple[bytes, bytes, str, int, int]:
    """(clean image, thumbnail PNG, mime, width, height); re-encoding drops EXIF, GPS and comments."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            probe.verify()
        if fmt not in ALLOWED:
            raise MixunError("unsupported_media", ("只支持 PNG、JPEG、GIF、WebP 图片", "Only PNG, JPEG, GIF and WebP images are supported"), detected=fmt.lower())
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)
            width, height = img.size
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(out, "JPEG", quality=90)
            elif fmt == "GIF":
                img.save(out, "GIF")
            elif fmt == "WEBP":
                img.save(out, "WEBP", quality=90)
            else:
                img.save(out, "PNG")
            thumb = img.copy()
            thumb.thumbnail(THUMB)
            tout = io.BytesIO()
            thumb.convert("RGBA").save(tout, "PNG")
            return out.getvalue(), tout.getvalue(), ALLOWED[fmt], width, height
    except MixunError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise MixunError("unsupported_media", ("文件不是可识别的图片", "The file is not an image that can be read")) from exc


def _store(ctx: Ctx, dek: bytes, data: bytes, purpose: str) -> str:
    key = secrets.token_hex(16)
    path = ctx.rt.settings.blob_dir / key[:2] / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(ctx.rt.keys.encrypt_with(dek, data, purpose))
    tmp.replace(path)
    return key


def _load(ctx: Ctx, dek: bytes, key: str, purpose: str) -> bytes:
    path = ctx.rt.settings.blob_dir / key[:2] / key
    return ctx.rt.keys.decrypt_with(dek, path.read_bytes(), purpose)


FILE_MIMES = {
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileKind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    FileKind.DOC: "application/msword", FileKind.XLS: "application/vnd.ms-excel",
    FileKind.PPT: "application/vnd.ms-powerpoint", FileKind.PDF: "application/pdf",
    FileKind.TEXT: "text/plain", FileKind.CSV: "text/csv", FileKind.ENCRYPTED_ZIP: "application/zip",
    FileKind.ENCRYPTED_OFFICE: "application/octet-stream",
    FileKind.PNG: "image/png", FileKind.JPEG: "image/jpeg", FileKind.GIF: "image/gif", FileKind.WEBP: "image/webp",
}
PACK_MIME = "application/zip"


def _mime(kind: FileKind | None) -> str:
    return FILE_MIMES.get(kind, "application/octet-stream") if kind is not None else "application/octet-stream"

DOWNLOADABLE = ("clean", "unscanned", "reencoded")
SCANNER_CHECK_SECONDS = 10.0


# ---- the virus scanner ------------------------------------------------------------------------------

class Antivirus:
    """clamd for this process, with its availability remembered for a few seconds (health, client)."""

    def __init__(self, socket_path: str) -> None:
        self.scanner = ClamdScanner(socket_path)
        self._checked = 0.0
        self._available = False
        self._lock = threading.Lock()

    def available(self) -> bool:
        with self._lock:
            if time.monotonic() - self._checked > SCANNER_CHECK_SECONDS:
                self._available = self.scanner.available()
                self._checked = time.monotonic()
            return self._available


def antivirus(rt: Runtime) -> Antivirus:
    av = rt.antivirus
    if not isinstance(av, Antivirus):
        av = rt.antivirus = Antivirus(rt.settings.clamd_socket)
    return av


def antivirus_status(rt: Runtime) -> str:
    return "available" if antivirus(rt).available() else "unavailable"


def _virus_check(ctx: Ctx, data: bytes, target: str, filename: str, image: bool = False) -> str:
    """The scan state a new file starts with: `clean`, or `pending`/`unscanned` when clamd is away (by
    policy). Infected or unscannable content is refused and audited; it is never stored.

    An image is scanned as uploaded, but what is stored and served is re-encoded from its pixels by us,
    so without clamd it is `reencoded` and may be shown (no payload survives re-encoding)."""
    result = antivirus(ctx.rt).scanner.scan_bytes(data)
    if result.status == "clean":
        return "clean"
    if result.status in ("infected", "error"):
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_INFECTED if result.status == "infected" else AuditAction.FILE_SCAN_FAILED,
                         target=target, outcome="failure", filename=filename[:120],
                         signature=result.signature, detail=result.detail)
        if result.status == "infected":
            raise MixunError("malware_detected", signature=result.signature)
        raise MixunError("scan_failed")
    if image:
        return "reencoded"
    mode = ctx.rt.settings.files_without_scanner
    if mode == "refuse":
        raise MixunError("scanner_unavailable")
    return "pending" if mode == "wait" else "unscanned"


# ---- storing ----------------------------------------------------------------------------------------

def _clean_name(filename: str, fallback: str) -> str:
    """A display name: no path, no control characters, at most 255 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or fallback)[:255]


class _Blobs:
    """Blobs written for one send; removed again if the send does not commit."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.dek, self.wrapped = ctx.rt.keys.new_data_key()
        self.keys: list[str] = []

    def put(self, data: bytes, purpose: str) -> str:
        key = _store(self.ctx, self.dek, data, purpose)
        self.keys.append(key)
        return key

    def discard(self) -> None:
        for key in self.keys:
            (self.ctx.rt.settings.blob_dir / key[:2] / key).unlink(missing_ok=True)


def _send_with(ctx: Ctx, conversation_id: int, blobs: _Blobs, text: str, client_id: str | None, kind: str,
               rows: list[dict[str, Any]], outcome: Any = None) -> tuple[dict[str, Any], bool]:
    try:
        view, created = batch.send(SendRequest(
            ctx, conversation_id, text, client_id=client_id, kind=kind,
            attachments=tuple(dict(r, data_key_wrapped=blobs.wrapped) for r in rows),
            dlp_outcome=outcome, rate_checked=True)).unwrap()
    except BaseException:
        blobs.discard()
        raise
    if not created:  # a resend of an acknowledged upload: the first one stands, this copy goes
        blobs.discard()
    return view, created


def _resent(ctx: Ctx, conversation_id: int, client_id: str | None) -> dict[str, Any] | None:
    """The message a repeated client_id already made (so a retried upload is not scanned twice)."""
    if not client_id:
        return None
    with ctx.rt.db.read() as s:
        access_conversation(s, ctx, conversation_id)
        return find_sent_view(s, ctx, client_id)


# ---- images -----------------------------------------------------------------------------------------

def send_image(ctx: Ctx, conversation_id: int, data: bytes, filename: str, client_id: str | None,
               outcome: Any = None) -> dict[str, Any]:
    functions.require(ctx, "send_files")  # before any scan: a switched-off function costs nothing
    if len(data) > ctx.rt.settings.max_image_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_image_bytes)
    if not data:
        raise MixunError("unsupported_media", ("文件为空", "The file is empty"))
    first = _resent(ctx, conversation_id, client_id)
    if first is not None:
        return first
    if outcome is None:
        with ctx.rt.db.read() as s:
            access_conversation(s, ctx, conversation_id)
    take_send_token(ctx)
    scan = _virus_check(ctx, data, f"conversation:{conversation_id}", filename, image=True)
    clean, thumb, mime, width, height = _clean_image(data)
    blobs = _Blobs(ctx)
    row = {"kind": "image", "filename": _clean_name(filename, "image"), "mime": mime, "size": len(clean),
           "width": width, "height": height, "sha256": hashlib.sha256(clean).hexdigest(),
           "blob_key": blobs.put(clean, "blob"), "thumb_key": blobs.put(thumb, "thumb"), "scan_status": scan}
    return _send_with(ctx, conversation_id, blobs, "", client_id, "image", [row], outcome)[0]


# ---- files (M4) -------------------------------------------------------------------------------------

def send_file(ctx: Ctx, conversation_id: int, data: bytes, filename: str, client_id: str | None,
              confirm: bool = False, channel: str = "file") -> dict[str, Any]:
    """A document into a conversation: type from content, DLP on its text and name, virus scan, stored
    encrypted, delivered as a message of kind `file` (or `image`, for a picture sent as a file).
    ``channel`` is the DLP channel: `file` from the computer, `drive` when shared from a drive."""
    functions.require(ctx, "send_files")
    if len(data) > ctx.rt.settings.max_file_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_file_bytes)
    name = _clean_name(filename, "file")
    first = _resent(ctx, conversation_id, client_id)
    if first is not None:
        return first
    with ctx.rt.db.read() as s:
        access_conversation(s, ctx, conversation_id)
    target = f"conversation:{conversation_id}"
    doc, outcome = dlp_service(ctx).check_file(ctx, data, name, confirm, lambda: sender_unit_path(ctx), target,
                                               channel=channel)
    if doc.kind in IMAGES:
        return send_image(ctx, conversation_id, data, name, client_id, outcome)
    take_send_token(ctx)
    scan = _virus_check(ctx, data, target, name)
    blobs = _Blobs(ctx)
    row = {"kind": "file", "filename": name, "mime": _mime(doc.kind),
           "size": len(data), "width": None, "height": None, "sha256": hashlib.sha256(data).hexdigest(),
           "blob_key": blobs.put(data, "blob"), "thumb_key": None, "scan_status": scan}
    return _send_with(ctx, conversation_id, blobs, "", client_id, "file", [row], outcome)[0]


# ---- secure packing (D2) ----------------------------------------------------------------------------

PACK_NOTE = "【加密文件包】{names}。解压密码请电话向发送人索取,切勿通过即时通讯工具传递密码。"
MAX_PACK_FILES = 20


def send_secure_pack(ctx: Ctx, conversation_id: int, files: list[tuple[str, bytes]], password: str,
                     client_id: str | None, pack_name: str | None = None) -> dict[str, Any]:
    """Check the password, inspect and virus-scan every file, pack them into an AES-256 ZIP and send it.

    Anything the policy would block or hold refuses the whole pack (nobody can review inside it later);
    findings it would only warn about or mask are what packing is for. The password is used once to
    encrypt and forgotten: never stored, logged, audited or echoed.
    """
    functions.require(ctx, "send_files")
    failed = check_pack_password(password)
    if failed:
        raise MixunError("weak_pack_password", failed=failed)
    if not files:
        raise MixunError("validation_failed", ("请选择要打包的文件", "Choose the files to pack"), field="files")
    if len(files) > MAX_PACK_FILES:
        raise MixunError("validation_failed", (f"一次最多打包 {MAX_PACK_FILES} 个文件",
                                               f"At most {MAX_PACK_FILES} files per pack"), field="files")
    if sum(len(d) for _, d in files) > ctx.rt.settings.max_file_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_file_bytes)
    first = _resent(ctx, conversation_id, client_id)
    if first is not None:
        return first
    with ctx.rt.db.read() as s:
        access_conversation(s, ctx, conversation_id)
    take_send_token(ctx)  # before any scanning or storing
    svc = dlp_service(ctx)
    st = svc.state()
    svc.check_suspension(ctx, st)
    target = f"conversation:{conversation_id}"
    # The names as they will be inside the ZIP (base names, unique ignoring case, no "." or ".."), short
    # enough to stay within 255 characters with a "(2)" suffix; every later step keys on these.
    named = safe_names([(_clean_name(n, "file")[:200], d) for n, d in files])
    zip_name = _clean_name(pack_name or "", "")[:200] or f"加密文件包-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    if not zip_name.lower().endswith(".zip"):
        zip_name += ".zip"
    name_findings = st.engine.scan(zip_name)
    if name_findings:  # the pack's own name travels in the clear
        views = [{"detector": f.detector, "masked": f.masked, "action": "block"} for f in name_findings]
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_PACK_REFUSED, target=target, outcome="failure", reason="pack_name",
                         findings=views)
        raise MixunError("dlp_blocked", ("文件包名称含有敏感信息，请修改", "The archive name contains sensitive data"),
                         reason="pack_name", findings=views)
    roles = ctx.principal.roles if ctx.principal else ()
    try:
        packed = scan_and_pack(named, password, st.engine, st.policy, roles=roles, unit_path=sender_unit_path(ctx))
    except WeakPackPassword as exc:  # checked above; kept for a policy that tightens the rules
        raise MixunError("weak_pack_password", failed=exc.failed) from None
    except PackRefused as exc:
        refused = [{"filename": n, "reason": v.reason or v.action, "action": v.action,
                    "findings": [{"detector": d.finding.detector, "masked": d.finding.masked, "action": d.action}
                                 for d in (v.verdict.decisions if v.verdict else ())]}
                   for n, v in exc.refused.items()]
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_PACK_REFUSED, target=target, outcome="failure",
                         files=[{k: r[k] for k in ("filename", "reason", "findings")} for r in refused])
        raise MixunError("dlp_blocked", ("文件包含不允许发送的内容，未打包",
                                         "A file contains content that may not be sent; nothing was packed"),
                         reason="pack_refused", files=refused) from None
    scans = {_virus_check(ctx, data, target, name) for name, data in named}
    if "pending" in scans:  # nobody can scan inside the encrypted archive later, so it cannot wait
        raise MixunError("scanner_unavailable")
    scan = "clean" if scans == {"clean"} else "unscanned"
    # The note names the files in the clear, so anything a detector finds in a name is masked there.
    listing = "、".join(n for n, _ in named)
    text = PACK_NOTE.format(names=mask_text(listing, st.engine.scan(listing)))
    blobs = _Blobs(ctx)
    try:
        row = {"kind": "secure_pack", "filename": zip_name, "mime": PACK_MIME, "size": len(packed.data),
               "width": None, "height": None, "sha256": hashlib.sha256(packed.data).hexdigest(),
               "blob_key": blobs.put(packed.data, "blob"), "thumb_key": None, "scan_status": scan}
        # C1: the archive keeps what was sent, so the files themselves are kept too, under our keys,
        # where only compliance and the archive (export, retention, legal hold) reach them.
        originals = [{"kind": ARCHIVE_ONLY, "filename": name, "mime": _mime(packed.verdicts[name].kind),
                      "size": len(data), "width": None, "height": None,
                      "sha256": hashlib.sha256(data).hexdigest(), "blob_key": blobs.put(data, "blob"),
                      "thumb_key": None, "scan_status": scan}
                     for name, data in named]
    except BaseException:
        blobs.discard()
        raise
    view, created = _send_with(ctx, conversation_id, blobs, text, client_id, "file", [row, *originals],
                               DlpOutcome(deliver_text=text))
    if created:
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.FILE_PACKED, target=target, message_id=view["id"], filename=zip_name,
                         files=[{"filename": n, "size": len(d)} for n, d in named], size=len(packed.data))
    return dict(view, instruction="请通过电话把解压密码告诉接收人,切勿通过即时通讯工具、短信或邮件发送密码。")


# ---- reading ----------------------------------------------------------------------------------------

def _check_scanned(att: Attachment) -> None:
    """D7: nobody downloads a file that is still waiting for, or failed, its virus scan."""
    if att.scan_status == "pending":
        raise MixunError("file_not_ready")
    if att.scan_status not in DOWNLOADABLE:
        raise MixunError("file_blocked")


def read_attachment(ctx: Ctx, attachment_id: int, thumbnail: bool, action: AuditAction = AuditAction.FILE_DOWNLOADED
                    ) -> tuple[bytes, str, str]:
    with ctx.rt.db.read() as s:
        att = s.get(Attachment, attachment_id)
        if att is None or att.message_id is None or att.kind == ARCHIVE_ONLY:
            raise MixunError("not_found")
        # The same visibility as the message itself: sent after the caller joined, not held for review
        # (except to its sender), not recalled.
        msg, _conv, _member = access_message(s, ctx, att.message_id)
        if msg.dlp_action == "hold" and msg.sender_id != ctx.user_id:
            raise MixunError("not_found")
        if msg.recalled_at is not None:
            raise MixunError("message_recalled")
        s.expunge(att)
    _check_scanned(att)
    dek = ctx.rt.keys.unwrap(att.data_key_wrapped)
    if thumbnail and att.thumb_key:
        return _load(ctx, dek, att.thumb_key, "thumb"), "image/png", f"thumb-{att.filename}.png"
    data = _load(ctx, dek, att.blob_key, "blob")
    if att.kind != "image":  # C5: file downloads are audited (image previews in the chat are not)
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, action, target=f"attachment:{att.id}", filename=att.filename,
                         conversation_id=att.conversation_id, size=att.size)
    return data, att.mime, att.filename


def sees_pack_contents(ctx: Ctx) -> bool:
    """The files kept from inside secure packs are for compliance (who may search the archive) only."""
    return ctx.principal is not None and Perm.ARCHIVE_SEARCH in ctx.principal.perms


def read_for_officer(ctx: Ctx, attachment_id: int, *, action: AuditAction, reason: str | None = None,
                     message_id: int | None = None) -> tuple[bytes, str, str]:
    """Compliance (archive, with a stated reason) and reviewers (an item's own message) open any
    attachment, including the files kept inside secure packs; never one that failed its virus scan.
    Every opening is audited."""
    with ctx.rt.db.read() as s:
        att = s.get(Attachment, attachment_id)
        if att is None or att.message_id is None or (message_id is not None and att.message_id != message_id):
            raise MixunError("not_found")
        if att.kind == ARCHIVE_ONLY and not sees_pack_contents(ctx):
            raise MixunError("not_found")
        s.expunge(att)
    _check_scanned(att)
    data = _load(ctx, ctx.rt.keys.unwrap(att.data_key_wrapped), att.blob_key, "blob")
    extra: dict[str, Any] = {"reason": reason} if reason else {}
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, action, target=f"attachment:{att.id}", filename=att.filename,
                     message_id=att.message_id, conversation_id=att.conversation_id, **extra)
    return data, att.mime, att.filename


# ---- files waiting for the scanner ------------------------------------------------------------------

def rescan_pending(rt: Runtime, limit: int = 20) -> int:
    """Scan files that arrived while clamd was away; tell the conversation when each is settled."""
    av = antivirus(rt)
    with rt.db.read() as s:
        waiting = s.execute(select(Attachment).where(Attachment.scan_status == "pending")
                            .order_by(Attachment.id).limit(limit)).scalars().all()
        for a in waiting:
            s.expunge(a)
    if not waiting or not av.available():
        return 0
    ctx = Ctx(rt=rt, ip="", client="mixun antivirus")
    done = 0
    for att in waiting:
        try:
            data = _load(ctx, rt.keys.unwrap(att.data_key_wrapped), att.blob_key, "blob")
        except Exception as exc:  # noqa: BLE001 - a lost or unreadable blob fails this file, not the queue
            log.warning("attachment %s cannot be read for scanning: %s", att.id, type(exc).__name__)
            result = ScanResult("error", detail=f"stored file unreadable ({type(exc).__name__})")
        else:
            result = av.scanner.scan_bytes(data)
        if result.status == "unavailable":
            break
        status = {"clean": "clean", "infected": "infected"}.get(result.status, "failed")
        with rt.db.write() as s:
            changed = affected(s.execute(update(Attachment).where(Attachment.id == att.id, Attachment.scan_status == "pending")
                                .values(scan_status=status)))
            if not changed:
                continue
            if status != "clean":
                audit.record(s, ctx, AuditAction.FILE_INFECTED if status == "infected" else AuditAction.FILE_SCAN_FAILED,
                             target=f"attachment:{att.id}", outcome="failure", filename=att.filename,
                             signature=result.signature, detail=result.detail)
            members = conversation_store.list_member_ids(s, att.conversation_id)
            held = s.execute(select(Message.dlp_action).where(Message.id == att.message_id)).scalar() == "hold"
            events.emit(s, ctx, [att.uploader_id] if held else list(members), EventType.ATTACHMENT_SCANNED,
                        {"conversation_id": att.conversation_id, "message_id": att.message_id,
                         "attachment_id": att.id, "scan_status": status})
        done += 1
    return done
