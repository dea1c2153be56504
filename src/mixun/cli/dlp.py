"""`mixun dlp scan [FILE]`: scan a text or document file (stdin when omitted) and print the findings.

One JSON object per finding per line — {"detector", "start", "end", "action", "masked"} — with
start/end as code-point offsets into the text as read (for documents: into the extracted text).
"""

from __future__ import annotations

import json
import sys
from typing import BinaryIO, TextIO

from mixun.domain.dlp import DEFAULT_POLICY, DlpEngine, Policy, decide
from mixun.files.inspect import FileKind, UnsupportedFile, decode_text, extract_text, sniff


def scan_command(
    path: str | None,
    stdout: TextIO,
    *,
    stdin: BinaryIO | None = None,
    stderr: TextIO | None = None,
    engine: DlpEngine | None = None,
    policy: Policy | None = None,
) -> int:
    """Scan FILE (or stdin) and write one JSON line per finding; exit status 0 when the scan ran.

    The content decides how it is read, not the name: Word/Excel/PowerPoint/PDF (and legacy Office,
    best effort) are scanned on their extracted text and judged as channel `file`; plain text (UTF-8,
    UTF-16 with BOM, else GB18030) is scanned as written and judged as channel `direct`, the channel
    a pasted message would go to, so `action` shows what a 1:1 send would do. Images and encrypted
    archives have no text to scan and print nothing. Anything else is refused on stderr with exit 2;
    an unreadable path exits 1. Without `engine`/`policy` the built-in lexicons and DEFAULT_POLICY
    are used; the server passes the configured ones.
    """
    err = stderr or sys.stderr
    try:
        if path is None or path == "-":
            data = (stdin or sys.stdin.buffer).read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        err.write(f"mixun dlp scan: cannot read {path}: {exc.strerror or exc}\n")
        return 1
    if not data:
        return 0
    try:
        kind: FileKind | None = sniff(data)
    except UnsupportedFile as exc:
        kind = None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            err.write(f"mixun dlp scan: not a text or document file ({exc.reason}: {exc.detail})\n")
            return 2
    if kind is not None:
        if kind in (FileKind.TEXT, FileKind.CSV):
            try:
                text = decode_text(data)
            except UnicodeDecodeError:
                text = data.decode("utf-8", "replace")
        else:
            try:
                text = extract_text(data, kind)
            except Exception as exc:  # noqa: BLE001 - a broken document is reported, not a traceback
                err.write(f"mixun dlp scan: cannot read the {kind} document ({type(exc).__name__})\n")
                return 2
    channel = "direct" if kind in (None, FileKind.TEXT, FileKind.CSV) else "file"
    engine = engine or DlpEngine()
    verdict = decide(engine.scan(text), policy or DEFAULT_POLICY, channel=channel, roles=(), unit_path="")
    for d in verdict.decisions:
        f = d.finding
        row = {"detector": f.detector, "start": f.start, "end": f.end, "action": d.action, "masked": f.masked}
        stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0
