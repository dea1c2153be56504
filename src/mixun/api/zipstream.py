"""A directory as a zip file, produced piece by piece for a streaming response.

zipfile writes to any object with ``write``; given one that cannot seek, it uses data descriptors, so
each file is read from disk in chunks, compressed and handed on as it goes: memory stays at a chunk
and the compressor's window, whatever the export's size.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20


class _Pipe:
    """What zipfile writes into; the generator drains it after each step."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: bytes) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_directory(root: Path, prefix: str) -> Iterator[bytes]:
    """Every regular file under ``root`` (symbolic links are not followed), stored as prefix/relative."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for dirpath, dirs, names in os.walk(root):
            dirs.sort()
            for n in sorted(names):
                path = Path(dirpath) / n
                if path.is_symlink() or not path.is_file():
                    continue
                info = zipfile.ZipInfo.from_file(path, f"{prefix}/{path.relative_to(root).as_posix()}")
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                        if pipe.parts:
                            yield pipe.take()
                yield pipe.take()
    yield pipe.take()
