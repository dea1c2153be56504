"""Images in conversations: type judged from content, size limit, metadata stripped, thumbnail,
encrypted at rest with a per-file data key."""

from __future__ import annotations

import hashlib
import io
import secrets
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from mixun.db.models import Attachment
from mixun.errors import MixunError
from mixun.services.conversations import access_conversation
from mixun.services.runtime import Ctx

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
            raise MixunError("unsupported_media", "只支持 PNG、JPEG、GIF、WebP 图片", detected=fmt.lower())
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
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
        raise MixunError("unsupported_media", "文件不是可识别的图片") from exc


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


def send_image(ctx: Ctx, conversation_id: int, data: bytes, filename: str, client_id: str | None) -> dict[str, Any]:
    from mixun.services.messages import send_message

    if len(data) > ctx.rt.settings.max_image_bytes:
        raise MixunError("file_too_large", limit=ctx.rt.settings.max_image_bytes)
    if not data:
        raise MixunError("unsupported_media", "文件为空")
    with ctx.rt.db.read() as s:
        access_conversation(s, ctx, conversation_id)
    clean, thumb, mime, width, height = _clean_image(data)
    dek, wrapped = ctx.rt.keys.new_data_key()
    blob_key = _store(ctx, dek, clean, "blob")
    thumb_key = _store(ctx, dek, thumb, "thumb")
    with ctx.rt.db.write() as s:
        att = Attachment(conversation_id=conversation_id, uploader_id=ctx.user_id, kind="image",
                         filename=filename[:255], mime=mime, size=len(clean), width=width, height=height,
                         sha256=hashlib.sha256(clean).hexdigest(), blob_key=blob_key, thumb_key=thumb_key,
                         data_key_wrapped=wrapped, scan_status="clean")
        s.add(att)
        s.flush()
        att_id = att.id
    view, _ = send_message(ctx, conversation_id, "", client_id=client_id, attachment_ids=[att_id], kind="image")
    return view


def read_attachment(ctx: Ctx, attachment_id: int, thumbnail: bool) -> tuple[bytes, str, str]:
    with ctx.rt.db.read() as s:
        att = s.get(Attachment, attachment_id)
        if att is None or att.message_id is None:
            raise MixunError("not_found")
        access_conversation(s, ctx, att.conversation_id)
        s.expunge(att)
    if att.scan_status != "clean":
        raise MixunError("forbidden", "文件尚未通过病毒扫描")
    dek = ctx.rt.keys.unwrap(att.data_key_wrapped)
    if thumbnail and att.thumb_key:
        return _load(ctx, dek, att.thumb_key, "thumb"), "image/png", f"thumb-{att.filename}.png"
    return _load(ctx, dek, att.blob_key, "blob"), att.mime, att.filename
