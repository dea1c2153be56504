"""Durability: a `kill -9` right after a 201 loses nothing, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from tests.conftest import PASSWORD, fresh_database
from tests.helpers import Server


def _setup(tmp_path: Path, db: str) -> tuple[Path, str | None, dict[str, int], object]:
    from mixun.api.app import build_runtime
    from mixun.config import load_settings
    from mixun.services import users
    from mixun.services.runtime import Ctx
    from mixun.services.setup import initialise

    data = tmp_path / "data"
    url, cleanup = (None, lambda: None)
    env = {"MIXUN_DATA_DIR": str(data)}
    if db == "postgresql":
        url, cleanup = fresh_database("postgresql", tmp_path)
        env["MIXUN_DATABASE_URL"] = url
    settings = load_settings(env)
    initialise(settings, create_admins=False)
    rt = build_runtime(settings)
    try:
        ids = {u: users.create_user(Ctx(rt=rt, ip="127.0.0.1", client="tests"), username=u, name=n,
                                    unit="总行/营业部", password=PASSWORD, roles=["employee"],
                                    must_change_password=False).id
               for u, n in (("zhangsan", "张三"), ("lisi", "李四"))}
    finally:
        rt.db.dispose()
    return data, url, ids, (cleanup, settings.database_url)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_kill_9_right_after_201_loses_nothing(tmp_path: Path, db: str) -> None:
    """Every acknowledged message survives a kill -9 with the same seq; event streams have no gaps."""
    from mixun.db.models import EventCounter, UserEvent

    data, url, ids, (cleanup, db_url) = _setup(tmp_path, db)
    first = second = None
    try:
        first = Server(data, url).wait()
        c = httpx.Client(base_url=first.url, timeout=10)
        tokens = {u: c.post("/api/v1/auth/login", json={"username": u, "password": PASSWORD}).json()["token"]
                  for u in ("zhangsan", "lisi")}
        h = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
        conv = c.post("/api/v1/conversations", headers=h["zhangsan"],
                      json={"kind": "direct", "members": [ids["lisi"]]}).json()["id"]
        acked: list[tuple[int, int, str]] = []
        for i in range(25):
            who = "zhangsan" if i % 3 else "lisi"
            r = c.post(f"/api/v1/conversations/{conv}/messages", headers=h[who], json={"text": f"第{i}条 {who}"})
            assert r.status_code == 201, r.text
            acked.append((r.json()["id"], r.json()["seq"], f"第{i}条 {who}"))
        first.kill9()  # immediately after the last 201
        c.close()
        second = Server(data, url).wait()
        r = httpx.post(second.url + "/api/v1/auth/login", json={"username": "lisi", "password": PASSWORD})
        token = r.json()["token"]
        history = httpx.get(f"{second.url}/api/v1/conversations/{conv}/messages?limit=200",
                            headers={"Authorization": f"Bearer {token}"}).json()["messages"]
        assert [(m["id"], m["seq"], m["text"]) for m in history] == acked
        assert [m["seq"] for m in history] == list(range(1, 26))
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                for uid in ids.values():
                    seqs = list(conn.execute(select(UserEvent.event_seq).where(UserEvent.user_id == uid)
                                             .order_by(UserEvent.event_seq)).scalars())
                    last = conn.execute(select(EventCounter.last_seq).where(EventCounter.user_id == uid)).scalar()
                    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == last
                    assert len(seqs) >= 26  # the conversation and every message
        finally:
            engine.dispose()
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
        cleanup()
