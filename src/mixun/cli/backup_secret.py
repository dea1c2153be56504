"""The backup key or passphrase from the options and environment (backups, restores, the period escrow)."""

from __future__ import annotations

import argparse
from typing import Any


def add_secret_options(parser: argparse.ArgumentParser, creates: str) -> None:
    """``--key-file`` / ``--passphrase-file`` for a command that reads or writes an encrypted backup or
    escrow; ``creates`` names the command that makes the key file when it is missing."""
    parser.add_argument("--key-file", help="the backup key, kept apart from the backups (default "
                        f"MIXUN_BACKUP_KEY_FILE, then ~/.mixun/backup.key; {creates} creates it)")
    parser.add_argument("--passphrase-file", help="use a passphrase instead (or MIXUN_BACKUP_PASSPHRASE)")


def backup_secret(args: argparse.Namespace) -> tuple[Any, Any]:
    """(passphrase or None, the key file's path) from the options and environment."""
    import os
    from pathlib import Path

    passphrase = None
    if getattr(args, "passphrase_file", None):
        passphrase = Path(args.passphrase_file).read_text().rstrip("\n")
    elif os.environ.get("MIXUN_BACKUP_PASSPHRASE"):
        passphrase = os.environ["MIXUN_BACKUP_PASSPHRASE"]
    key_file = Path(args.key_file or os.environ.get("MIXUN_BACKUP_KEY_FILE") or Path.home() / ".mixun" / "backup.key")
    return passphrase, key_file
