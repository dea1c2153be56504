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
    key = {"MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key")}
    src = {"MIXUN_DATA_DIR": str(tmp_path / "a"), "MIXUN_DATABASE_URL": src_url, **key}
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
    dst = {"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": dst_url, **key}
    restored = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert restored.returncode == 0, restored.stderr
    assert run(dst, "init").returncode == 0
    verify = run(dst, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout
    again = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert again.returncode != 0, "restore refuses a non-empty data dir"


def test_restore_refuses_a_corrupted_backup(tmp_path: Path) -> None:
    """A backup changed anywhere (one flipped byte) or cut short is refused before anything is written."""
    key = {"MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key")}
    src = {"MIXUN_DATA_DIR": str(tmp_path / "a"), **key}
    assert run(src, "init").returncode == 0
    assert run(src, "backup", "--out", str(tmp_path / "b.tgz")).returncode == 0
    good = (tmp_path / "b.tgz").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    (tmp_path / "bad.tgz").write_bytes(bytes(flipped))
    (tmp_path / "cut.tgz").write_bytes(good[: len(good) - 100])
    for name in ("bad.tgz", "cut.tgz"):
        target = tmp_path / f"c-{name}"
        r = run({"MIXUN_DATA_DIR": str(target), **key}, "restore", str(tmp_path / name))
        assert r.returncode == 2 and "corrupt" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (target / "keys" / "master.key").exists()
        assert not target.exists() or not any(target.rglob("*")), "nothing may be written"


