"""Online, consistent backups of database, files and keys, and restore into an empty data dir.

SQLite is copied with its online backup API (a consistent snapshot while the server runs); PostgreSQL
with pg_dump (one MVCC snapshot). The archive is a tar.gz with a manifest of SHA-256 sums that
restore checks before it writes anything, and the whole of it is encrypted (services/backup_crypto.py)
under a key the backup does not hold: a key file the operator keeps apart, or a passphrase. The
master key inside is therefore never in the clear in a backup.

The period keys (``keys/periods/``, ADR 0020) are never in a backup: destroying a month's period key is
what makes retention's destruction reach every backup. A backup therefore restores its message texts only
together with an escrow of the period keys (``mixun keys export-periods``; ``restore(periods=...)``), and
a month whose period key was destroyed reads as destroyed. The manifest lists the months the backup's
ring needs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from mixun.config import Settings, period_keys_root, period_keys_root_given
from mixun.keystore import (
    ORIGIN,
    OWNER,
    DataKeyRing,
    PeriodKeys,
    parse_period_label,
    period_label,
    ring_id_in,
)
from mixun.services import period_escrow
from mixun.services.backup_crypto import (
    BackupKey,
    EncryptingWriter,
    decrypt_to,
    is_encrypted,
    open_key,
    read_header,
)
from mixun.services.restore_note import RESTORE_NOTE, leave_restore_note

Progress = Callable[[int, int], None]

FORMAT = "mixun-backup-1"
RING = DataKeyRing.FILE  # the key ring of message-text data keys, in the key directory (docs/keys.md)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    return args, env


def backup(settings: Settings, out: Path, key: BackupKey, progress: Progress | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        # Keys first, then the database: the signed audit head must never be newer than the trail it
        # vouches for, or a restore would look like a truncated trail.
        keys_stage = stage / "keys"
        if settings.key_file.parent.exists():
            # Not the dot files: the audit head's lock file and half-written temporaries. Not the key ring
            # either: a file copy of it taken while a process commits a new data key can be torn.
            # Nor the period keys: they must live outside every backup (ADR 0020).
            shutil.copytree(settings.key_file.parent, keys_stage,
                            ignore=shutil.ignore_patterns(".*", RING, f"{RING}-*", PeriodKeys.DIR,
                                                         RESTORE_NOTE))
            ring = settings.key_file.parent / RING
            if ring.is_file():
                _sqlite_snapshot(ring, keys_stage / RING)
                _carry_fallback_periods(settings, keys_stage / PeriodKeys.DIR)
        if settings.is_sqlite:
            _sqlite_snapshot(Path(str(make_url(settings.database_url).database)), stage / "database.sqlite")
            db_file = "database.sqlite"
        else:
            args, env = _pg_env(settings.database_url)
            db_file = "database.pgdump"
            subprocess.run(["pg_dump", *args, "-Fc", "-f", str(stage / db_file),  # noqa: S603,S607
                            make_url(settings.database_url).database or "mixun"], check=True, env=env)
        files = [(stage / db_file, db_file)]
        if keys_stage.exists():
            files += [(p, "keys/" + str(p.relative_to(keys_stage))) for p in sorted(keys_stage.rglob("*"))
                      if p.is_file()]
        if settings.blob_dir.exists():
            for p in sorted(settings.blob_dir.rglob("*")):
                if p.is_file():
                    files.append((p, "blobs/" + str(p.relative_to(settings.blob_dir))))
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                    "database": "sqlite" if settings.is_sqlite else "postgresql",
                    "period_keys": {"included": False, "needed": _periods_needed(keys_stage / RING)},
                    "files": {name: {"sha256": _sha256(p), "size": p.stat().st_size} for p, name in files}}
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_suffix(out.suffix + ".partial")
        fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                sealed = EncryptingWriter(fh, key, {"format": FORMAT, "database": manifest["database"]})
                with tarfile.open(fileobj=sealed, mode="w|gz") as tar:  # type: ignore[call-overload]
                    data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                    info = tarfile.TarInfo("manifest.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    for i, (p, name) in enumerate(files, 1):
                        tar.add(p, arcname=name)
                        if progress:
                            progress(i, len(files))
                sealed.close()
                fh.flush()
                os.fsync(fh.fileno())
            tmp_out.replace(out)
        except BaseException:
            tmp_out.unlink(missing_ok=True)  # interrupted: no half-written backup under any name
            raise
    return manifest


def _periods_needed(ring: Path) -> list[int | str]:
    """The period keys the (snapshot of the) ring needs to open its conversations' keys: a month (an int)
    for a month-wide key, ``YYYYMM-<tag>`` for a retention group's (``keystore.period_label``)."""
    if not ring.is_file():
        return []
    conn = sqlite3.connect(str(ring))
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(data_keys)")}
        if "period_wrapped" not in columns:
            return []
        group = "pgroup" if "pgroup" in columns else "''"
        rows = conn.execute(f"SELECT DISTINCT {group}, period FROM data_keys WHERE period_wrapped = 1").fetchall()
        return [_needed_name(str(g), int(p)) for g, p in sorted(rows, key=lambda r: (r[1], r[0]))]
    finally:
        conn.close()


