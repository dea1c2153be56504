"""Holes a hostile insider review found after the separation-of-duties work, each closed: an export is
its maker's alone, one approval runs once even when run at once, no approver holds both halves of a
privileged login, unlock guesses sent at once stay within the lockout, and a username that names no
account never reaches the audit trail as typed."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from mixun.db.models import AuditLog
from mixun.errors import MixunError
from tests.conftest import PASSWORD, Env
from tests.helpers import group, send, staff

C = "/api/v1/compliance"
WHY = {"category": "internal_investigation", "reason": "内部调查：核对授信审批往来记录"}


def _conversation(env: Env) -> int:
    _a, ta = env.person("zhangsan", "张三", unit="总行/公司金融部")
    b, _tb = env.person("lisi", "李四", unit="北京分行/营业部")
    conv = group(env, ta, "授信审批群", [b])
    assert send(env, ta, conv, "授信额度已批，请联系张伟确认").status_code == 201
    return conv


def test_an_export_downloads_only_for_the_officer_who_made_it(env: Env) -> None:
    """Another compliance officer sees the export listed but cannot download it (404), and the list says so."""
    conv = _conversation(env)
    _c1, t1 = staff(env, "hegui", "何规", "compliance")
    _c3, t3 = staff(env, "hegui3", "合规三", "compliance")
    r = env.client.post(f"{C}/exports", headers=env.h(t1), json={**WHY, "conversation_id": conv, "formats": ["jsonl"]})
    assert r.status_code == 201
    eid = r.json()["id"]
    theirs = env.client.get(f"{C}/exports", headers=env.h(t3)).json()["exports"]
    assert theirs[0]["id"] == eid and theirs[0]["downloadable"] is False
    assert env.client.get(f"{C}/exports/{eid}/download", headers=env.h(t3)).status_code == 404
    mine = env.client.get(f"{C}/exports/{eid}/download", headers=env.h(t1))
    assert mine.status_code == 200 and mine.content[:2] == b"PK"


def test_one_approval_runs_once_even_when_run_at_once(env: Env) -> None:
    """Four runs of one approved request at the same moment: exactly one is carried out."""
    from mixun.services import dual_control
    from mixun.services.runtime import Ctx

    _conversation(env)
    _s, ts = staff(env, "sec1", "安全员", "secadmin")
    env.client.put("/api/v1/security/dual-control", headers=env.h(ts), json={"export_person": True})
    c1, t1 = staff(env, "hegui", "何规", "compliance")
    _c2, t2 = staff(env, "hegui2", "合规二", "compliance")
    rid = env.client.post(f"{C}/exports", headers=env.h(t1),
                          json={**WHY, "user": "zhangsan", "formats": ["jsonl"]}).json()["request"]["id"]
    assert env.client.post(f"{C}/access-requests/{rid}/approve", headers=env.h(t2), json={}).status_code == 200
    from mixun.services.auth import authenticate

    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    ctx.principal = authenticate(ctx, t1)
    assert ctx.principal is not None and ctx.principal.user_id == c1
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        try:
            dual_control.claim(ctx, rid)
            outcomes.append("ran")
        except MixunError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ran", "request_not_approved", "request_not_approved", "request_not_approved"]
    assert env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t1)).status_code == 409


def test_no_approver_holds_both_halves_of_a_privileged_login(env: Env) -> None:
    """The secadmin who approved a compliance officer's password reset (and saw the one-time password)
    cannot also approve the reset of their two-factor; another secadmin can."""
    c = env.client
    _s1, ts1 = staff(env, "sys1", "系统员甲", "sysadmin")
    _sec1, tsec1 = staff(env, "sec1", "安全员甲", "secadmin")
    _sec2, tsec2 = staff(env, "sec2", "安全员乙", "secadmin")
    comp, _tc = staff(env, "comp1", "合规员甲", "compliance")
    r1 = c.post(f"/api/v1/admin/users/{comp}/reset-password", headers=env.h(ts1))
    r2 = c.post(f"/api/v1/admin/users/{comp}/reset-two-factor", headers=env.h(ts1))
    assert r1.status_code == 202 and r2.status_code == 202
    a1, a2 = r1.json()["approval"]["id"], r2.json()["approval"]["id"]
    ok = c.post(f"/api/v1/admin/approvals/{a1}/approve", headers=env.h(tsec1))
    assert ok.status_code == 200 and ok.json()["result"]["password"]
    both = c.post(f"/api/v1/admin/approvals/{a2}/approve", headers=env.h(tsec1))
    assert both.status_code == 403 and both.json()["error"]["code"] == "approval_not_allowed"
    assert c.post(f"/api/v1/admin/approvals/{a2}/approve", headers=env.h(tsec2)).status_code == 200


def test_unlock_guesses_sent_at_once_stay_within_the_lockout(env: Env) -> None:
    """Twelve wrong unlock passwords at the same moment: no more than the lockout threshold are checked,
    the account ends locked, and the session ends."""
    from mixun.services import auth
    from mixun.services.runtime import Ctx

    _uid, token = env.person("zhangsan", "张三")
    assert env.client.post("/api/v1/auth/lock", headers=env.h(token)).status_code == 204
    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    ctx.principal = auth.authenticate(ctx, token)
    codes: list[str] = []
    start = threading.Barrier(12)

    def guess(i: int) -> None:
        start.wait()
        try:
            auth.unlock_session(ctx, f"Wrong!Guess{i}x")
            codes.append("unlocked")
        except MixunError as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = codes.count("invalid_credentials")  # each one a password actually checked
    assert "unlocked" not in codes
    assert checked <= env.settings.lockout_threshold, codes
    r = env.client.post("/api/v1/auth/unlock", headers=env.h(token), json={"password": PASSWORD})
    assert r.status_code in (401, 423), r.text


def test_a_username_that_names_no_account_never_reaches_the_audit_trail(env: Env) -> None:
    """Someone types their password into the username field: the audit trail keeps a digest, not the text;
    a real account's failure still names the account."""
    env.person("zhangsan", "张三")
    typed = "Pa55word!Mine"
    assert env.client.post("/api/v1/auth/login", json={"username": typed, "password": "x"}).status_code == 401
    assert env.client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": "Wrong!1x"}).status_code == 401
    with env.rt.db.read() as s:
        rows: list[Any] = s.execute(select(AuditLog.details).where(AuditLog.action == "auth.login_failed")).scalars().all()
    text_rows = [str(r) for r in rows]
    assert not any(typed in r for r in text_rows)
    assert any("unknown:" in r for r in text_rows) and any("zhangsan" in r for r in text_rows)