def test_backup_is_encrypted_and_a_wrong_key_is_refused(tmp_path: Path) -> None:
    """The backup holds neither the master key nor any stored byte in the clear, nor its own key; restore
    with another key file, a missing one or a wrong passphrase is refused with a clear message and
    writes nothing; the right passphrase restores."""
    import gzip

    src = {"MIXUN_DATA_DIR": str(tmp_path / "a"), "MIXUN_BACKUP_KEY_FILE": str(tmp_path / "k1")}
    assert run(src, "init").returncode == 0
    assert run(src, "user", "add", "--username", "zhangsan", "--name", "张三", "--unit", "总行/信息科技部",
               "--password", "Str0ng!Pass#1").returncode == 0
    made = run(src, "backup", "--out", str(tmp_path / "b.enc"))
    assert made.returncode == 0 and "encrypted (AES-256-GCM)" in made.stdout, made.stderr
    assert "created the backup key" in made.stderr
    assert (tmp_path / "k1").stat().st_mode & 0o077 == 0
    blob = (tmp_path / "b.enc").read_bytes()
    master = (tmp_path / "a" / "keys" / "master.key").read_bytes()
    assert master not in blob and (tmp_path / "k1").read_bytes() not in blob
    assert b"master.key" not in blob and "张三".encode() not in blob and b"SQLite format" not in blob
    try:
        gzip.decompress(blob)
        raise AssertionError("a plain gzip stream")
    except OSError:
        pass

    other = tmp_path / "k2"
    other.write_bytes(os.urandom(32))
    for env, says in (({"MIXUN_BACKUP_KEY_FILE": str(other)}, "wrong backup key"),
                      ({"MIXUN_BACKUP_KEY_FILE": str(tmp_path / "missing")}, "does not exist")):
        dst = tmp_path / "c"
        r = run({"MIXUN_DATA_DIR": str(dst), **env}, "restore", str(tmp_path / "b.enc"))
        assert r.returncode == 2 and says in r.stderr and "nothing was restored" in r.stderr, r.stderr
        assert not dst.exists() or not any(dst.rglob("*"))

    pw = {"MIXUN_DATA_DIR": str(tmp_path / "a"), "MIXUN_BACKUP_PASSPHRASE": "备份口令-correct horse 9"}
    assert run(pw, "backup", "--out", str(tmp_path / "p.enc")).returncode == 0
    wrong = run({"MIXUN_DATA_DIR": str(tmp_path / "d"), "MIXUN_BACKUP_PASSPHRASE": "another phrase 123"},
                "restore", str(tmp_path / "p.enc"))
    assert wrong.returncode == 2 and "wrong backup key or passphrase" in wrong.stderr
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").rglob("*"))
    ok = run({"MIXUN_DATA_DIR": str(tmp_path / "d"), "MIXUN_BACKUP_PASSPHRASE": pw["MIXUN_BACKUP_PASSPHRASE"]},
             "restore", str(tmp_path / "p.enc"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "d" / "keys" / "master.key").read_bytes() == master


def test_a_plain_backup_from_before_encryption_still_restores(tmp_path: Path) -> None:
    """Backups written before encryption (plain tar.gz) restore, with a warning."""
    _fake_backup(tmp_path / "old.tgz", "sqlite")
    r = run({"MIXUN_DATA_DIR": str(tmp_path / "data")}, "restore", str(tmp_path / "old.tgz"))
    assert r.returncode == 0 and "not encrypted" in r.stderr, r.stderr


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


def test_a_backup_taken_while_data_keys_are_made_restores_a_ring_that_opens_every_text(tmp_path: Path) -> None:
    """The key ring (keys/datakeys.db) is copied with SQLite's online backup API: a backup taken while
    another connection keeps committing new data keys holds a whole ring, and every text sealed before the
    backup began opens with the restored ring (a plain file copy could catch a commit half written)."""
    import threading
    from datetime import UTC, datetime

    from mixun.config import load_settings
    from mixun.keystore import KeyStore, period_of
    from mixun.services import backup, backup_crypto, period_escrow
    from tests.conftest import build_env

    (tmp_path / "a").mkdir()
    env, close = build_env(tmp_path / "a", "sqlite")
    try:
        writer_ring = KeyStore(env.settings.key_file).data_keys  # a connection of its own, like another process
        sealed: list[tuple[str, str]] = []
        stop = threading.Event()
        failures: list[BaseException] = []
        period = period_of(datetime.now(UTC))

        def make_keys() -> None:
            try:
                i = 0
                while not stop.is_set():
                    i += 1
                    text = f"第{i}条：汇款核对{i * 7919}"
                    sealed.append((writer_ring.seal(f"c:{i}", period, text), text))
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        worker = threading.Thread(target=make_keys)
        worker.start()
        while len(sealed) < 300 and worker.is_alive():
            threading.Event().wait(0.01)
        before = list(sealed)  # every key of these was committed before the backup began
        key, _created = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
        backup.backup(env.settings, tmp_path / "b.tgz", key)
        period_escrow.write(KeyStore(env.settings.key_file), tmp_path / "periods.escrow", key)  # not in the backup
        during = len(sealed)
        stop.set()
        worker.join(30)
        assert not failures, failures
        assert during > len(before), "keys were being made while the backup ran"
    finally:
        close()
    dst = load_settings({"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/c/mixun.db"})
    restored_manifest = backup.restore(dst, tmp_path / "b.tgz", key_file=tmp_path / "backup.key",
                                       periods=tmp_path / "periods.escrow")
    assert restored_manifest["period_keys"] == {"included": False, "needed": [period]}
    assert restored_manifest["periods_missing"] == []
    ring_file = dst.key_file.parent / "datakeys.db"
    assert ring_file.stat().st_mode & 0o077 == 0
    assert not list(dst.key_file.parent.glob("datakeys.db-*")), "no journal beside the restored ring"
    import sqlite3

    check = sqlite3.connect(ring_file)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    restored = KeyStore(dst.key_file).data_keys
    assert all(restored.open(value) == text for value, text in before)
    # Keys made while the backup ran are wholly in it or wholly out of it, never half.
    assert all(restored.open(value) in (text, None) for value, text in sealed[len(before):])


def test_the_cli_keeps_period_keys_out_of_backups_and_restores_them_from_the_escrow(tmp_path: Path) -> None:
    """`mixun backup` says the period keys are not in it; `mixun keys export-periods` writes the escrow
    (owner-only, encrypted: a wrong key is refused); `mixun restore --periods` puts them back, and without
    it restore names the months whose texts will read as destroyed."""
    import re
    from datetime import UTC, datetime

    from mixun.keystore import period_of
    from tests.conftest import build_env

    (tmp_path / "a").mkdir()
    env, close = build_env(tmp_path / "a", "sqlite")
    try:
        _a, ta = env.person("zhangsan", "张三")
        b, _tb = env.person("lisi", "李四")
        conv = env.client.post("/api/v1/conversations", headers=env.h(ta),
                               json={"kind": "group", "name": "备份群", "members": [b]}).json()["id"]
        assert env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta),
                               json={"text": "托管测试"}).status_code == 201
        src = {"MIXUN_DATA_DIR": str(env.settings.data_dir), "MIXUN_DATABASE_URL": env.settings.database_url,
               "MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key")}
        made = run(src, "backup", "--out", str(tmp_path / "b.tgz"))
        assert made.returncode == 0 and "export-periods" in made.stderr, made.stderr
        esc = run(src, "keys", "export-periods", "--out", str(tmp_path / "periods.escrow"))
        assert esc.returncode == 0, esc.stderr
        assert (tmp_path / "periods.escrow").stat().st_mode & 0o077 == 0
        assert str(period_of(datetime.now(UTC))) in esc.stdout
    finally:
        close()
    other_key = tmp_path / "other.key"
    run({"MIXUN_DATA_DIR": str(tmp_path / "x"), "MIXUN_BACKUP_KEY_FILE": str(other_key)}, "backup", "--out",
        str(tmp_path / "x.tgz"))  # makes another backup key
    # Restores on ANOTHER host (a period key directory of its own): with the escrow, and without it.
    dst = {"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/c/mixun.db",
           "MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key"),
           "MIXUN_PERIOD_KEYS_DIR": str(tmp_path / "host-c-period-keys")}
    wrong = run({**dst, "MIXUN_BACKUP_KEY_FILE": str(other_key)}, "restore", str(tmp_path / "b.tgz"), "--periods",
                str(tmp_path / "periods.escrow"))
    assert wrong.returncode == 2 and not (tmp_path / "c").exists()
    restored = run(dst, "restore", str(tmp_path / "b.tgz"), "--periods", str(tmp_path / "periods.escrow"))
    assert restored.returncode == 0 and "period keys not restored" not in restored.stderr, restored.stderr
    assert run(dst, "init").returncode == 0
    status = run(dst, "keys", "status")
    line = rf"{period_of(datetime.now(UTC))}  默认 \[[0-9a-f]{{12}}\]  在用 present"  # the group's key of the month
    assert status.returncode == 0 and re.search(line, status.stdout), status.stdout
    bare = {**dst, "MIXUN_DATA_DIR": str(tmp_path / "d"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/d/mixun.db",
            "MIXUN_PERIOD_KEYS_DIR": str(tmp_path / "host-d-period-keys")}
    without = run(bare, "restore", str(tmp_path / "b.tgz"))
    assert without.returncode == 0 and f"destroyed: {period_of(datetime.now(UTC))}" in without.stderr, without.stderr
    # On the host that made the backup no escrow is needed, and nothing is said to be missing.
    here = {**dst, "MIXUN_DATA_DIR": str(tmp_path / "e"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/e/mixun.db"}
    del here["MIXUN_PERIOD_KEYS_DIR"]
    same_host = run(here, "restore", str(tmp_path / "b.tgz"))
    assert same_host.returncode == 0 and "destroyed:" not in same_host.stderr, same_host.stderr


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_restore_into_an_empty_data_dir_reads_every_message(db: str, tmp_path: Path) -> None:
    """INTERFACE.md: `mixun backup --out FILE` / `mixun restore FILE` back up and restore database, files and
    keys into an empty data dir. Restored on the host that made it (the period keys stay on the host,
    outside every data dir: ADR 0020), every message reads as it was sent - no escrow, no extra option."""
    from mixun.api.app import create_app
    from mixun.config import load_settings
    from tests.conftest import PASSWORD, build_env

    (tmp_path / "a").mkdir()
    env, close = build_env(tmp_path / "a", db)
    try:
        _a, ta = env.person("zhangsan", "张三")
        b, _tb = env.person("lisi", "李四")
        conv = env.client.post("/api/v1/conversations", headers=env.h(ta),
                               json={"kind": "direct", "members": [b]}).json()["id"]
        for text in ("备份前的第一条消息", "第二条：下午三点开会"):
            assert env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta),
                                   json={"text": text}).status_code == 201
        key = {"MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key")}
        src = {"MIXUN_DATA_DIR": str(env.settings.data_dir), "MIXUN_DATABASE_URL": env.settings.database_url, **key}
        made = run(src, "backup", "--out", str(tmp_path / "b.tgz"))
        assert made.returncode == 0, made.stderr
    finally:
        close()
    dst_url = f"sqlite:///{tmp_path}/c/mixun.db" if db == "sqlite" else fresh_database(db, tmp_path / "c")[0]
    if db == "postgresql":
        from sqlalchemy import create_engine
        from sqlalchemy import text as sql

        eng = create_engine(dst_url.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    dst = {"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": dst_url, **key}
    restored = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert restored.returncode == 0 and "destroyed" not in restored.stderr, restored.stderr
    assert (tmp_path / "c" / "keys" / "restored.json").exists()
    assert run(dst, "init").returncode == 0
    assert not (tmp_path / "c" / "keys" / "restored.json").exists(), "the note became an audit record"
    assert run(dst, "audit", "verify").returncode == 0
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql_text

    eng = create_engine(dst_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as c:
        rows = c.execute(sql_text("SELECT details FROM audit_log WHERE action = 'keys.restored'")).all()
    eng.dispose()
    assert len(rows) == 1 and "periods_on_host" in str(rows[0][0]) and "backup_created_at" in str(rows[0][0])

    app = create_app(load_settings({**os.environ, **dst}))
    with TestClient(app, client=("127.0.0.1", 40011)) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        got = client.get(f"/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {tok}"})
        assert got.status_code == 200, got.text
        assert [m["text"] for m in got.json()["messages"] if m["kind"] == "text"] == [
            "备份前的第一条消息", "第二条：下午三点开会"]
        sent = client.post(f"/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {tok}"},
                           json={"text": "恢复后照常发送"})
        assert sent.status_code == 201, sent.text
        app.state.runtime.db.dispose()


def test_an_escrow_with_a_damaged_key_is_refused_before_a_restore_writes_anything(tmp_path: Path) -> None:
    """An escrow entry that is not a 32-byte key is refused when the escrow is read: `mixun restore
    --periods` (and `keys import-periods`) write nothing, rather than a key that fails every read later."""
    import base64
    import json

    from mixun.config import load_settings
    from mixun.services import backup, backup_crypto, period_escrow

    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    bad = tmp_path / "bad.escrow"
    with bad.open("wb") as fh:
        w = backup_crypto.EncryptingWriter(fh, key, {"format": period_escrow.FORMAT})
        w.write(json.dumps({"format": period_escrow.FORMAT, "periods": {
            "202611": base64.b64encode(b"k" * 32).decode(), "202612": base64.b64encode(b"short").decode()}}).encode())
        w.close()
    with pytest.raises(backup_crypto.BackupFormatError, match="202612"):
        period_escrow.read(bad, tmp_path / "backup.key")
    dst = load_settings({"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/c/mixun.db"})
    with pytest.raises(backup_crypto.BackupFormatError):
        backup.restore(dst, tmp_path / "no-backup.tgz", key_file=tmp_path / "backup.key", periods=bad)
    assert not (tmp_path / "c").exists()
