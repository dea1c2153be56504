"""Secure packing (REQUIREMENTS D2): scan the files, then pack them into an AES-256 encrypted ZIP.

The password is checked, used once to encrypt, and forgotten: it is never stored, logged or put in an
exception message. The recipient is told to ask the sender for it by phone.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Collection
from dataclasses import dataclass

import pyzipper

from mixun.domain.dlp import DlpEngine, Policy

from .inspect import DocumentVerdict, inspect_document

MIN_LENGTH = 8
PACK_INSTRUCTION_ZH = "此文件已加密打包。请通过电话向发件人索取解压密码，切勿通过即时通讯工具传递密码。"
PACK_INSTRUCTION_EN = "This archive is encrypted. Ask the sender for the password by phone; never send it by chat."


def check_pack_password(password: str) -> list[str]:
    """The rules the password fails: min_length (8), letters, digits, symbols. Empty when it passes."""
    failed = []
    if len(password) < MIN_LENGTH:
        failed.append("min_length")
    if not any(c.isalpha() for c in password):
        failed.append("letters")
    if not any(c.isdigit() for c in password):
        failed.append("digits")
    if not any(not c.isalnum() and not c.isspace() for c in password):
        failed.append("symbols")
    return failed


class WeakPackPassword(ValueError):
    def __init__(self, failed: list[str]) -> None:
        super().__init__("pack password fails: " + ", ".join(failed))  # the rules, never the password
        self.failed = failed


class PackRefused(ValueError):
    """Some file may not be packed; `refused` maps the file name to its verdict."""

    def __init__(self, refused: dict[str, DocumentVerdict]) -> None:
        super().__init__("refused: " + ", ".join(f"{n} ({v.reason or v.action})" for n, v in refused.items()))
        self.refused = refused


def safe_names(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Base names only (no paths, no traversal), made unique: 报告.docx, 报告(2).docx."""
    seen: set[str] = set()
    out = []
    for name, data in files:
        base = posixpath.basename(name.replace("\\", "/")).strip()
        if base in ("", ".", ".."):
            base = "file"
        stem, dot, ext = base.rpartition(".")
        if not dot:
            stem, ext = base, ""
        candidate, n = base, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem}({n}).{ext}" if dot else f"{stem}({n})"
        seen.add(candidate.lower())
        out.append((candidate, data))
    return out


def secure_pack(files: list[tuple[str, bytes]], password: str) -> bytes:
    """An AES-256 (WinZip AE-2) encrypted ZIP of `files`. Raises WeakPackPassword. Does not scan."""
    failed = check_pack_password(password)
    if failed:
        raise WeakPackPassword(failed)
    if not files:
        raise ValueError("nothing to pack")
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        for name, data in safe_names(files):
            # Non-ASCII names get the UTF-8 flag from zipfile, so Chinese names survive unzip tools.
            zf.writestr(name, data, compress_type=pyzipper.ZIP_DEFLATED)
    return buf.getvalue()


def is_encrypted_zip(data: bytes) -> bool:
    """True when `data` is a ZIP with at least one encrypted entry (ZipCrypto or AES)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(i.flag_bits & 0x1 for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


@dataclass(frozen=True)
class PackResult:
    data: bytes
    verdicts: dict[str, DocumentVerdict]


def scan_and_pack(
    files: list[tuple[str, bytes]],
    password: str,
    engine: DlpEngine,
    policy: Policy,
    *,
    roles: Collection[str] = (),
    unit_path: str = "",
) -> PackResult:
    """Inspect every file as channel `file`, then pack. Raises WeakPackPassword or PackRefused.

    Packing is the safe way to send personal data (D2), so findings the policy would only warn about
    or mask are packed; anything blocked or held (markings, credentials, prohibited content, bulk data,
    disallowed types) refuses the whole pack: nothing inside an encrypted archive can be reviewed later.
    The password is checked first so that a weak one costs no scanning.
    """
    failed = check_pack_password(password)
    if failed:
        raise WeakPackPassword(failed)
    named = safe_names(files)
    verdicts = {
        name: inspect_document(data, name, engine, policy, channel="file", roles=roles, unit_path=unit_path)
        for name, data in named
    }
    refused = {n: v for n, v in verdicts.items() if not v.allowed}
    if refused:
        raise PackRefused(refused)
    return PackResult(secure_pack(named, password), verdicts)
