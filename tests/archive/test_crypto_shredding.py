"""Crypto-shredding (issue 20 item 10): when retention destroys a conversation-month's messages, its data
key is destroyed (audited), so a backup taken before, restored elsewhere with the current key store,
shows those messages as destroyed - clearly, with a 200, never the text and never a 500."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mixun.config import load_settings
from mixun.db.sealed import DESTROYED_TEXT
from mixun.services import backup, backup_crypto, retention
from tests.archive.conftest import cli_ctx, group, send
from tests.conftest import PASSWORD, Env, fresh_database

LATER = datetime.now(UTC) + timedelta(days=6 * 365)
SECRET = "授信额度调整方案玄武十号"


def _restore_elsewhere(env: Env, archive: Path, key_file: Path, tmp: Path) -> object:
    """The backup restored into a new data dir and database, then given the CURRENT key store."""
    kind = "sqlite" if env.rt.db.is_sqlite else "postgresql"
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/elsewhere/mixun.db"
    else:
        url = fresh_database(kind, tmp / "elsewhere-db")[0]
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    settings = load_settings({"MIXUN_DATA_DIR": str(tmp / "elsewhere"), "MIXUN_DATABASE_URL": url})
    backup.restore(settings, archive, key_file=key_file)
    keys = settings.key_file.parent
    shutil.rmtree(keys)
    shutil.copytree(env.settings.key_file.parent, keys)  # today's keys, not the backup's
    return settings


def test_retention_destroys_the_data_key_and_old_backups_cannot_show_the_text(env: Env, tmp_path: Path) -> None:
    from mixun.api.app import create_app

    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    send(env, ta, conv, SECRET)
    masked = send(env, ta, conv, "身份证 11010519491231002X")  # DLP masks it; its hit keeps the excerpt
    assert masked["dlp"]["action"] == "mask", masked
    assert env.rt.keys.data_keys.scopes(), "a data key was made for the conversation's month"
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    backup.backup(env.settings, tmp_path / "old.tgz", key)

    result = retention.run(cli_ctx(env), now=LATER)
    assert result["counts"]["messages"] == 2
    assert result["data_keys_destroyed"] >= 1
    assert not [s for _k, s, _p in env.rt.keys.data_keys.scopes() if s == f"c:{conv}"]
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_log WHERE action = 'keys.data_keys_destroyed'")).all()
    assert rows, "the destruction is audited"
    from tests.helpers import staff

    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")  # the DLP console keeps the hit, not its excerpt
    hits = env.client.get("/api/v1/dlp/hits", headers=env.h(tsec)).json()["hits"]
    assert [(h["detector"], h["masked"]) for h in hits] == [("cn_id_card", DESTROYED_TEXT)]

    settings = _restore_elsewhere(env, tmp_path / "old.tgz", tmp_path / "backup.key", tmp_path)
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40001)) as client:
        rt = app.state.runtime
        with rt.db.read_engine.connect() as c:  # the old backup still holds the sealed rows ...
            assert c.execute(text("SELECT count(*) FROM messages WHERE conversation_id = :c"), {"c": conv}).scalar() == 2
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        r = client.get(f"/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 200, r.text
        shown = [m for m in r.json()["messages"] if m["kind"] == "text"]
        assert len(shown) == 2  # ... but the texts cannot be read, and say so
        assert all(m["content_destroyed"] is True and m["text"] == DESTROYED_TEXT for m in shown)
        assert all(m["dlp"]["findings"] == [] for m in shown if "dlp" in m)  # nor the masked excerpt
        assert SECRET not in r.text
        rt.db.dispose()
