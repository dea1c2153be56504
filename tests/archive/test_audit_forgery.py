"""Someone with database access alone cannot add an audit record, and someone with the server's files
cannot roll the signed head back, without `mixun audit verify` naming it (issue 19 item 13)."""

from __future__ import annotations

import argparse
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mixun.cli.archive import cmd_audit_verify
from mixun.domain.audit_chain import chain_hash
from mixun.services import audit_checkpoints
from mixun.services.setup import initialise
from tests.archive.conftest import drop_append_only_triggers, raw
from tests.conftest import Env, build_env


@pytest.fixture(params=["sqlite", "postgresql"])
def menv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """A server whose signed heads are also written to a mirror directory."""
    mirror = tmp_path / "worm"
    mirror.mkdir()
    e, close = build_env(tmp_path, request.param, MIXUN_AUDIT_HEAD_MIRROR=str(mirror))
    yield e
    close()


def _trail(env: Env, n: int, start: int = 0) -> int:
    for i in range(start, start + n):
        env.make_user(f"user{i}", f"员工{i}")
    with env.rt.db.read() as s:
        return int(s.execute(text("SELECT max(id) FROM audit_log")).scalar_one())


def _verify(env: Env, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cmd_audit_verify(argparse.Namespace(), env.settings)
    return code, capsys.readouterr().out


def _append_forged(env: Env, mac: str | None = None) -> int:
    """What someone with database access alone can do: a plain INSERT that continues the chain correctly."""
    with env.rt.db.read() as s:
        last_id, last_hash = s.execute(text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    forged = {"id": last_id + 1, "at": "2026-12-07T01:00:00+00:00", "actor_id": None, "actor_role": "sysadmin",
              "ip": "127.0.0.1", "client": "", "action": "user.created", "target": "ghost", "outcome": "success",
              "details": {}}
    raw(env, "INSERT INTO audit_log (id, at, actor_role, ip, client, action, target, outcome, details, prev_hash, "
             "hash, mac) VALUES (:i, :at, 'sysadmin', '127.0.0.1', '', 'user.created', 'ghost', 'success', '{}', "
             ":p, :h, :m)", i=forged["id"], at=forged["at"], p=last_hash, h=chain_hash(last_hash, forged), m=mac)
    return int(last_id) + 1


def _keys(env: Env) -> Path:
    return env.settings.key_file.parent


def test_a_correctly_chained_record_inserted_by_sql_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A record appended with a plain INSERT (next id, previous hash, correct chain hash), then sealed by the
    next real event under a new signed head, is still named as forged."""
    _trail(env, 3)
    forged = _append_forged(env, mac="0" * 64)
    env.make_user("later", "后来者")  # the next real event chains onto it and moves the signed head
    code, out = _verify(env, capsys)
    assert code == 1, out
    assert f"BROKEN at record {forged}" in out and "forged" in out


def test_a_record_without_a_mac_after_authenticated_ones_is_named(env: Env,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Leaving the MAC empty (as records from before the change have it) does not pass either."""
    _trail(env, 2)
    forged = _append_forged(env, mac=None)
    code, out = _verify(env, capsys)
    assert code == 1 and f"BROKEN at record {forged}" in out


def test_records_from_before_the_change_still_verify(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A trail written before records carried MACs verifies; records after it are authenticated from the
    first one written by the new version on, and a MAC-less record slipped in after that is named."""
    legacy_last = _trail(env, 3)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "UPDATE audit_log SET mac = NULL")  # as migration 0008 leaves an existing trail
    (_keys(env) / audit_checkpoints.RECORD_KEY_NAME).unlink()
    audit_checkpoints._record_keys.clear()
    code, out = _verify(env, capsys)
    assert code == 0, out
    initialise(env.settings, create_admins=False)  # `mixun init` / `mixun serve` after the upgrade
    key = json.loads((_keys(env) / audit_checkpoints.RECORD_KEY_NAME).read_text())
    assert key["from_id"] == legacy_last + 1
    last = _trail(env, 2, start=10)
    code, out = _verify(env, capsys)
    assert code == 0 and f"last id {last}" in out, out
    forged = _append_forged(env)
    code, out = _verify(env, capsys)
    assert code == 1 and f"BROKEN at record {forged}" in out


def test_a_record_slipped_in_right_after_the_upgrade_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Start-up after the upgrade names the next record as the first authenticated one, so a MAC-less record
    inserted before the new version wrote anything is still named."""
    legacy_last = _trail(env, 2)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "UPDATE audit_log SET mac = NULL")
    (_keys(env) / audit_checkpoints.RECORD_KEY_NAME).unlink()
    audit_checkpoints._record_keys.clear()
    initialise(env.settings, create_admins=False)
    forged = _append_forged(env)
    assert forged == legacy_last + 1
    code, out = _verify(env, capsys)
    assert code == 1 and f"BROKEN at record {forged}" in out and "forged" in out


def test_a_missing_record_key_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Taking the record key away does not turn authenticated records into unchecked ones."""
    _trail(env, 2)
    (_keys(env) / audit_checkpoints.RECORD_KEY_NAME).unlink()
    audit_checkpoints._record_keys.clear()
    code, out = _verify(env, capsys)
    assert code == 1 and "audit-record.key is missing" in out


def test_deleting_the_head_file_does_not_hide_a_cut_tail(menv: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Cutting the newest records and deleting keys/audit-head.json is named by the mirrored head."""
    last = _trail(menv, 4)
    drop_append_only_triggers(menv, "audit_log")
    raw(menv, "DELETE FROM audit_log WHERE id > :k", k=last - 2)
    (_keys(menv) / audit_checkpoints.HEAD_NAME).unlink()
    code, out = _verify(menv, capsys)
    assert code == 1 and f"BROKEN at record {last - 1}" in out and "removed from the end" in out
    assert "mirrored" in out


def test_deleting_the_head_file_alone_is_named(menv: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A deleted signed head file is named even when no record was removed."""
    _trail(menv, 2)
    (_keys(menv) / audit_checkpoints.HEAD_NAME).unlink()
    code, out = _verify(menv, capsys)
    assert code == 1 and "audit-head.json was deleted" in out


def test_putting_back_an_older_head_is_named(menv: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Restoring an older signed head after cutting the tail back to it is named by the mirror."""
    kept = _trail(menv, 2)
    old_head = (_keys(menv) / audit_checkpoints.HEAD_NAME).read_bytes()
    _trail(menv, 3, start=10)
    drop_append_only_triggers(menv, "audit_log")
    raw(menv, "DELETE FROM audit_log WHERE id > :k", k=kept)
    (_keys(menv) / audit_checkpoints.HEAD_NAME).write_bytes(old_head)
    code, out = _verify(menv, capsys)
    assert code == 1 and f"BROKEN at record {kept + 1}" in out and "removed from the end" in out


def test_an_older_head_put_back_without_cutting_is_named(menv: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Even with every record still there, a head file older than the mirror's newest is named."""
    _trail(menv, 2)
    old_head = (_keys(menv) / audit_checkpoints.HEAD_NAME).read_bytes()
    _trail(menv, 2, start=10)
    (_keys(menv) / audit_checkpoints.HEAD_NAME).write_bytes(old_head)
    code, out = _verify(menv, capsys)
    assert code == 1 and "was put back" in out


def test_mirrored_heads_are_new_read_only_files(menv: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Each signed head lands in the mirror as a file of its own, read-only; an intact trail says it matched."""
    last = _trail(menv, 3)
    mirror = Path(menv.settings.extra["MIXUN_AUDIT_HEAD_MIRROR"])
    files = sorted(mirror.iterdir())
    assert files and files[-1].name == f"{last:016d}.json"
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o444 for f in files)
    code, out = _verify(menv, capsys)
    assert code == 0 and f"mirrored head {last} matches" in out, out


def test_signed_heads_go_to_syslog_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With MIXUN_AUDIT_HEAD_SYSLOG=1 every signed head is also sent to syslog, signature included."""
    import syslog

    sent: list[str] = []
    monkeypatch.setattr(syslog, "syslog", lambda _prio, msg: sent.append(msg))
    env, close = build_env(tmp_path, "sqlite", MIXUN_AUDIT_HEAD_SYSLOG="1")
    try:
        last = _trail(env, 1)
        head = json.loads((_keys(env) / audit_checkpoints.HEAD_NAME).read_text())
        assert sent[-1] == (f"audit head id={last} hash={head['hash']} at={head['at']} "
                            f"signature={head['signature']}")
    finally:
        close()
