"""Files at rest as a run of independently sealed segments (docs/drive.md).

A file of any size is stored as segments of ``SEGMENT`` plaintext bytes (the last one shorter), each
sealed with AES-256-GCM under the file's own data key, with the segment's index and the file's segment
count in its associated data. So a reader decrypts only the segments a Range needs, memory stays at one
segment whatever the size, and a segment moved, repeated, swapped in from another file or cut off fails
authentication instead of yielding other bytes.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEGMENT = 1024 * 1024
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
_VERSION = b"S1"


def segment_count(size: int) -> int:
    return max(1, -(-size // SEGMENT))


def _aad(purpose: bytes, index: int, count: int) -> bytes:
    return _VERSION + purpose + struct.pack("!QQ", index, count)


def seal_segment(key: bytes, plain: bytes, index: int, count: int, purpose: bytes = b"drive") -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plain, _aad(purpose, index, count))


def open_segment(key: bytes, sealed: bytes, index: int, count: int, purpose: bytes = b"drive") -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], _aad(purpose, index, count))


def sealed_length(size: int) -> int:
    return size + segment_count(size) * OVERHEAD


class SegmentReader:
    """Plaintext bytes [start, end) of a sealed file, one segment in memory at a time."""

    def __init__(self, path: Path, key: bytes, size: int, purpose: bytes = b"drive") -> None:
        self.path = path
        self.key = key
        self.size = size
        self.count = segment_count(size)
        self.purpose = purpose

    def _segment(self, fh: BinaryIO, index: int) -> bytes:
        fh.seek(index * (SEGMENT + OVERHEAD))
        plain_len = min(SEGMENT, self.size - index * SEGMENT) if self.size else 0
        sealed = fh.read(plain_len + OVERHEAD)
        if len(sealed) != plain_len + OVERHEAD:
            raise ValueError("stored file is cut short")
        return open_segment(self.key, sealed, index, self.count, self.purpose)

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        if start >= end:
            if self.size == 0:  # the empty file still authenticates its one (empty) segment
                with self.path.open("rb") as fh:
                    self._segment(fh, 0)
            return
        with self.path.open("rb") as fh:
            for index in range(start // SEGMENT, (end - 1) // SEGMENT + 1):
                plain = self._segment(fh, index)
                base = index * SEGMENT
                yield plain[max(start - base, 0): min(end - base, len(plain))]


def seal_chunk(key: bytes, data: bytes, first_index: int, count: int, purpose: bytes = b"drive") -> bytes:
    """Seal ``data`` (a whole number of segments, or the file's tail) as segments ``first_index``...
    of a file of ``count`` segments: sealed chunks of one file, concatenated in order, are the file."""
    out = bytearray()
    for n, off in enumerate(range(0, max(len(data), 1), SEGMENT)):
        out += seal_segment(key, data[off: off + SEGMENT], first_index + n, count, purpose)
    return bytes(out)
