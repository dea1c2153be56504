"""The backup key or passphrase from the options and environment (backups, restores, the period escrow)."""

from __future__ import annotations

import argparse
from typing import Any


def backup_secret(args: argparse.Namespace) -> tuple[Any, Any]:
    """(passphrase, key file path, its key when a key file is used) from the options and environment."""
    import os
    from pathlib import Path

    passphrase = None
    if getattr(args, "passphrase_file", None):
        passphrase = Path(args.passphrase_file).read_text().rstrip("\n")
    elif os.environ.get("MIXUN_BACKUP_PASSPHRASE"):
        passphrase = os.environ["MIXUN_BACKUP_PASSPHRASE"]
    key_file = Path(args.key_file or os.environ.get("MIXUN_BACKUP_KEY_FILE") or Path.home() / ".mixun" / "backup.key")
    return passphrase, key_file
