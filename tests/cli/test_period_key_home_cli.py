"""The host's period key store seen from the command line: a data dir whose host store is not usable
(fallback to keys/periods) still backs up and restores every message, and the restore note cannot be
used to write what it likes into the audit trail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MIXUN = str(Path(sys.executable).with_name("mixun"))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIXUN, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_a_deployment_without_a_usable_host_store_restores_every_message(tmp_path: Path) -> None:
    """With no usable host directory (an account without a home: the documented fallback) the period keys
    are in keys/periods, and ADR 0020 says backups then hold them. `mixun backup` skipped keys/periods
    regardless, so INTERFACE.md's backup-then-restore-into-an-empty-dir read every text as destroyed."""
    from fastapi.testclient import TestClient

    from mixun.api.app import create_app
    from mixun.config import load_settings
    from tests.conftest import PASSWORD, build_env

    (tmp_path / "not-a-dir").write_text("")
    host = {"MIXUN_PERIOD_KEYS_DIR": str(tmp_path / "not-a-dir" / "period-keys")}
    (tmp_path / "a").mkdir()
    env, close = build_env(tmp_path / "a", "sqlite", **host)
    try:
        _a, ta = env.person("zhangsan", "张三")
        b, _tb = env.person("lisi", "李四")
        conv = env.client.post("/api/v1/conversations", headers=env.h(ta),
                               json={"kind": "direct", "members": [b]}).json()["id"]
        assert env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta),
                               json={"text": "无主目录时的消息"}).status_code == 201
        key = {"MIXUN_BACKUP_KEY_FILE": str(tmp_path / "backup.key"), **host}
        src = {"MIXUN_DATA_DIR": str(env.settings.data_dir), "MIXUN_DATABASE_URL": env.settings.database_url, **key}
        made = run(src, "backup", "--out", str(tmp_path / "b.tgz"))
        assert made.returncode == 0, made.stderr
    finally:
        close()
    dst = {"MIXUN_DATA_DIR": str(tmp_path / "c"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/c/mixun.db", **key}
    restored = run(dst, "restore", str(tmp_path / "b.tgz"))
    assert restored.returncode == 0 and "destroyed" not in restored.stderr, restored.stderr
    assert run(dst, "init").returncode == 0
    app = create_app(load_settings({**os.environ, **dst}))
    with TestClient(app, client=("127.0.0.1", 40012)) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        got = client.get(f"/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {tok}"})
        assert [m["text"] for m in got.json()["messages"] if m["kind"] == "text"] == ["无主目录时的消息"]
        app.state.runtime.db.dispose()


def test_a_planted_restore_note_writes_only_a_restores_own_fields(tmp_path: Path) -> None:
    """keys/restored.json is a file of the data dir, written by `mixun restore` and turned into an audit
    record by the next `mixun init`. A note written by someone else must neither stop `mixun init` (a
    `target` field made it fail on every run: no migration, no upgrade) nor choose the record's actor or
    outcome, nor copy whatever it likes into the trail."""
    from sqlalchemy import create_engine, text

    env = {"MIXUN_DATA_DIR": str(tmp_path / "a"), "MIXUN_DATABASE_URL": f"sqlite:///{tmp_path}/a/mixun.db"}
    assert run(env, "init").returncode == 0
    note = {"restored_at": "2026-12-01T00:00:00+00:00", "backup_created_at": "2026-11-30T00:00:00+00:00",
            "periods_restored": [], "periods_on_host": [202612], "periods_missing": [],
            "target": "someone", "actor_id": 1, "outcome": "failure", "password": "P@ss"}
    (tmp_path / "a" / "keys" / "restored.json").write_text(json.dumps(note))
    again = run(env, "init")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "a" / "keys" / "restored.json").exists()
    eng = create_engine(f"sqlite:///{tmp_path}/a/mixun.db")
    with eng.connect() as c:
        rows = c.execute(text("SELECT actor_id, outcome, target, details FROM audit_log "
                              "WHERE action = 'keys.restored'")).all()
    eng.dispose()
    assert len(rows) == 1
    actor, outcome, target, details = rows[0]
    details = json.loads(details) if isinstance(details, str) else details
    assert actor is None and outcome == "success" and target == "backup"
    assert "password" not in details and details["periods_on_host"] == [202612]
