"""The master key and envelope encryption (AES-256-GCM).

The master key lives in a file readable only by its owner, apart from the database. Each object is
encrypted with its own data key; the data key is stored wrapped by the master key, so destroying a
wrapped data key destroys what it protected.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


def ensure_master_key(path: Path) -> bool:
    """Create the key file (mode 0600) if missing. True when it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.exists():
        os.chmod(path, 0o600)
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return True


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: bytes | None = None

    @property
    def master(self) -> bytes:
        if self._master is None:
            key = self.path.read_bytes()
            if len(key) != 32:
                raise RuntimeError(f"master key at {self.path} is not 32 bytes")
            self._master = key
        return self._master

    @staticmethod
    def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)

    @staticmethod
    def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        return AESGCM(key).decrypt(sealed[1:13], sealed[13:], aad)

    def new_data_key(self) -> tuple[bytes, bytes]:
        """(plain data key, wrapped data key)."""
        dek = AESGCM.generate_key(bit_length=256)
        return dek, self._seal(self.master, dek, b"dek")

    def unwrap(self, wrapped: bytes) -> bytes:
        return self._open(self.master, wrapped, b"dek")

    def encrypt_small(self, plaintext: bytes, purpose: str) -> bytes:
        """Envelope-encrypt a small value: wrapped key length (2 bytes) + wrapped key + ciphertext."""
        dek, wrapped = self.new_data_key()
        body = self._seal(dek, plaintext, purpose.encode())
        return len(wrapped).to_bytes(2, "big") + wrapped + body

    def decrypt_small(self, blob: bytes, purpose: str) -> bytes:
        n = int.from_bytes(blob[:2], "big")
        dek = self.unwrap(blob[2 : 2 + n])
        return self._open(dek, blob[2 + n :], purpose.encode())

    def encrypt_with(self, dek: bytes, plaintext: bytes, purpose: str) -> bytes:
        return self._seal(dek, plaintext, purpose.encode())

    def decrypt_with(self, dek: bytes, sealed: bytes, purpose: str) -> bytes:
        return self._open(dek, sealed, purpose.encode())
