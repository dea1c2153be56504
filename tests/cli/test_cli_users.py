"""`mixun user add | reset-password | enable` as real subprocesses (issue 19: the way back in)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import mixun


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-users") / "data"
    r = mixun(d, "init")
    assert r.returncode == 0, r.stderr
    return d


def _db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "mixun.db")


def test_user_add_says_when_it_creates_a_unit(data: Path) -> None:
    """`mixun user add` into a unit that does not exist creates it and says so; into an existing one it is quiet."""
    r = mixun(data, "user", "add", "--username", "zhouba", "--name", "周八", "--unit", "分行/新设部",
              "--password", "Zhou!Ba2026x")
    assert r.returncode == 0, r.stderr
    assert "created unit 分行/新设部" in r.stdout
    r = mixun(data, "user", "add", "--username", "wujiu", "--name", "吴九", "--unit", "分行/新设部",
              "--password", "Wu!Jiu2026xy")
    assert r.returncode == 0, r.stderr
    assert "created unit" not in r.stdout


def test_cli_enable_brings_back_a_locked_out_administrator(data: Path) -> None:
    """When the only sysadmin is disabled, reset-password says it is disabled and `user enable` re-enables it,
    recorded in the audit trail with actor cli."""
    with _db(data) as c:
        c.execute("UPDATE users SET disabled = 1 WHERE username = 'sysadmin'")
    r = mixun(data, "user", "reset-password", "sysadmin")
    assert r.returncode == 0, r.stderr
    assert "one-time password" in r.stdout and "DISABLED" in r.stdout
    r = mixun(data, "user", "enable", "sysadmin")
    assert r.returncode == 0, r.stderr
    assert "sysadmin: enabled" in r.stdout and "actor cli" in r.stdout
    with _db(data) as c:
        assert c.execute("SELECT disabled FROM users WHERE username = 'sysadmin'").fetchone()[0] == 0
        rows = c.execute("SELECT details FROM audit_log WHERE action = 'account.enabled'").fetchall()
    assert rows and json.loads(rows[-1][0])["actor"] == "cli"
    r = mixun(data, "user", "reset-password", "sysadmin")
    assert "account is active" in r.stdout
    assert mixun(data, "audit", "verify").returncode == 0


def test_cli_enable_of_a_departed_person_needs_a_reason(data: Path) -> None:
    """A departed person is not re-enabled by `user enable` alone; with --reason it is an audited reinstatement."""
    r = mixun(data, "user", "add", "--username", "zhengshi", "--name", "郑十", "--unit", "分行/新设部",
              "--password", "Zheng!Shi2026")
    assert r.returncode == 0, r.stderr
    with _db(data) as c:
        c.execute("UPDATE users SET disabled = 1, departed_at = created_at WHERE username = 'zhengshi'")
    r = mixun(data, "user", "reset-password", "zhengshi")
    assert "departed" in r.stdout
    r = mixun(data, "user", "enable", "zhengshi")
    assert r.returncode != 0 and "account_departed" in r.stderr
    r = mixun(data, "user", "enable", "zhengshi", "--reason", "误办离职，予以更正")
    assert r.returncode == 0 and "reinstated" in r.stdout, r.stderr
    with _db(data) as c:
        assert c.execute("SELECT disabled, departed_at FROM users WHERE username = 'zhengshi'").fetchone() == (0, None)
        assert c.execute("SELECT count(*) FROM audit_log WHERE action = 'account.reinstated'").fetchone()[0] == 1
    r = mixun(data, "user", "enable", "nobody")
    assert r.returncode != 0 and "no user nobody" in r.stderr
