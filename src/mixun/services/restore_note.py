"""The note ``mixun restore`` leaves for the restored server's audit trail, which ``mixun init`` records
(``keys.restored``) and removes: the trail is not open while restoring."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from mixun.config import Settings

RESTORE_NOTE = "restored.json"


def leave_restore_note(settings: Settings, manifest: dict[str, Any]) -> None:
    """What this restore did, for the restored server's audit trail: the trail is not open while restoring
    (the database was just put back, not yet migrated), so ``mixun init`` records it (``keys.restored``)
    and removes the note (``record_restore``)."""
    note = {"restored_at": datetime.now(UTC).isoformat(), "backup_created_at": manifest.get("created_at"),
            "periods_restored": manifest["periods_restored"], "periods_on_host": manifest["periods_on_host"],
            "periods_missing": manifest["periods_missing"]}
    path = settings.key_file.parent / RESTORE_NOTE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{RESTORE_NOTE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(note, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def restore_note(settings: Settings) -> dict[str, Any] | None:
    """The note a restore left for the audit trail, if any: only the fields a restore writes, of their
    types - the file is in the data dir, and whatever it says goes into the audit trail (never a field
    that would choose the record's actor, outcome or target, or stop ``mixun init``), read without
    following a link (a link to some other JSON file would copy it into the trail)."""
    path = settings.key_file.parent / RESTORE_NOTE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:  # a link, or not readable
        return {"unreadable_note": True}
    try:
        with os.fdopen(fd, "rb") as fh:
            raw = json.loads(fh.read(1 << 16))
    except ValueError:
        return {"unreadable_note": True}
    if not isinstance(raw, dict):
        return {"unreadable_note": True}
    note: dict[str, Any] = {}
    for name in ("restored_at", "backup_created_at"):
        if isinstance(raw.get(name), str):
            note[name] = raw[name][:64]
    for name in ("periods_restored", "periods_on_host", "periods_missing"):
        value = raw.get(name)
        # A month-wide key is named by its month (YYYYMM), a retention group's by "YYYYMM-<hex tag>".
        if isinstance(value, list) and all((isinstance(p, int) and not isinstance(p, bool))
                                           or (isinstance(p, str) and re.fullmatch(r"\d{6}-[0-9a-f]{1,32}", p))
                                           for p in value):
            note[name] = value[:1200]
    if set(raw) - set(note):
        note["unexpected_fields"] = len(set(raw) - set(note))  # fields no restore writes: not copied
    return note


def drop_restore_note(settings: Settings) -> None:
    (settings.key_file.parent / RESTORE_NOTE).unlink(missing_ok=True)
