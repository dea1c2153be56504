"""Encrypted backup files (issue 20 item 11): the backup never holds its own key.

Layout: ``MAGIC``, one JSON header line, then chunks. The header names the cipher (AES-256-GCM) and how
the key is obtained — a key file the operator keeps apart from the backups (identified by a hash of the
key) or a passphrase (scrypt, with its salt and cost) — and a check value, so a wrong key is refused
before a single byte is decrypted. Each chunk is ``len(4) | nonce(12) | ciphertext+tag`` with the
header's digest, the chunk's index and a last-chunk flag as associated data: a chunk changed, dropped,
reordered or cut off at the end fails authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"MIXUN-BACKUP-ENC-1\n"
CHUNK = 1 << 20
SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}


class BackupKeyError(ValueError):
    """The key or passphrase given does not open this backup (nothing was written)."""


class BackupFormatError(ValueError):
    """The file is not an encrypted Mixun backup, or it was changed or cut off."""


@dataclass(frozen=True)
class BackupKey:
    key: bytes
    kdf: dict[str, Any]


def _check(key: bytes) -> str:
    return hmac.new(key, b"mixun-backup-key-check", hashlib.sha256).hexdigest()


def key_from_file(path: Path, create: bool = False) -> tuple[BackupKey, bool]:
    """The 32-byte key in ``path`` (created, mode 0600, when ``create`` and missing); (key, created)."""
    created = False
    if not path.exists():
        if not create:
            raise BackupKeyError(f"backup key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        created = True
    key = path.read_bytes()
    if len(key) != 32:
        raise BackupKeyError(f"backup key file {path} must hold exactly 32 bytes")
    return BackupKey(key, {"type": "key-file", "key_id": hashlib.sha256(key).hexdigest()[:16]}), created


def key_from_passphrase(passphrase: str, salt: bytes | None = None, cost: dict[str, int] | None = None) -> BackupKey:
    if len(passphrase) < 12:
        raise BackupKeyError("a backup passphrase needs at least 12 characters")
    salt = salt or os.urandom(16)
    cost = cost or SCRYPT
    key = Scrypt(salt=salt, length=32, n=cost["n"], r=cost["r"], p=cost["p"]).derive(passphrase.encode())
    return BackupKey(key, {"type": "scrypt", "salt": salt.hex(), **cost})


class EncryptingWriter:
    """A write-only file object: what is written goes out encrypted in ``CHUNK``-sized pieces."""

    def __init__(self, out: IO[bytes], key: BackupKey, meta: dict[str, Any] | None = None) -> None:
        self.out, self.aead = out, AESGCM(key.key)
        header = {"cipher": "AES-256-GCM", "chunk": CHUNK, "kdf": key.kdf, "check": _check(key.key), **(meta or {})}
        line = json.dumps(header, sort_keys=True).encode() + b"\n"
        out.write(MAGIC + line)
        self.ad = hashlib.sha256(MAGIC + line).digest()
        self.buf = bytearray()
        self.index = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        self.buf += data
        while len(self.buf) > CHUNK:  # keep one back: the last chunk carries the final flag
            self._emit(bytes(self.buf[:CHUNK]), last=False)
            del self.buf[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, last: bool) -> None:
        nonce = os.urandom(12)
        ad = self.ad + struct.pack(">Q?", self.index, last)
        sealed = self.aead.encrypt(nonce, plain, ad)
        self.out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self.index += 1

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self.buf), last=True)
            self.buf.clear()
            self.closed = True
            self.out.flush()


def read_header(fh: IO[bytes]) -> dict[str, Any]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise BackupFormatError("not an encrypted Mixun backup")
    line = fh.readline(65536)
    try:
        header: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise BackupFormatError("the backup's header is damaged") from exc
    header["_ad"] = hashlib.sha256(MAGIC + line).digest()
    return header


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def open_key(header: dict[str, Any], key_file: Path | None, passphrase: str | None) -> BackupKey:
    """The key for this header from what the operator gave; BackupKeyError when it is not the right one."""
    kdf = header.get("kdf") or {}
    if kdf.get("type") == "scrypt":
        if passphrase is None:
            raise BackupKeyError("this backup was encrypted with a passphrase: give --passphrase-file or "
                                 "MIXUN_BACKUP_PASSPHRASE")
        key = key_from_passphrase(passphrase, bytes.fromhex(kdf["salt"]),
                                  {"n": int(kdf["n"]), "r": int(kdf["r"]), "p": int(kdf["p"])})
    elif kdf.get("type") == "key-file":
        if key_file is None:
            raise BackupKeyError("this backup was encrypted with a key file: give --key-file")
        key, _ = key_from_file(key_file)
        if key.kdf["key_id"] != kdf.get("key_id"):
            raise BackupKeyError(f"wrong backup key: this backup needs the key {kdf.get('key_id')}, "
                                 f"{key_file} holds {key.kdf['key_id']}")
    else:
        raise BackupFormatError("unknown key type in the backup's header")
    if not hmac.compare_digest(_check(key.key), str(header.get("check", ""))):
        raise BackupKeyError("wrong backup key or passphrase")
    return key


def decrypt_to(fh: IO[bytes], header: dict[str, Any], key: BackupKey, out: IO[bytes],
               progress: Callable[[int], None] | None = None) -> int:
    """Decrypt every chunk of ``fh`` (after its header) into ``out``; raises BackupFormatError on any
    changed, missing or extra chunk. Returns the plaintext size."""
    from cryptography.exceptions import InvalidTag

    aead, ad, index, total = AESGCM(key.key), header["_ad"], 0, 0
    while True:
        size_raw = fh.read(4)
        if len(size_raw) != 4:
            raise BackupFormatError("the backup is cut off (its last part is missing)")
        (size,) = struct.unpack(">I", size_raw)
        if size > CHUNK + 16:
            raise BackupFormatError("the backup is damaged (a part is too large)")
        nonce, sealed = fh.read(12), fh.read(size)
        if len(nonce) != 12 or len(sealed) != size:
            raise BackupFormatError("the backup is cut off")
        for last in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, ad + struct.pack(">Q?", index, last))
                break
            except InvalidTag:
                continue
        else:
            raise BackupFormatError(f"the backup was changed (part {index} fails its check)")
        out.write(plain)
        total += len(plain)
        index += 1
        if progress:
            progress(total)
        if last:
            if fh.read(1):
                raise BackupFormatError("the backup has data after its last part")
            return total