def _carry_fallback_periods(settings: Settings, stage: Path) -> None:
    """A deployment whose host has no usable period key directory keeps its period keys in the key
    directory (``PeriodKeys`` fallback, ADR 0020): the backup then holds them, as the ADR and ``keys
    status`` say - without them a restore into an empty data dir would read every text as destroyed."""
    if settings.keyring_url or settings.kek_provider == "pkcs11":
        return
    from mixun.keystore import keystore_from

    periods = keystore_from(settings).data_keys.periods
    if periods.dir != periods.legacy_dir or not periods.legacy_dir.is_dir():
        return
    for path in sorted(periods.legacy_dir.glob("period-*.key")):
        stage.mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(path, stage / path.name)


def _periods_in(store: Path) -> set[tuple[str, int]]:
    """(group tag, period) of the period keys a store directory holds."""
    found: set[tuple[str, int]] = set()
    if store.is_dir():
        for p in store.glob("period-*.key"):
            pid = parse_period_label(p.stem.split("-", 1)[1])
            if pid is not None:
                found.add(pid)
    return found


def _periods_on_host(settings: Settings, ring: Path) -> set[tuple[str, int]]:
    """The period keys this host keeps for the restored ring - in a store of its own (``_own_period_store``):
    a restore on the host that made the backup, or one whose period keys were brought over, reads every
    month it keeps."""
    store = _own_period_store(settings, ring)
    return _periods_in(store) if store is not None else set()


def _own_period_store(settings: Settings, ring: Path) -> Path | None:
    """The restored ring's store of period keys on this host (ADR 0020, "A restore's own store").

    The backup's ring names the store its period keys were filed in. When another deployment of this host
    still uses that store (the one the backup was taken from, still running: a restore for a drill, a
    test, a second copy), the restored ring gets an id and a store of its own, with copies of the keys
    that store holds now (a month retention destroyed since is not there), and an ``origin`` file naming
    where they came from: what the original destroys later is destroyed in the copy too
    (``keystore.derived_stores``), and nothing the copy destroys (an older ring, no later holds) touches
    the original. When nobody uses it any more (the deployment being restored is the one that was lost),
    the restored ring takes the store over."""
    if not ring.is_file() or settings.keyring_url:
        return None
    conn = sqlite3.connect(str(ring), isolation_level=None)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ring_meta'").fetchone():
            return None  # a ring from before ids: it gets one (and an empty store) when first opened
        meta = dict(conn.execute("SELECT name, value FROM ring_meta").fetchall())
        rid = str(meta.get("ring_id", ""))
        if not re.fullmatch(r"[0-9a-f]{16}", rid):  # not an id Mixun makes (keystore)
            return None
        given = Path(settings.period_keys_dir).expanduser() if settings.period_keys_dir else period_keys_root_given()
        root = (given if given is not None
                else Path(str(meta["period_root"])) if meta.get("period_root") else period_keys_root()).resolve()
        origin = root / rid
        me = settings.key_file.parent.resolve()
        owner = ""
        with contextlib.suppress(OSError):
            owner = (origin / OWNER).read_text().strip()
        # The owner still holds that ring ("?": cannot tell - then assume so; forking is the safe side).
        in_use = origin.is_dir() and bool(owner) and Path(owner) != me and ring_id_in(Path(owner)) in (rid, "?")
        if in_use:
            new = secrets.token_hex(8)
            store = root / new
            store.mkdir(mode=0o700, parents=True)
            _write_file(store / ORIGIN, rid.encode())
            for key in sorted(origin.glob("period-*.key")):
                if key.is_file() and not key.is_symlink():
                    _write_file(store / key.name, key.read_bytes())
            conn.execute("UPDATE ring_meta SET value = ? WHERE name = 'ring_id'", (new,))
        else:
            store = origin
        conn.execute("INSERT INTO ring_meta (name, value) VALUES ('period_root', ?) ON CONFLICT (name) "
                     "DO UPDATE SET value = excluded.value", (str(root),))
        return store
    finally:
        conn.close()


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _needed_name(group: str, period: int) -> int | str:
    return period_label(period, group) if group else period


