"""`mixun backup` / `mixun restore`: an online backup restores into an empty data dir with nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fresh_database

MIXUN = str(Path(sys.executable).with_name("mixun"))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIXUN, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_backup_and_restore_round_trip(db: str, tmp_path: Path) -> None:
    """A backup taken from a live data dir restores elsewhere with the same people and an intact audit trail."""
    src_url = f"sqlite:///{tmp_path}/a/mixun.db" if db == "sqlite" else fresh_database(db, tmp_path / "a")[0]
    (tmp_path / "a").mkdir(exist_ok=True)
    src = {"MIXUN_DATA_DIR": str(tmp_path / "a"), "MIXUN_DATABASE_URL": src_url}
    assert run(src, "init").returncode == 0
    assert run(src, "user", "add", "--username", "zhangsan", "--name", "张三", "--unit", "总行/信息科技部",
               "--password", "Str0ng!Pass#1").returncode == 0
    out = run(src, "backup", "--out", str(tmp_path / "b.tgz"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "b.tgz").stat().st_mode & 0o077 == 0, "the backup holds the master key: owner-only"
    dst_url = f"sqlite:///{tmp_path}/c/mixun.db" if db == "sqlite" else fresh_database(db, tmp_path / "c")[0]
    if db == "postgresql":  # restore needs an empty database: drop the migrated template copy's tables
        from sqlalchemy import create_engine, text

        eng = create_engine(dst_url.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    dst = {"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": dst_url}
    restored = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert restored.returncode == 0, restored.stderr
    assert run(dst, "init").returncode == 0
    verify = run(dst, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout
    again = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert again.returncode != 0, "restore refuses a non-empty data dir"


def test_restore_refuses_a_corrupted_backup(tmp_path: Path) -> None:
    """A backup whose contents do not match its manifest is refused before anything is written."""
    import io
    import tarfile

    src = {"MIXUN_DATA_DIR": str(tmp_path / "a")}
    assert run(src, "init").returncode == 0
    assert run(src, "backup", "--out", str(tmp_path / "b.tgz")).returncode == 0
    bad = tmp_path / "bad.tgz"
    with tarfile.open(tmp_path / "b.tgz") as tin, tarfile.open(bad, "w:gz") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read() if member.isfile() else b""
            if member.name == "keys/master.key":
                data = bytes(32)
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
    r = run({"MIXUN_DATA_DIR": str(tmp_path / "c")}, "restore", str(bad))
    assert r.returncode != 0 and "corrupt" in r.stderr
    assert not (tmp_path / "c" / "keys" / "master.key").exists()


def _fake_backup(path: Path, database: str) -> None:
    """A well-formed backup archive (checksums right) holding a key file and a stand-in database."""
    import hashlib
    import io
    import json
    import tarfile

    files = {"database.pgdump" if database == "postgresql" else "database.sqlite": b"stand-in",
             "keys/master.key": b"k" * 32}
    manifest = {"format": "mixun-backup-1", "created_at": "2026-12-07T00:00:00+00:00", "database": database,
                "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in files.items()}}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_restore_refuses_a_postgresql_database_that_has_data(tmp_path: Path) -> None:
    """Restoring into a PostgreSQL database that already holds Mixun's tables is refused with a clear
    message, no traceback, and nothing copied (no keys, no files)."""
    url = fresh_database("postgresql", tmp_path)[0]  # a migrated database, as `mixun init` leaves it
    _fake_backup(tmp_path / "b.tgz", "postgresql")
    data = tmp_path / "data"
    r = run({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": url}, "restore", str(tmp_path / "b.tgz"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "refusing to restore into PostgreSQL database" in r.stderr and "Traceback" not in r.stderr
    assert not data.exists() or not any(data.rglob("*")), "nothing may be written"


def test_restore_refuses_the_wrong_kind_of_database_before_writing(tmp_path: Path) -> None:
    """A SQLite backup restored with MIXUN_DATABASE_URL pointing at PostgreSQL is refused before any key
    is copied; an existing SQLite file elsewhere is not overwritten."""
    _fake_backup(tmp_path / "s.tgz", "sqlite")
    data = tmp_path / "data"
    r = run({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/x"},
            "restore", str(tmp_path / "s.tgz"))
    assert r.returncode == 2 and "SQLite" in r.stderr and "Traceback" not in r.stderr
    assert not data.exists() or not any(data.rglob("*"))
    existing = tmp_path / "elsewhere.db"
    existing.write_bytes(b"live data")
    r = run({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": f"sqlite:///{existing}"}, "restore",
            str(tmp_path / "s.tgz"))
    assert r.returncode == 2 and "existing database file" in r.stderr
    assert existing.read_bytes() == b"live data"
