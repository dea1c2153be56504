"""Drive files as sealed 1 MiB segments (files/segments.py, ADR 0011): any range reads back exactly; a
segment moved, repeated, cut off or taken from another file fails instead of giving other bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from mixun.files.segments import OVERHEAD, SEGMENT, SegmentReader, seal_chunk, segment_count


def _store(tmp: Path, key: bytes, data: bytes, chunk: int = 4 * SEGMENT) -> Path:
    count = segment_count(len(data))
    path = tmp / "blob"
    with path.open("wb") as out:
        for i, off in enumerate(range(0, max(len(data), 1), chunk)):
            out.write(seal_chunk(key, data[off:off + chunk], i * (chunk // SEGMENT), count))
    return path


def test_any_range_reads_back(tmp_path: Path) -> None:
    key = os.urandom(32)
    data = os.urandom(5 * SEGMENT + 12345)
    path = _store(tmp_path, key, data)
    assert path.stat().st_size == len(data) + segment_count(len(data)) * OVERHEAD
    r = SegmentReader(path, key, len(data))
    assert b"".join(r.iter_range()) == data
    for start, end in [(0, 1), (SEGMENT - 3, SEGMENT + 3), (2 * SEGMENT, 4 * SEGMENT + 1), (len(data) - 5, len(data))]:
        assert b"".join(r.iter_range(start, end)) == data[start:end]
    assert b"".join(r.iter_range(10, 10)) == b""


def test_tampering_is_detected(tmp_path: Path) -> None:
    key = os.urandom(32)
    data = os.urandom(3 * SEGMENT)
    path = _store(tmp_path, key, data)
    raw = path.read_bytes()
    seg = SEGMENT + OVERHEAD
    swapped = raw[seg:2 * seg] + raw[:seg] + raw[2 * seg:]
    path.write_bytes(swapped)
    with pytest.raises(InvalidTag):
        b"".join(SegmentReader(path, key, len(data)).iter_range())
    # Cut off after two segments and declared as a two-segment file: the count is authenticated.
    path.write_bytes(raw[:2 * seg])
    with pytest.raises(InvalidTag):
        b"".join(SegmentReader(path, key, 2 * SEGMENT).iter_range())
    # Cut short against its declared size.
    with pytest.raises(ValueError):
        b"".join(SegmentReader(path, key, len(data)).iter_range())
    # Another key (another file's segments) does not open.
    path.write_bytes(raw)
    with pytest.raises(InvalidTag):
        b"".join(SegmentReader(path, os.urandom(32), len(data)).iter_range(0, 10))
