"""The command line: init, user add, demo and audit verify, run as real subprocesses."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import host_env
from tests.helpers import MIXUN


def mixun(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = host_env()
    env["MIXUN_DATA_DIR"] = str(data)
    return subprocess.run([MIXUN, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("cli") / "data"
    r = mixun(data, "init")
    assert r.returncode == 0, r.stderr
    return data, r.stdout


def test_init_creates_key_and_prints_passwords_once(initialised: tuple[Path, str]) -> None:
    """`mixun init` makes an owner-only key file and prints the three administrators' passwords once."""
    data, out = initialised
    key = data / "keys" / "master.key"
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    found = dict(re.findall(r"administrator (\w+): one-time password (\S+)", out))
    assert set(found) == {"sysadmin", "secadmin", "auditor"} and all(len(p) >= 12 for p in found.values())
    again = mixun(data, "init")
    assert again.returncode == 0
    assert "one-time password" not in again.stdout
    assert not any(p in again.stdout + again.stderr for p in found.values())
    assert key.stat().st_mode & 0o077 == 0


def test_user_add_checks_policy_and_forces_change(initialised: tuple[Path, str]) -> None:
    """`mixun user add` refuses a weak password; a created user must change the password at first login."""
    data, _ = initialised
    weak = mixun(data, "user", "add", "--username", "weakling", "--name", "弱密码", "--unit", "总行/信息技术部",
                 "--password", "12345678")
    assert weak.returncode != 0 and "weak_password" in weak.stderr
    ok = mixun(data, "user", "add", "--username", "chenqi", "--name", "陈七", "--unit", "总行/信息技术部",
               "--password", "Chen!Qi2026x", "--phone", "13900001111", "--position", "柜员")
    assert ok.returncode == 0, ok.stderr
    dup = mixun(data, "user", "add", "--username", "chenqi", "--name", "陈七", "--unit", "总行/信息技术部",
                "--password", "Chen!Qi2026x")
    assert dup.returncode != 0
    from fastapi.testclient import TestClient

    from mixun.api.app import create_app
    from mixun.config import load_settings

    with TestClient(create_app(load_settings({"MIXUN_DATA_DIR": str(data)})), client=("127.0.0.1", 40000)) as client:
        r = client.post("/api/v1/auth/login", json={"username": "chenqi", "password": "Chen!Qi2026x"})
        assert r.status_code == 200 and r.json()["must_change_password"] is True
        blocked = client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "password_change_required"


def test_demo_loads_a_bank_idempotently(tmp_path: Path) -> None:
    """`mixun demo` loads about sixty people with Chinese names; running it again adds nobody."""
    data = tmp_path / "data"
    assert mixun(data, "init").returncode == 0
    first = mixun(data, "demo")
    assert first.returncode == 0, first.stderr
    db = sqlite3.connect(data / "mixun.db")
    try:
        names = [r[0] for r in db.execute("SELECT name FROM users WHERE username NOT IN "
                                          "('sysadmin','secadmin','auditor')")]
        assert 50 <= len(names) <= 80
        assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n) for n in names)
        groups = db.execute("SELECT count(*) FROM conversations WHERE kind = 'group'").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert groups >= 2 and messages > 0
        second = mixun(data, "demo")
        assert second.returncode == 0, second.stderr
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == len(names) + 3
        assert db.execute("SELECT count(*) FROM conversations WHERE kind = 'group'").fetchone()[0] == groups
    finally:
        db.close()


def _tamperable(tmp_path: Path) -> tuple[Path, sqlite3.Connection, list[int]]:
    data = tmp_path / "data"
    assert mixun(data, "init").returncode == 0
    ok = mixun(data, "audit", "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    db = sqlite3.connect(data / "mixun.db")
    for trigger in ("audit_log_no_update", "audit_log_no_delete"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.commit()
    ids = [r[0] for r in db.execute("SELECT id FROM audit_log ORDER BY id")]
    assert len(ids) >= 3
    return data, db, ids


def _names_bad_record(out: str, record_id: int) -> bool:
    return re.search(rf"\b{record_id}\b", out) is not None


def test_audit_verify_intact_and_altered_details(tmp_path: Path) -> None:
    """`mixun audit verify` passes an intact trail and names the first record whose details changed."""
    data, db, ids = _tamperable(tmp_path)
    target = ids[len(ids) // 2]
    details = json.loads(db.execute("SELECT details FROM audit_log WHERE id = ?", (target,)).fetchone()[0] or "{}")
    details["forged"] = True
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", (json.dumps(details), target))
    db.commit()
    db.close()
    r = mixun(data, "audit", "verify")
    assert r.returncode != 0
    assert _names_bad_record(r.stdout + r.stderr, target), r.stdout


def test_audit_verify_detects_a_deleted_record(tmp_path: Path) -> None:
    """Deleting a record in the middle of the trail is detected and located."""
    data, db, ids = _tamperable(tmp_path)
    target = ids[len(ids) // 2]
    db.execute("DELETE FROM audit_log WHERE id = ?", (target,))
    db.commit()
    db.close()
    r = mixun(data, "audit", "verify")
    assert r.returncode != 0
    following = ids[ids.index(target) + 1]
    assert _names_bad_record(r.stdout + r.stderr, following) or _names_bad_record(r.stdout, target), r.stdout


def test_audit_verify_detects_an_inserted_record(tmp_path: Path) -> None:
    """A forged record added to the trail is detected and named."""
    data, db, ids = _tamperable(tmp_path)
    row = db.execute("SELECT at, actor_id, actor_role, ip, client, action, target, outcome, details, prev_hash, "
                     "hash FROM audit_log WHERE id = ?", (ids[-1],)).fetchone()
    forged = ids[-1] + 1
    db.execute("INSERT INTO audit_log (id, at, actor_id, actor_role, ip, client, action, target, outcome, details, "
               "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, 'user.created', 'user:999', ?, ?, ?, ?)",
               (forged, row[0], row[1], row[2], row[3], row[4], row[7], row[8], row[10], "0" * 64))
    db.commit()
    db.close()
    r = mixun(data, "audit", "verify")
    assert r.returncode != 0
    assert _names_bad_record(r.stdout + r.stderr, forged), r.stdout
