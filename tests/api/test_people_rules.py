"""Issue 21 items 6-10: the rules accepted, announcements, function switches, the account review and a
directory that cannot be harvested (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.websockets import WebSocketDisconnect

from tests.conftest import EICAR, Env, build_env
from tests.helpers import direct, group, send, staff

UNIT_A = "总行/信息科技部"
UNIT_B = "总行/零售业务部"


def _audit_actions(env: Env) -> list[str]:
    from mixun.db.models import AuditLog

    with env.rt.db.read() as s:
        return list(s.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


# ---- item 6: the rules accepted ---------------------------------------------------------------------

def test_nothing_works_until_the_current_rules_are_accepted(env: Env) -> None:
    """Once secadmin publishes rules, a person can do nothing but read and accept them; the acceptance is
    kept with time and address; a new version asks again; compliance lists who has not accepted."""
    zs, zs_t = env.person("zhangsan", "张三")
    _ls, ls_t = env.person("lisi", "李四")
    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    _co, co_t = staff(env, "co", "合规员", "compliance")
    # No rules yet: nothing is asked.
    assert env.client.get("/api/v1/conversations", headers=env.h(zs_t)).status_code == 200
    r = env.client.post("/api/v1/admin/rules", json={"title": "使用与保密规定", "body": "一、不得传播涉密信息。"},
                        headers=env.h(zs_t))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = env.client.post("/api/v1/admin/rules", json={"title": "使用与保密规定", "body": "一、不得传播涉密信息。"},
                        headers=env.h(sec_t))
    assert r.status_code == 201 and r.json()["version"] == 1
    # Now every route but the rules' own refuses, for staff and for the publisher alike.
    for token in (zs_t, sec_t):
        r = env.client.get("/api/v1/conversations", headers=env.h(token))
        assert r.status_code == 403 and r.json()["error"]["code"] == "rules_acceptance_required"
    assert env.client.get("/api/v1/me", headers=env.h(zs_t)).json()["must_accept_rules"] is True
    # Nor is anything delivered: the WebSocket is refused too.
    with pytest.raises(WebSocketDisconnect) as closed, env.client.websocket_connect(f"/api/v1/ws?token={zs_t}") as ws:
        ws.receive_json()
    assert closed.value.code == 4003
    cur = env.client.get("/api/v1/rules/current", headers=env.h(zs_t)).json()
    assert cur["must_accept"] is True and cur["rules"]["version"] == 1 and "涉密" in cur["rules"]["body"]
    # A fresh login says so too.
    assert env.client.post("/api/v1/auth/login", json={"username": "lisi", "password": "Str0ng!Pass#2026"}
                           ).json()["must_accept_rules"] is True
    assert env.client.post("/api/v1/rules/accept", json={"version": 1}, headers=env.h(zs_t)).status_code == 200
    assert env.client.get("/api/v1/conversations", headers=env.h(zs_t)).status_code == 200
    assert "rules.accepted" in _audit_actions(env)
    from mixun.db.models_people import RulesAcceptance

    with env.rt.db.read() as s:
        acc = s.execute(select(RulesAcceptance).where(RulesAcceptance.user_id == zs)).scalar_one()
    assert acc.ip == "127.0.0.1" and acc.version == 1
    # Compliance: who has not accepted (not zhangsan; lisi yes).
    assert env.client.post("/api/v1/rules/accept", json={"version": 1}, headers=env.h(co_t)).status_code == 200
    rep = env.client.get("/api/v1/admin/rules/acceptance?status=pending&limit=200", headers=env.h(co_t)).json()
    pending = {p["username"] for p in rep["people"]}
    assert "lisi" in pending and "zhangsan" not in pending and rep["version"] == 1
    csv = env.client.get("/api/v1/admin/rules/acceptance.csv?status=all", headers=env.h(co_t))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "zhangsan" in csv.text and "lisi" in csv.text
    assert env.client.get("/api/v1/admin/rules/acceptance", headers=env.h(ls_t)).status_code == 403
    # A new version asks again; accepting the old one is a 409 naming the current one.
    assert env.client.post("/api/v1/rules/accept", json={"version": 1}, headers=env.h(sec_t)).status_code == 200
    assert env.client.post("/api/v1/admin/rules", json={"title": "使用与保密规定（2027）", "body": "二、新增条款。"},
                           headers=env.h(sec_t)).status_code == 201
    r = env.client.get("/api/v1/conversations", headers=env.h(zs_t))
    assert r.status_code == 403 and r.json()["error"]["code"] == "rules_acceptance_required"
    r = env.client.post("/api/v1/rules/accept", json={"version": 1}, headers=env.h(zs_t))
    assert r.status_code == 409 and r.json()["error"]["current"] == 2


def test_an_acceptance_lapses_after_a_year(env: Env) -> None:
    """A person who accepted more than a year ago accepts again before going on."""
    from mixun.db.models_people import RulesAcceptance
    from mixun.services.auth import principal_cache

    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    zs, zs_t = env.person("zhangsan", "张三")
    env.client.post("/api/v1/admin/rules", json={"title": "规定", "body": "正文"}, headers=env.h(sec_t))
    assert env.client.post("/api/v1/rules/accept", json={"version": 1}, headers=env.h(zs_t)).status_code == 200
    assert env.client.get("/api/v1/conversations", headers=env.h(zs_t)).status_code == 200
    with env.rt.db.write() as s:
        s.execute(update(RulesAcceptance).where(RulesAcceptance.user_id == zs)
                  .values(accepted_at=datetime.now(UTC) - timedelta(days=366)))
    principal_cache(env.rt).clear()
    r = env.client.get("/api/v1/conversations", headers=env.h(zs_t))
    assert r.status_code == 403 and r.json()["error"]["code"] == "rules_acceptance_required"


# ---- item 7: announcements ----------------------------------------------------------------------------

def test_announcements_reach_their_units_and_publishers_see_who_has_not_read(env: Env) -> None:
    """HR publishes to one unit (with sub-units): only its people get it, as a banner until read; the
    publisher sees read / confirmed counts and who has not read, and reminds them. A unit head publishes
    to their own unit only; an employee cannot publish."""
    a1, a1_t = env.person("zhangsan", "张三", unit=UNIT_A)
    a2, a2_t = env.person("wangwu", "王五", unit=UNIT_A + "/开发一组")
    _b1, b1_t = env.person("lisi", "李四", unit=UNIT_B)
    _hr, hr_t = env.person("hr1", "人事专员", roles=["hr"], unit="总行/人力资源部")
    _uh, uh_t = env.person("head", "部门负责人", roles=["unit_head"], unit=UNIT_B)
    units = {u["path"]: u["id"] for u in env.client.get("/api/v1/announcements/scope", headers=env.h(hr_t)).json()["units"]}
    r = env.client.post("/api/v1/announcements", json={"title": "系统升级通知", "body": "周六 22:00 升级。",
                                                        "unit_ids": [units[UNIT_A]], "must_confirm": True},
                        headers=env.h(hr_t))
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    mine = env.client.get("/api/v1/announcements", headers=env.h(a2_t)).json()
    assert [a["title"] for a in mine["announcements"]] == ["系统升级通知"] and mine["banner"][0]["id"] == aid
    assert env.client.get("/api/v1/announcements", headers=env.h(b1_t)).json()["announcements"] == []
    # Reading clears the banner only when no confirmation is asked: this one must be confirmed.
    env.client.post(f"/api/v1/announcements/{aid}/read", json={}, headers=env.h(a1_t))
    assert env.client.get("/api/v1/announcements", headers=env.h(a1_t)).json()["banner"][0]["id"] == aid
    assert env.client.post(f"/api/v1/announcements/{aid}/read", json={"confirm": True}, headers=env.h(a1_t)).status_code == 200
    assert env.client.get("/api/v1/announcements", headers=env.h(a1_t)).json()["banner"] == []
    # Someone who is not a recipient cannot mark it.
    assert env.client.post(f"/api/v1/announcements/{aid}/read", json={}, headers=env.h(b1_t)).status_code == 404
    pub = env.client.get("/api/v1/announcements/published", headers=env.h(hr_t)).json()["announcements"][0]
    assert (pub["recipients"], pub["read"], pub["confirmed"]) == (2, 1, 1)
    unread = env.client.get(f"/api/v1/announcements/{aid}/receipts?status=unread", headers=env.h(hr_t)).json()
    assert [p["user_id"] for p in unread["people"]] == [a2]
    assert env.client.post(f"/api/v1/announcements/{aid}/remind", headers=env.h(hr_t)).json() == {"reminded": 1}
    assert {"announcement.published", "announcement.confirmed", "announcement.reminded"} <= set(_audit_actions(env))
    # The unit head: their own unit yes, another unit or the whole bank no.
    r = env.client.post("/api/v1/announcements", json={"title": "部门例会", "body": "周一 9 点。", "unit_ids": [units[UNIT_A]]},
                        headers=env.h(uh_t))
    assert r.status_code == 403 and r.json()["error"]["code"] == "announcement_scope_forbidden"
    r = env.client.post("/api/v1/announcements", json={"title": "部门例会", "body": "周一 9 点。"}, headers=env.h(uh_t))
    assert r.status_code == 403
    r = env.client.post("/api/v1/announcements", json={"title": "部门例会", "body": "周一 9 点。", "unit_ids": [units[UNIT_B]]},
                        headers=env.h(uh_t))
    assert r.status_code == 201
    assert [a["title"] for a in env.client.get("/api/v1/announcements", headers=env.h(b1_t)).json()["announcements"]] == ["部门例会"]
    # An employee has no publishing rights; a bank-wide one reaches everyone (administrators excepted).
    assert env.client.post("/api/v1/announcements", json={"title": "x", "body": "y"}, headers=env.h(a1_t)).status_code == 403
    r = env.client.post("/api/v1/announcements", json={"title": "全行通知", "body": "内容"}, headers=env.h(hr_t))
    assert r.json()["id"] and env.client.get("/api/v1/announcements/published", headers=env.h(hr_t)).json()[
        "announcements"][0]["recipients"] == 5


def test_announcement_text_passes_dlp(env: Env) -> None:
    """An ID number in an announcement is refused or masked as the DLP policy says for the channel."""
    _hr, hr_t = env.person("hr1", "人事专员", roles=["hr"])
    r = env.client.post("/api/v1/announcements", json={"title": "通知", "body": "请联系 11010519491231002X 办理"},
                        headers=env.h(hr_t))
    assert r.status_code in (201, 422)
    if r.status_code == 201:
        body = env.client.get("/api/v1/announcements", headers=env.h(hr_t)).json()["announcements"][0]["body"]
        assert "11010519491231002X" not in body
    else:
        assert r.json()["error"]["code"] in ("dlp_blocked", "dlp_confirm_required")


# ---- item 8: function switches -----------------------------------------------------------------------

def test_switched_off_functions_are_refused_on_every_route_naming_the_rule(env: Env) -> None:
    """secadmin switches group creation off for a unit and file sending off for one person: the routes
    that do them answer 403 naming the rule; the person's own rule wins over the unit's; a group size
    limit and cross-unit switches hold too."""
    zs, zs_t = env.person("zhangsan", "张三", unit=UNIT_A)
    ww, ww_t = env.person("wangwu", "王五", unit=UNIT_A + "/开发一组")
    ls, _ls_t = env.person("lisi", "李四", unit=UNIT_B)
    zl, zl_t = env.person("zhaoliu", "赵六", unit=UNIT_A)
    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    unit_a = next(u["id"] for u in env.client.get("/api/v1/directory/units", headers=env.h(zs_t)).json()["units"]
                  if u["path"] == UNIT_A)
    conv = direct(env, zs_t, ww)
    put = lambda body: env.client.put("/api/v1/admin/function-rules", json=body, headers=env.h(sec_t))  # noqa: E731
    assert env.client.put("/api/v1/admin/function-rules", json={"scope": "unit", "target_id": unit_a,
                          "function": "create_groups", "allowed": False}, headers=env.h(zs_t)).status_code == 403
    assert put({"scope": "unit", "target_id": unit_a, "function": "create_groups", "allowed": False}).status_code == 200
    assert put({"scope": "user", "target_id": zl, "function": "create_groups", "allowed": True}).status_code == 200
    assert put({"scope": "user", "target_id": zs, "function": "send_files", "allowed": False}).status_code == 200
    # The sub-unit inherits its parent's rule.
    r = env.client.post("/api/v1/conversations", json={"kind": "group", "name": "项目组", "members": [zs]}, headers=env.h(ww_t))
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "function_disabled" and err["function"] == "create_groups" and err["rule_unit"] == UNIT_A
    assert UNIT_A in err["message"]
    # A person's own rule wins.
    assert group(env, zl_t, "赵六的群", [zs])
    # Files: the upload route and a forward of a file both refuse; text still goes.
    r = env.client.post(f"/api/v1/conversations/{conv}/files", files={"file": ("a.txt", b"hello", "text/plain")},
                        headers=env.h(zs_t))
    assert r.status_code == 403 and r.json()["error"]["function"] == "send_files"
    assert r.json()["error"]["rule_scope"] == "user"
    assert send(env, zs_t, conv, "文字可以").status_code == 201
    me = env.client.get("/api/v1/me/functions", headers=env.h(zs_t)).json()["functions"]
    assert me["send_files"]["allowed"] is False and me["create_groups"]["allowed"] is False
    # Group size and cross-unit groups, for zhaoliu.
    assert put({"scope": "user", "target_id": zl, "function": "group_size", "limit": 2}).status_code == 200
    r = env.client.post("/api/v1/conversations", json={"kind": "group", "name": "大群", "members": [zs, ww]}, headers=env.h(zl_t))
    assert r.status_code == 403 and r.json()["error"]["code"] == "group_size_limit"
    assert put({"scope": "user", "target_id": zl, "function": "cross_unit_groups", "allowed": False}).status_code == 200
    r = env.client.post("/api/v1/conversations", json={"kind": "group", "name": "跨部门", "members": [ls]}, headers=env.h(zl_t))
    assert r.status_code == 403 and r.json()["error"]["function"] == "cross_unit_groups"
    # Cross-unit direct messages: a new conversation and an existing one.
    cross = direct(env, zl_t, ls)
    assert put({"scope": "user", "target_id": zl, "function": "cross_unit_messages", "allowed": False}).status_code == 200
    r = send(env, zl_t, cross, "你好")
    assert r.status_code == 403 and r.json()["error"]["function"] == "cross_unit_messages"
    assert send(env, zl_t, direct(env, zl_t, zs), "同部门可以").status_code == 201
    # The rules list and removal; removal turns it back on.
    rules = env.client.get(f"/api/v1/admin/function-rules?user_id={zs}", headers=env.h(sec_t)).json()
    assert rules["effective"]["send_files"]["allowed"] is False
    rid = next(x["id"] for x in rules["rules"] if x["function"] == "send_files")
    assert env.client.delete(f"/api/v1/admin/function-rules/{rid}", headers=env.h(sec_t)).status_code == 204
    assert env.client.get("/api/v1/me/functions", headers=env.h(zs_t)).json()["functions"]["send_files"]["allowed"] is True
    assert "function.rule_set" in _audit_actions(env)
    # Bad input: a clear 422.
    assert put({"scope": "user", "target_id": zs, "function": "teleport", "allowed": False}).status_code == 422
    assert put({"scope": "user", "target_id": zs, "function": "group_size"}).status_code == 422


# ---- item 9: the account review -----------------------------------------------------------------------

def test_account_review_finds_dormant_expired_and_missing_two_factor(env: Env) -> None:
    """A review run on demand lists dormant accounts, expired passwords, privileged accounts without
    two-factor and accounts HR has not verified; it is kept, shown to sysadmin and secadmin only, and
    exported as CSV; the scheduled run happens once a day."""
    from mixun.db.models import User
    from mixun.services import account_review

    old, _t = env.person("olduser", "老用户")
    _zs, zs_t = env.person("zhangsan", "张三")
    co = env.make_user("co", "合规员", roles=["compliance"])
    _sec, sec_t = staff(env, "sec2", "安全员", "secadmin")
    long_ago = datetime.now(UTC) - timedelta(days=200)
    with env.rt.db.write() as s:
        s.execute(update(User).where(User.id == old).values(last_login_at=long_ago, password_changed_at=long_ago,
                                                            hr_verified=False))
    assert env.client.post("/api/v1/admin/account-reviews", headers=env.h(zs_t)).status_code == 403
    r = env.client.post("/api/v1/admin/account-reviews", headers=env.h(sec_t))
    assert r.status_code == 201
    found = {(f["kind"], f["username"]) for f in r.json()["findings"]}
    assert {("dormant", "olduser"), ("password_expired", "olduser"), ("not_hr_verified", "olduser"),
            ("no_two_factor", "co")} <= found
    assert ("dormant", "zhangsan") not in found and co
    rid = r.json()["id"]
    listed = env.client.get("/api/v1/admin/account-reviews", headers=env.h(sec_t)).json()
    assert listed["reviews"][0]["id"] == rid and listed["reviews"][0]["counts"]["dormant"] >= 1
    only = env.client.get(f"/api/v1/admin/account-reviews/{rid}?kind=dormant", headers=env.h(sec_t)).json()
    assert {f["kind"] for f in only["findings"]} == {"dormant"}
    assert env.client.get(f"/api/v1/admin/account-reviews/{rid}?kind=nope", headers=env.h(sec_t)).status_code == 422
    csv = env.client.get(f"/api/v1/admin/account-reviews/{rid}/csv", headers=env.h(sec_t))
    assert csv.status_code == 200 and "olduser" in csv.text and "长期未登录" in csv.text
    # Scheduled: a run was just made, so not due; with none in the last day it runs.
    assert account_review.run_if_due(env.rt) is False
    from mixun.db.models_people import AccountReview

    with env.rt.db.write() as s:
        s.execute(update(AccountReview).values(created_at=datetime.now(UTC) - timedelta(days=2)))
    assert account_review.run_if_due(env.rt) is True
    assert "account.review_run" in _audit_actions(env)


# ---- item 10: the directory cannot be harvested -------------------------------------------------------

def test_phone_numbers_only_on_cards_and_paging_is_rate_limited_and_audited(env: Env) -> None:
    """Bulk listings carry no phone numbers; a card does, and each card view is audited; paging past the
    allowance is a 429, audited once."""
    from mixun.realtime.ratelimit import TokenBucket

    zs, zs_t = env.person("zhangsan", "张三", phone="13800138000")
    _ls, ls_t = env.person("lisi", "李四", phone="13900139000")
    users = env.client.get("/api/v1/directory/users?q=", headers=env.h(ls_t)).json()["users"]
    assert users and all("phone" not in u for u in users)
    assert all("phone" not in u for u in env.client.get("/api/v1/directory/users?q=zhang", headers=env.h(ls_t)).json()["users"])
    card = env.client.get(f"/api/v1/directory/users/{zs}", headers=env.h(ls_t)).json()
    assert card["phone"] == "13800138000"
    assert "directory.card_viewed" in _audit_actions(env)
    env.rt.directory_limiter = TokenBucket(5, 5)
    codes = [env.client.get(f"/api/v1/directory/users?offset={i}&limit=1", headers=env.h(ls_t)).status_code
             for i in range(8)]
    assert codes[:5] == [200] * 5 and codes[-1] == 429
    r = env.client.get("/api/v1/directory/users?offset=9", headers=env.h(ls_t))
    assert r.json()["error"]["code"] == "directory_rate_limited" and r.json()["error"]["retry_after"] >= 1
    assert _audit_actions(env).count("directory.harvest_refused") == 1
    # Someone else's allowance is their own.
    assert env.client.get("/api/v1/directory/users", headers=env.h(zs_t)).status_code == 200
    env.rt.directory_card_limiter = TokenBucket(2, 2)
    codes = [env.client.get(f"/api/v1/directory/users/{zs}", headers=env.h(ls_t)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.fixture(params=["sqlite", "postgresql"])
def aenv(request: pytest.FixtureRequest, tmp_path: Path, clamd_socket: str) -> Iterator[Env]:
    """Both databases, with a real clamd (tests/conftest.py starts one)."""
    e, close = build_env(tmp_path, request.param, MIXUN_CLAMD_SOCKET=clamd_socket)
    yield e
    close()


def test_announcement_files_are_scanned_attached_and_downloaded_by_recipients(aenv: Env) -> None:
    """A publisher uploads a file (virus-scanned, stored encrypted), publishes it with the announcement;
    recipients download it (audited), others cannot; malware is refused; a file cannot be attached twice."""
    env = aenv
    _a1, a1_t = env.person("zhangsan", "张三", unit=UNIT_A)
    _b1, b1_t = env.person("lisi", "李四", unit=UNIT_B)
    _hr, hr_t = env.person("hr1", "人事专员", roles=["hr"])
    up = env.client.post("/api/v1/announcements/files", files={"file": ("升级说明.txt", "升级步骤如下。".encode(), "text/plain")},
                         headers=env.h(hr_t))
    assert up.status_code == 201, up.text
    fid = up.json()["id"]
    bad = env.client.post("/api/v1/announcements/files", files={"file": ("x.txt", EICAR, "text/plain")}, headers=env.h(hr_t))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "malware_detected"
    assert env.client.post("/api/v1/announcements/files", files={"file": ("a.txt", b"x", "text/plain")},
                           headers=env.h(a1_t)).status_code == 403
    units = {u["path"]: u["id"] for u in env.client.get("/api/v1/announcements/scope", headers=env.h(hr_t)).json()["units"]}
    r = env.client.post("/api/v1/announcements", json={"title": "升级", "body": "见附件", "unit_ids": [units[UNIT_A]],
                                                        "file_ids": [fid]}, headers=env.h(hr_t))
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    mine = env.client.get("/api/v1/announcements", headers=env.h(a1_t)).json()["announcements"][0]
    assert [f["filename"] for f in mine["files"]] == ["升级说明.txt"]
    dl = env.client.get(f"/api/v1/announcements/{aid}/files/{fid}", headers=env.h(a1_t))
    assert dl.status_code == 200 and dl.content == "升级步骤如下。".encode()
    assert env.client.get(f"/api/v1/announcements/{aid}/files/{fid}", headers=env.h(b1_t)).status_code == 404
    assert env.client.get(f"/api/v1/announcements/{aid}/files/{fid}", headers=env.h(hr_t)).status_code == 200
    again = env.client.post("/api/v1/announcements", json={"title": "再发", "body": "x", "file_ids": [fid]}, headers=env.h(hr_t))
    assert again.status_code == 404
    assert "announcement.file_downloaded" in _audit_actions(env)
