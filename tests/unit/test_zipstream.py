"""The export download is a zip produced piece by piece, never whole in memory."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from mixun.api.zipstream import CHUNK, zip_directory


def test_export_zip_is_streamed_in_pieces_no_bigger_than_a_chunk(tmp_path: Path) -> None:
    """A 5 MB export leaves the server in many pieces, none much bigger than one read chunk, and the
    pieces together are a zip holding every file as it was."""
    root = tmp_path / "exp"
    (root / "attachments").mkdir(parents=True)
    big = os.urandom(5 * CHUNK)  # random bytes do not compress: the pieces are as big as they get
    (root / "attachments" / "1-scan.pdf").write_bytes(big)
    (root / "manifest.json").write_text('{"format": "x"}', encoding="utf-8")
    (root / "link").symlink_to("/etc/passwd")
    pieces = list(zip_directory(root, "exp"))
    assert len([p for p in pieces if p]) >= 5
    assert max(len(p) for p in pieces) < CHUNK + 64 * 1024
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as z:
        assert sorted(z.namelist()) == ["exp/attachments/1-scan.pdf", "exp/manifest.json"]
        assert z.read("exp/attachments/1-scan.pdf") == big
        assert z.testzip() is None
