"""The period keys' escrow (ADR 0020): the only copy of the period keys outside the live key store.

``mixun backup`` never copies period keys (``keys/periods/``), so that destroying a month's period key
reaches every backup. For disaster recovery the operator keeps an escrow file written by
``mixun keys export-periods``: the period keys present now, encrypted exactly like a backup (a backup
key file or a passphrase, services/backup_crypto.py). The escrow must be kept under its own, short
retention (only the latest few): an escrow taken before a destruction still holds the destroyed key.
Period keys kept in an HSM cannot leave it (the HSM's own replication is their recovery); the escrow
lists them by month only.
"""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mixun.keystore import KeyStore
from mixun.services.backup_crypto import (
    BackupKey,
    BackupKeyError,
    EncryptingWriter,
    decrypt_to,
    open_key,
    read_header,
)

FORMAT = "mixun-period-keys-1"


def write(keys: KeyStore, out: Path, key: BackupKey, ahead: list[int] | None = None) -> dict[str, Any]:
    """Write the escrow of every period key held (after making those of ``ahead``, the current and next
    months, so an escrow taken now also covers texts written until the next one). Owner-only, written
    to a temporary name and renamed."""
    ring = keys.data_keys
    ring.ensure_periods(ahead or [])
    material, in_hsm = ring.periods.export()
    doc = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
           "periods": {str(p): base64.b64encode(k).decode() for p, k in sorted(material.items())},
           "in_hsm": sorted(in_hsm)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            sealed = EncryptingWriter(fh, key, {"format": FORMAT})
            sealed.write(json.dumps(doc).encode())
            sealed.close()
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"periods": sorted(material), "in_hsm": sorted(in_hsm), "created_at": doc["created_at"]}


def read(path: Path, key_file: Path | None = None, passphrase: str | None = None) -> dict[int, bytes]:
    """{period: key} of an escrow file; BackupKeyError for a wrong key, before anything is used."""
    with path.open("rb") as fh:
        header = read_header(fh)
        if header.get("format") != FORMAT:
            raise BackupKeyError(f"{path} is not an escrow of Mixun period keys")
        key = open_key(header, key_file, passphrase)
        buf = io.BytesIO()
        decrypt_to(fh, header, key, buf)
    doc = json.loads(buf.getvalue())
    if doc.get("format") != FORMAT:
        raise BackupKeyError(f"{path} is not an escrow of Mixun period keys")
    return {int(p): base64.b64decode(k) for p, k in doc["periods"].items()}


def load(keys: KeyStore, escrow: dict[int, bytes]) -> dict[str, list[int]]:
    """Put the escrow's period keys into the key store: a period this store already holds is left as it
    is; one the ring records as destroyed is not brought back."""
    ring = keys.data_keys
    destroyed = ring.destroyed_periods()
    loaded, present, refused = [], [], []
    for period, material in sorted(escrow.items()):
        if period in destroyed:
            refused.append(period)
        elif ring.periods.load(period, material):
            loaded.append(period)
        else:
            present.append(period)
    return {"loaded": loaded, "already_present": present, "destroyed_not_loaded": refused}
