"""The audit trail is tamper-evident: `mixun audit verify` names the first bad record."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import text

from mixun.cli.archive import cmd_audit_verify
from mixun.domain.audit_chain import chain_hash
from tests.archive.conftest import drop_append_only_triggers, raw
from tests.conftest import Env


def _trail(env: Env, n: int = 6) -> int:
    for i in range(n):
        env.make_user(f"user{i}", f"员工{i}")
    with env.rt.db.read() as s:
        return int(s.execute(text("SELECT max(id) FROM audit_log")).scalar_one())


def _verify(env: Env, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cmd_audit_verify(argparse.Namespace(), env.settings)
    return code, capsys.readouterr().out


def test_intact_trail_verifies(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """An untouched trail verifies, including against the signed head checkpoint."""
    last = _trail(env)
    code, out = _verify(env, capsys)
    assert code == 0, out
    assert "intact" in out and f"last id {last}" in out and "signed head matches" in out


def test_triggers_refuse_update_and_delete(env: Env) -> None:
    """The database itself refuses to change or delete audit records."""
    _trail(env, 1)
    with pytest.raises(Exception, match="append-only"):
        raw(env, "UPDATE audit_log SET target = 'x' WHERE id = 1")
    with pytest.raises(Exception, match="append-only"):
        raw(env, "DELETE FROM audit_log WHERE id = 1")


def test_changed_record_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing one record's content is detected at that record."""
    _trail(env)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "UPDATE audit_log SET target = 'someone-else' WHERE id = 3")
    code, out = _verify(env, capsys)
    assert code == 1 and "BROKEN at record 3" in out and "altered" in out


def test_removed_record_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Deleting a record in the middle is detected at the record after the gap."""
    _trail(env)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "DELETE FROM audit_log WHERE id = 3")
    code, out = _verify(env, capsys)
    assert code == 1 and "BROKEN at record 4" in out


def test_inserted_record_is_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A forged record slipped in (even with a correctly computed hash) is named itself: it has no valid MAC."""
    _trail(env)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "UPDATE audit_log SET id = -id WHERE id >= 3")
    raw(env, "UPDATE audit_log SET id = -id + 1 WHERE id < 0")
    with env.rt.db.read() as s:
        prev = s.execute(text("SELECT hash FROM audit_log WHERE id = 2")).scalar_one()
    forged = {"id": 3, "at": "2026-01-01T00:00:00+00:00", "actor_id": None, "actor_role": "", "ip": "",
              "client": "", "action": "user.created", "target": "ghost", "outcome": "success", "details": {}}
    h = chain_hash(prev, forged)
    raw(env, "INSERT INTO audit_log (id, at, actor_role, ip, client, action, target, outcome, details, prev_hash, "
             "hash) VALUES (3, :at, '', '', '', 'user.created', 'ghost', 'success', '{}', :p, :h)",
        at=forged["at"], p=prev, h=h)
    code, out = _verify(env, capsys)
    assert code == 1 and "BROKEN at record 3" in out and "forged" in out


def test_truncated_tail_is_detected(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Cutting the newest records off the end is caught by the signed checkpoint kept outside the database."""
    last = _trail(env)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "DELETE FROM audit_log WHERE id > :k", k=last - 2)
    code, out = _verify(env, capsys)
    assert code == 1 and f"BROKEN at record {last - 1}" in out and "removed from the end" in out


def test_rewritten_chain_is_detected(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Re-hashing the whole chain after a change does not fool the record MACs or the signed head."""
    _trail(env, 3)
    drop_append_only_triggers(env, "audit_log")
    raw(env, "UPDATE audit_log SET target = 'x' WHERE id = 2")
    with env.rt.db.read() as s:
        rows = [dict(r._mapping) for r in s.execute(text("SELECT * FROM audit_log ORDER BY id")).all()]
    prev = "0" * 64
    for r in rows:
        if isinstance(r["details"], str):
            import json

            r["details"] = json.loads(r["details"])
        h = chain_hash(prev, r)
        raw(env, "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i", p=prev, h=h, i=r["id"])
        prev = h
    code, out = _verify(env, capsys)
    # The MAC (keyed outside the database) names the first re-hashed record; the signed head would too.
    assert code == 1 and "BROKEN at record 2" in out and "not authenticated" in out


def _move_heads(data_dir: str, start: int, end: int) -> None:
    from mixun.config import load_settings
    from mixun.services.audit_checkpoints import note_head

    settings = load_settings({"MIXUN_DATA_DIR": data_dir})
    for audit_id in range(start, end, 2):
        note_head(settings, audit_id, f"{audit_id:064x}")


def test_the_signed_head_never_moves_back_across_processes(tmp_path) -> None:
    """Two processes (a server and its writer process, or --workers N) moving the signed audit head at
    once: it ends at the latest record of either, never at an older one a slower process wrote last."""
    import multiprocessing

    from mixun.config import load_settings
    from mixun.services.audit_checkpoints import read_head, signing_key

    settings = load_settings({"MIXUN_DATA_DIR": str(tmp_path)})
    signing_key(settings)
    for _round in range(5):
        top = 600 * (_round + 1)
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_move_heads, args=(str(tmp_path), top - 600 + r, top)) for r in (1, 2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        head = read_head(settings)
        assert head is not None and head["audit_id"] == top - 1, head
