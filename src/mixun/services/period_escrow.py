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
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mixun.keystore import KeyStore, PeriodId, parse_period_label, period_label
from mixun.services.backup_crypto import (
    BackupFormatError,
    BackupKey,
    BackupKeyError,
    EncryptingWriter,
    decrypt_to,
    open_key,
    read_header,
)

FORMAT = "mixun-period-keys-1"


class EscrowPathRefused(ValueError):
    """The escrow's path lies inside the data directory or the key directory: the next backup would carry
    the period keys it exists to keep out of backups."""


def _refuse_inside(out: Path, roots: list[Path]) -> None:
    where = out.parent.resolve() / out.name
    for root in roots:
        root = root.resolve()
        if where == root or where.is_relative_to(root):
            raise EscrowPathRefused(
                f"托管文件不能写在数据目录或密钥目录中（下一次备份会带上它）：{out} "
                f"(the escrow must not be written inside the data or key directory {root}: the next backup "
                "would carry the period keys)")


def write(keys: KeyStore, out: Path, key: BackupKey, ahead: list[int] | None = None,
          inside: list[Path] | None = None,
          record: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Write the escrow of every period key held (after making those of ``ahead``, the current and next
    months, so an escrow taken now also covers texts written until the next one). Refused inside the key
    directory or any of ``inside`` (the data directory). Owner-only, written to a new temporary of a random
    name (O_EXCL, O_NOFOLLOW), fsynced; ``record`` (the audit) runs before the rename, so no escrow
    appears unaudited; the directory is fsynced after it."""
    _refuse_inside(out, [keys.dir, *(inside or [])])
    ring = keys.data_keys
    ring.ensure_periods(ahead or [])
    material, in_hsm = ring.periods.export()
    # Entries are named ``YYYYMM`` (a month-wide key, as before groups) or ``YYYYMM-<tag>`` (a retention
    # group's key); ``groups`` names the tags (for people reading an import's audit, not needed to load).
    names = sorted(period_label(p, g) for g, p in material)
    hsm_names = sorted(period_label(p, g) for g, p in in_hsm)
    doc = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
           "periods": {period_label(p, g): base64.b64encode(k).decode()
                       for (g, p), k in sorted(material.items(), key=lambda kv: (kv[0][1], kv[0][0]))},
           "groups": {t: n for t, n in ring.group_names().items() if any(g == t for g, _p in [*material, *in_hsm])},
           "in_hsm": hsm_names}
    result = {"periods": names, "in_hsm": hsm_names, "created_at": doc["created_at"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(8)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            sealed = EncryptingWriter(fh, key, {"format": FORMAT})
            sealed.write(json.dumps(doc).encode())
            sealed.close()
            fh.flush()
            os.fsync(fh.fileno())
        if record is not None:
            record(result)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return result


def read(path: Path, key_file: Path | None = None, passphrase: str | None = None) -> dict[PeriodId, bytes]:
    """{(group tag, period): key} of an escrow file; BackupKeyError for a wrong key, before anything is used."""
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
    out: dict[PeriodId, bytes] = {}
    for label, k in doc["periods"].items():
        pid = parse_period_label(label)
        if pid is None:
            raise BackupFormatError(f"{path}: not a period key's name: {label!r}")
        out[pid] = base64.b64decode(k)
    short = sorted(period_label(p, g) for (g, p), k in out.items() if len(k) != 32)
    if short:  # refused whole, before a restore or an import writes anything
        raise BackupFormatError(f"{path}: period keys not 32 bytes: {', '.join(short)}")
    return out


def load(keys: KeyStore, escrow: dict[PeriodId, bytes], written: list[PeriodId] | None = None) -> dict[str, list[str]]:
    """Put the escrow's period keys into the key store (``DataKeyRing.load_periods``, under the ring's write
    lock, the tombstones read inside it): a key this store already holds (the same bytes) is left as it
    is; one the ring records as destroyed is not brought back. Every entry is checked first (32 bytes, no
    different key already here): one bad entry refuses the whole escrow (ValueError) before anything is
    written. ``written`` collects the keys written as they are (for the audit of a run that fails part
    way). The result names keys by ``period_label``."""
    out = keys.data_keys.load_periods(escrow, written)
    return {k: [period_label(p, g) for g, p in v] for k, v in out.items()}