def _destroyed_in(ring: Path) -> set[tuple[str, int]]:
    """(group tag, period) of every period key the (backup's) ring records as destroyed."""
    if not ring.is_file():
        return set()
    conn = sqlite3.connect(str(ring))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out: set[tuple[str, int]] = set()
        if "destroyed_periods" in tables:
            out |= {("", int(r[0])) for r in conn.execute("SELECT period FROM destroyed_periods")}
        if "destroyed_period_keys" in tables:
            out |= {(str(g), int(p)) for g, p in conn.execute("SELECT grp, period FROM destroyed_period_keys")}
        return out
    finally:
        conn.close()


def _sqlite_snapshot(src_path: Path, dst_path: Path) -> None:
    """A consistent copy of a SQLite database that processes may be writing: SQLite's online backup API
    copies every page under one read lock (a commit in between is wholly in or wholly out)."""
    src = sqlite3.connect(str(src_path), timeout=30)
    dst = sqlite3.connect(str(dst_path))
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(dst_path, 0o600)


def restore(settings: Settings, archive: Path, key_file: Path | None = None, passphrase: str | None = None,
            progress: Progress | None = None, periods: Path | None = None) -> dict[str, Any]:
    """Restore ``archive`` into the empty data directory. An encrypted backup is opened with the key file
    or passphrase (a wrong one is refused first) and decrypted whole, every part authenticated, before
    anything is written; a plain backup from before encryption is still accepted. ``periods``, an escrow
    of the period keys (opened with the same key file or passphrase, refused first when they do not open
    it), puts the period keys back; the result's ``periods_missing`` lists the months the backup needs
    that nothing restored (destroyed since, or not in the escrow): their texts read as destroyed."""
    escrow = period_escrow.read(periods, key_file, passphrase) if periods is not None else {}
    data_dir = settings.data_dir
    if data_dir.exists() and any(p.name != "mixun.env" for p in data_dir.iterdir()):
        raise RuntimeError(f"refusing to restore into non-empty data dir {data_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        if is_encrypted(archive):
            size = archive.stat().st_size
            with archive.open("rb") as fh:
                header = read_header(fh)
                key = open_key(header, key_file, passphrase)
                plain = stage / ".backup.tar.gz"
                with plain.open("wb") as out:
                    decrypt_to(fh, header, key, out, (lambda n: progress(min(n, size), size)) if progress else None)
            archive = plain
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(stage, filter="data")
        manifest: dict[str, Any] = json.loads((stage / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise RuntimeError("not a Mixun backup")
        for name, meta in manifest["files"].items():
            if _sha256(stage / name) != meta["sha256"]:
                raise RuntimeError(f"backup file {name} is corrupt (checksum mismatch)")
        _check_target(settings, manifest["database"])  # before anything is written
        for pid in _destroyed_in(stage / "keys" / RING):  # what the backup's own ring says was destroyed
            escrow.pop(pid, None)
        carried = _periods_in(stage / "keys" / PeriodKeys.DIR)  # a fallback deployment's (above)
        for pid in carried:
            escrow.pop(pid, None)
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        if manifest["database"] == "postgresql":
            # One transaction: an interrupted or failed pg_restore leaves the database as it was (empty).
            from mixun.services.setup import _ensure_pg_database

            _ensure_pg_database(settings.database_url)
            args, env = _pg_env(settings.database_url)
            subprocess.run(["pg_restore", *args, "--no-owner", "--single-transaction", "--exit-on-error",  # noqa: S603,S607
                            "-d", make_url(settings.database_url).database or "mixun",
                            str(stage / "database.pgdump")], check=True, env=env)
        # Keys, files and the SQLite database are copied beside their places under temporary names, then
        # renamed into place one after the other: an interruption while copying leaves nothing behind
        # under a real name.
        moves: list[tuple[Path, Path]] = []
        try:
            if (stage / "keys").exists():
                keys_dir = settings.key_file.parent
                tmp_keys = _sibling(keys_dir)
                shutil.copytree(stage / "keys", tmp_keys)
                os.chmod(tmp_keys, 0o700)
                for p in tmp_keys.rglob("*"):
                    if p.is_file():
                        os.chmod(p, 0o600)
                moves.append((tmp_keys, keys_dir))
            if (stage / "blobs").exists():
                tmp_blobs = _sibling(settings.blob_dir)
                shutil.copytree(stage / "blobs", tmp_blobs)
                moves.append((tmp_blobs, settings.blob_dir))
            if manifest["database"] == "sqlite":
                target = Path(str(make_url(settings.database_url).database))
                tmp_db = _sibling(target)
                shutil.copy2(stage / "database.sqlite", tmp_db)
                moves.append((tmp_db, target))
            if escrow:  # the period keys into the restored key directory's own sub-store
                keys_dir = settings.key_file.parent
                staged = next((t for t, f in moves if f == keys_dir), None)
                if staged is None:
                    staged = _sibling(keys_dir)
                    staged.mkdir(mode=0o700)
                    moves.append((staged, keys_dir))
                store = staged / PeriodKeys.DIR
                store.mkdir(mode=0o700, exist_ok=True)
                for (group, period), material in escrow.items():
                    target_file = store / PeriodKeys.file_name(period, group)
                    fd = os.open(target_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(material)
                        fh.flush()
                        os.fsync(fh.fileno())
            for tmp_path, final in moves:
                if final.is_dir() and not any(final.iterdir()):
                    final.rmdir()
                os.replace(tmp_path, final)
        finally:
            for tmp_path, _final in moves:
                if tmp_path.is_dir():
                    shutil.rmtree(tmp_path, ignore_errors=True)
                else:
                    tmp_path.unlink(missing_ok=True)
    needed = (manifest.get("period_keys") or {}).get("needed") or []
    on_host = {_needed_name(*pid) for pid in _periods_on_host(settings, settings.key_file.parent / RING)}
    restored = [_needed_name(g, p) for g, p in sorted(set(escrow) | carried, key=lambda pid: (pid[1], pid[0]))]
    manifest["periods_restored"] = restored
    manifest["periods_on_host"] = [p for p in needed if p in on_host]
    manifest["periods_missing"] = [p for p in needed if p not in restored and p not in on_host]
    leave_restore_note(settings, manifest)
    return manifest




def _sibling(path: Path) -> Path:
    """A temporary name beside ``path`` (same file system, so the final rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.restoring-{os.getpid()}")


def _check_target(settings: Settings, kind: str) -> None:
    """Refuse, before anything is written, a database of the other kind or one that already holds
    data (as a non-empty data dir is refused): a restore never mixes two installations."""
    url = make_url(settings.database_url)
    if kind == "sqlite":
        if not settings.is_sqlite:
            raise RuntimeError("this backup is of a SQLite database; MIXUN_DATABASE_URL points elsewhere")
        target = Path(str(url.database))
        if target.exists() and target.stat().st_size > 0:
            raise RuntimeError(f"refusing to restore over the existing database file {target}")
        return
    if kind != "postgresql":
        raise RuntimeError(f"unknown database kind {kind!r} in the backup")
    if settings.is_sqlite:
        raise RuntimeError("this backup is of a PostgreSQL database; set MIXUN_DATABASE_URL")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")).scalar_one()
    except OperationalError as exc:
        admin = create_engine(url.set(database="postgres"), connect_args={"connect_timeout": 10})
        try:  # a database that does not exist yet is fine (restore creates it); anything else is not
            with admin.connect() as conn:
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": url.database}).first()
        except OperationalError:
            raise RuntimeError(f"cannot reach PostgreSQL at {url.host}:{url.port or 5432}") from exc
        finally:
            admin.dispose()
        if exists:
            raise RuntimeError(f"cannot connect to PostgreSQL database {url.database!r}") from exc
        return
    finally:
        engine.dispose()
    if tables:
        raise RuntimeError(f"refusing to restore into PostgreSQL database {url.database!r}: it already holds "
                           f"{tables} tables (restore needs an empty or new database)")
