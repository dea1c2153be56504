"""`mixun org import FILE [--dry-run]` (issue 21 item 2): HR's list makes units and people follow it, in one
transaction; a dry run prints exactly what would change and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Env


def _cli(env: Env, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from mixun.cli.main import main

    monkeypatch.setenv("MIXUN_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("MIXUN_DATABASE_URL", env.settings.database_url)
    return main(list(args))


def _snapshot(env: Env) -> tuple:
    from mixun.db.models import AuditLog, Unit, User

    with env.rt.db.read() as s:
        people = sorted(s.execute(select(User.employee_no, User.name, User.unit_id, User.position,
                                         User.departed_at, User.hr_verified)).all(), key=str)
        units = sorted(s.execute(select(Unit.path)).scalars())
        audit = s.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    return people, units, audit


CSV = """employee_no,name,unit,position,phone,username,status,departure_reason
E1001,张三,总行/信息科技部,高级工程师,,,,
E1002,李四,总行/运营管理部,柜员,13800000002,lisi,,
E1003,王五,总行/信息科技部,工程师,,,departed,retirement
E2001,赵新,北京分行/营业部,理财经理,13800000009,zhaoxin,,
"""


def _seed(env: Env) -> None:
    from mixun.db.models import User

    for username, name, no in (("zhangsan", "张叁", "E1001"), ("lisi", "李四", "E1002"), ("wangwu", "王五", "E1003")):
        uid = env.make_user(username, name, unit="总行/信息科技部", position="工程师")
        with env.rt.db.write() as s:
            s.get(User, uid).employee_no = no


def test_dry_run_prints_each_change_and_changes_nothing(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run lists created / moved / renamed / departed rows and counts; the database is untouched."""
    _seed(env)
    f = tmp_path / "hr.csv"
    f.write_text(CSV, encoding="utf-8")
    before = _snapshot(env)
    assert _cli(env, monkeypatch, "org", "import", str(f), "--dry-run") == 0
    out = capsys.readouterr()
    assert "line 2: renamed E1001 张三 张叁 -> 张三" in out.out
    assert "line 3: moved E1002 李四 总行/信息科技部 -> 总行/运营管理部" in out.out
    assert "line 4: departed E1003 王五 retirement" in out.out
    assert "line 5: created E2001 赵新 zhaoxin -> 北京分行/营业部" in out.out
    assert "created=1 moved=1 renamed=1 updated=0 verified=0 departed=1 unchanged=0 units_created=3" in out.out
    assert "dry run: nothing was changed" in out.err
    assert _snapshot(env) == before


def test_real_import_is_one_audited_transaction(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A real run applies every row (HR-verified), is audited; a second run of the same file changes
    nothing; a file with one bad row changes nothing at all."""
    from mixun.db.models import AuditLog, User

    _seed(env)
    f = tmp_path / "hr.json"
    rows = [dict(zip(CSV.splitlines()[0].split(","), line.split(","), strict=True)) for line in CSV.splitlines()[1:]]
    f.write_text(json.dumps({"people": rows}, ensure_ascii=False), encoding="utf-8")
    assert _cli(env, monkeypatch, "org", "import", str(f)) == 0
    capsys.readouterr()
    with env.rt.db.read() as s:
        people = {u.employee_no: u for u in s.execute(select(User)).scalars()}
        assert people["E1001"].name == "张三" and people["E1001"].hr_verified
        assert people["E1003"].departed_at is not None and people["E1003"].departure_reason == "retirement"
        assert people["E2001"].username == "zhaoxin" and people["E2001"].password_hash.startswith("!")
        summary = s.execute(select(AuditLog.details).where(AuditLog.action == "org.imported")).scalar_one()
    assert summary["created"] == 1 and summary["departed"] == 1 and len(summary["sha256"]) == 64
    # the people written in bulk each have their own chained, authenticated audit record
    from mixun.services.audit_checkpoints import verify
    from mixun.services.runtime import Ctx

    with env.rt.db.read() as s:
        created = s.execute(select(AuditLog.target).where(AuditLog.action == "account.created",
                                                          AuditLog.target == f"user:{people['E2001'].id}")).all()
    assert len(created) == 1
    report = verify(Ctx(rt=env.rt))
    assert report.ok, report.reason
    assert _cli(env, monkeypatch, "org", "import", str(f), "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["counts"]["unchanged"] == 4 and again["rows"] == []
    # one bad row (an unknown departure kind) and nothing of the good rows is applied
    before = _snapshot(env)
    bad = tmp_path / "bad.csv"
    bad.write_text("employee_no,name,unit,status,departure_reason\nE1001,张三丰,总行/信息科技部,,\n"
                   "E1002,李四,总行/运营管理部,departed,bored\n", encoding="utf-8")
    assert _cli(env, monkeypatch, "org", "import", str(bad)) == 1
    out = capsys.readouterr()
    assert "line 3: error E1002 validation_failed" in out.out and "nothing was changed" in out.err
    assert _snapshot(env) == before
    # a file that is not HR's list: a clear message, exit 2
    odd = tmp_path / "odd.csv"
    odd.write_text("who,where\nx,y\n", encoding="utf-8")
    assert _cli(env, monkeypatch, "org", "import", str(odd)) == 2
    assert "columns" in capsys.readouterr().err


def test_interrupted_import_leaves_nothing_half_done(env: Env) -> None:
    """Ctrl-C in the middle of a long import (the progress callback raising), after a first thousand people
    were already written in the transaction, rolls every row back."""
    from mixun.services.org_import import apply_rows
    from mixun.services.runtime import Ctx

    rows = [{"employee_no": f"E5{i:04d}", "name": f"员工{i}", "unit": "总行/批量部"} for i in range(1300)]
    before = _snapshot(env)
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 1200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_rows(Ctx(rt=env.rt, ip="127.0.0.1", client="tests"), rows, dry_run=False, progress=progress)
    assert seen == [200, 400, 600, 800, 1000, 1200]
    assert _snapshot(env) == before
