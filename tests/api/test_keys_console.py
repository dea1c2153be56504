"""The key management status in the console (issue 20): `GET /api/v1/security/keys` shows the security
administrator and the auditor what `mixun keys status` prints - the cipher, each KEK version and what it
protects, each period key (month, retention group, state, where, what it protects), where period keys
are kept - and the last rotation, period-key destruction and escrow export from the audit trail.
Read-only: the system administrator and staff are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mixun.keystore import period_of
from mixun.services import backup_crypto, keys
from mixun.services.runtime import Ctx
from tests.conftest import Env
from tests.helpers import staff


def test_the_key_screen_shows_versions_periods_and_the_last_operations(env: Env, tmp_path: Path) -> None:
    c = env.client
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    _aud, taud = staff(env, "aud1", "审计员", "auditor")
    _sys, tsys = staff(env, "sys1", "系统员", "sysadmin")
    _zs, tzs = env.person("zhangsan", "张三")
    _ls, _tls = env.person("lisi", "李四")
    conv = c.post("/api/v1/conversations", headers=env.h(tzs),
                  json={"kind": "group", "name": "授信讨论", "members": [_ls]}).json()["id"]
    assert c.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(tzs),
                  json={"text": "本月的会话"}).status_code == 201

    # Nobody but the security administrator and the auditor, and never a change through it.
    for token in (tsys, tzs):
        r = c.get("/api/v1/security/keys", headers=env.h(token))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    for method in ("POST", "PUT", "DELETE"):
        assert c.request(method, "/api/v1/security/keys", headers=env.h(tsec)).status_code == 405

    before = c.get("/api/v1/security/keys", headers=env.h(tsec))
    assert before.status_code == 200, before.text
    st = before.json()
    assert st["last"] == {"rotated": None, "period_keys_destroyed": None, "period_keys_exported": None}
    assert st["cipher"] and st["provider"] == "file" and st["period_keys_where"] == "file"
    assert st["period_keys_dir"] and st["period_keys_fallback"] == ""
    (v1,) = st["versions"]
    assert v1["current"] and v1["present"] and v1["where"] == "file" and v1["total"] >= 1
    assert set(v1["protects"]) == set(st["labels"]) and v1["protects"]["message_texts"] >= 1
    now = period_of(datetime.now(UTC))
    mine = [p for p in st["periods"] if p["period"] == now and p["protects"]]
    assert mine and all(p["state"] == "present" and p["where"] == "file" for p in mine)
    assert all(p["group_label"] for p in st["periods"])

    # A closed month whose last conversation key is gone: its period key is destroyed (the file ring,
    # no HSM), then a rotation and an escrow export; the screen shows each.
    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    ring = env.rt.keys.data_keys
    gone = 201901
    ring.keys_for([("c:900002", gone)])
    assert keys.shred_spent(ctx)["periods_destroyed"] == [str(gone)]
    assert keys.rotate(ctx)["left"] == 0
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    keys.export_periods(ctx, tmp_path / "escrow.bin", key)

    for token in (tsec, taud):
        r = c.get("/api/v1/security/keys", headers=env.h(token))
        assert r.status_code == 200, r.text
        st = r.json()
        destroyed = [p for p in st["periods"] if p["period"] == gone]
        assert len(destroyed) == 1 and destroyed[0]["state"] == "destroyed" and not destroyed[0]["present"]
        assert destroyed[0]["destroyed_at"] and destroyed[0]["where"] is None and destroyed[0]["protects"] == 0
        assert destroyed[0]["group"] == "" and destroyed[0]["group_label"] == "按月（分组前）"
        assert [(v["version"], v["current"]) for v in st["versions"]] == [(1, False), (2, True)]
        assert st["versions"][0]["total"] == 0 and st["versions"][1]["total"] >= 1
        last = st["last"]
        assert last["rotated"]["version"] == 2 and last["rotated"]["previous"] == 1
        assert last["period_keys_destroyed"]["count"] == 1 and last["period_keys_destroyed"]["periods"] == [str(gone)]
        assert last["period_keys_exported"]["at"] and last["period_keys_exported"]["periods"]
        assert set(last["period_keys_exported"]) == set(last["rotated"])
