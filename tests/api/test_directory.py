"""The directory: search by name, pinyin, initials, unit, position; paging; status; nothing leaks."""

from __future__ import annotations

from tests.conftest import Env


def _names(env: Env, token: str, q: str) -> set[str]:
    r = env.client.get("/api/v1/directory/users", headers=env.h(token), params={"q": q})
    assert r.status_code == 200, r.text
    return {u["name"] for u in r.json()["users"]}


def test_search_by_name_pinyin_initials_unit_position(env: Env) -> None:
    """张三 is found by 张三, zhangsan, zs, 三, his unit, his position and his username."""
    _uid, t = env.person("zhangsan", "张三", unit="总行/公司金融部", position="客户经理")
    env.make_user("zengfan", "曾凡", unit="分行/营业部", position="柜员")
    env.make_user("wangwu", "王五", unit="分行/营业部", position="大堂经理")
    for q in ("张三", "zhangsan", "zs", "三", "公司金融", "客户经理", "zhangs"):
        assert "张三" in _names(env, t, q), q
    assert _names(env, t, "zs") == {"张三"}
    assert _names(env, t, "营业部") == {"曾凡", "王五"}
    for q in ("zengfan", "cengfan", "曾"):
        assert "曾凡" in _names(env, t, q), q
    assert _names(env, t, "不存在的人") == set()


def test_directory_needs_login(env: Env) -> None:
    """Nothing in the directory is visible without logging in."""
    env.make_user("zhangsan", "张三")
    for path in ("/api/v1/directory/users?q=zhangsan", "/api/v1/directory/users/1", "/api/v1/directory/units"):
        r = env.client.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"


def test_paging_is_capped(env: Env) -> None:
    """A page holds at most 200 people (limit=500 is 422) and next_offset walks the rest."""
    _uid, t = env.person("viewer", "查看者")
    for i in range(7):
        env.make_user(f"teller{i}", f"柜员{i}号", unit="分行/柜面")
    h = env.h(t)
    assert env.client.get("/api/v1/directory/users?limit=500", headers=h).status_code == 422
    assert env.client.get("/api/v1/directory/users?limit=200", headers=h).status_code == 200
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        body = env.client.get(f"/api/v1/directory/users?q=柜面&limit=3&offset={offset}", headers=h).json()
        assert len(body["users"]) <= 3
        seen += [u["id"] for u in body["users"]]
        offset = body["next_offset"]
    assert len(seen) == len(set(seen)) == 7


def test_status_online_offline_and_set_by_user(env: Env) -> None:
    """Status is online while connected, offline otherwise, and busy/meeting/away as the user sets it."""
    uid, t = env.person("zhangsan", "张三")
    _vid, v = env.person("lisi", "李四")

    def status() -> str:
        return str(env.client.get(f"/api/v1/directory/users/{uid}", headers=env.h(v)).json()["status"])

    assert status() == "offline"
    with env.client.websocket_connect(f"/api/v1/ws?token={t}") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert status() == "online"
        for s in ("busy", "meeting", "away"):
            r = env.client.patch("/api/v1/me", headers=env.h(t), json={"status": s})
            assert r.status_code == 200 and r.json()["status"] in (s, "online")
            assert status() == s
        r = env.client.patch("/api/v1/me", headers=env.h(t), json={"status": "sleeping"})
        assert r.status_code == 422
        env.client.patch("/api/v1/me", headers=env.h(t), json={"status": "available"})
        assert status() == "online"
    assert status() == "offline"


def test_directory_never_exposes_secrets(env: Env) -> None:
    """No directory answer carries password hashes or two-factor fields."""
    uid, t = env.person("zhangsan", "张三")
    h = env.h(t)
    bodies = [env.client.get("/api/v1/directory/users?q=zhangsan", headers=h).text,
              env.client.get(f"/api/v1/directory/users/{uid}", headers=h).text,
              env.client.get("/api/v1/directory/users", headers=h).text]
    for text in bodies:
        for secret in ("password", "argon2", "totp", "secret", "recovery", "hash"):
            assert secret not in text.lower(), (secret, text[:300])


def test_disabled_and_departed_people_are_not_found(env: Env) -> None:
    """A departed or disabled account disappears from search by name, pinyin and unit; re-enabled, it returns."""
    from tests.helpers import staff

    _adm, tadm = staff(env, "sys1", "系统管理员", "sysadmin")
    _v, t = env.person("viewer", "查看人", unit="总行/办公室")
    a = env.make_user("zhaoliu", "赵六", unit="分行/营业部", position="柜员")
    b = env.make_user("qianqi", "钱七", unit="分行/营业部", position="柜员")
    assert _names(env, t, "营业部") == {"赵六", "钱七"}
    assert env.client.post(f"/api/v1/admin/users/{a}/depart", headers=env.h(tadm),
                           json={"reason": "resignation"}).status_code == 200
    r = env.client.patch(f"/api/v1/admin/users/{b}", headers=env.h(tadm), json={"disabled": True})
    assert r.status_code == 200, r.text
    for q in ("赵六", "zhaoliu", "zl", "钱七", "qianqi", "营业部", "柜员"):
        assert _names(env, t, q) == set(), q
    assert "赵六" not in {u["name"] for u in env.client.get("/api/v1/directory/users", headers=env.h(t)).json()["users"]}
    assert env.client.patch(f"/api/v1/admin/users/{b}", headers=env.h(tadm), json={"disabled": False}).status_code == 200
    assert _names(env, t, "qianqi") == {"钱七"} and _names(env, t, "营业部") == {"钱七"}
