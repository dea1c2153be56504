"""The auditor's and compliance officers' consoles (issue 19 items 9-12, issue 24 item 15): people by
name, reasons that say something, results that say who wrote to whom, exports that download, and a
second officer for the heaviest access."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from sqlalchemy import text, update

from tests.conftest import Env
from tests.helpers import group, send, staff

S = "/api/v1/compliance/archive/search"
C = "/api/v1/compliance"
WHY = {"category": "internal_investigation", "reason": "内部调查：核对授信审批往来记录"}
ID_NUMBER = "11010519491231002X"


def _audit(env: Env, action: str) -> list[dict[str, Any]]:
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}).all()
    return [json.loads(d) if isinstance(d, str) else d for (d,) in rows]


def _employee_no(env: Env, uid: int, no: str) -> None:
    from mixun.db.models import User

    with env.rt.db.write() as s:
        s.execute(update(User).where(User.id == uid).values(employee_no=no))


def _chat(env: Env) -> tuple[int, str, int, str, int]:
    a, ta = env.person("zhangsan", "张三", unit="总行/公司金融部")
    b, tb = env.person("lisi", "李四", unit="北京分行/营业部")
    conv = group(env, ta, "授信审批群", [b])
    for t, body in ((ta, "本周贷款利率下调了吗？"), (tb, "授信额度已批，请联系张伟确认"), (ta, "今天午饭吃什么")):
        assert send(env, t, conv, body).status_code == 201
    return a, ta, b, tb, conv


# --- 9. the auditor -------------------------------------------------------------------------------

def test_auditor_finds_a_person_by_name_username_or_employee_number(env: Env) -> None:
    """The auditor types 张三, zhangsan or the employee number and sees only what concerns that person,
    with names beside the actor and the target."""
    _aud, ta = staff(env, "aud1", "审计员", "auditor")
    sys_id, tsys = staff(env, "sys1", "系统员", "sysadmin")
    zs, _tz = env.person("zhangsan", "张三")
    env.person("lisi", "李四")
    _employee_no(env, zs, "E10086")
    assert env.client.post(f"/api/v1/admin/users/{zs}/unlock", headers=env.h(tsys)).status_code in (200, 204)
    for q in ("张三", "zhangsan", "ZhangSan", "E10086"):
        r = env.client.get("/api/v1/admin/audit", headers=env.h(ta), params={"person": q})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [p["username"] for p in body["people"]] == ["zhangsan"], q
        assert body["records"], q
        assert all(x["actor_id"] == zs or x["target"] == f"user:{zs}" for x in body["records"]), q
    unlocked = [x for x in env.client.get("/api/v1/admin/audit", headers=env.h(ta),
                                          params={"person": "张三", "action": "account.unlocked"}).json()["records"]]
    assert unlocked and unlocked[0]["target_name"] == "张三（zhangsan）" and unlocked[0]["actor_name"] == "系统员"
    assert unlocked[0]["actor_id"] == sys_id


def test_an_unknown_person_finds_nothing(env: Env) -> None:
    """A name nobody has gives an empty list, never the whole trail."""
    _aud, ta = staff(env, "aud1", "审计员", "auditor")
    env.person("zhangsan", "张三")
    r = env.client.get("/api/v1/admin/audit", headers=env.h(ta), params={"person": "王不存在"})
    assert r.status_code == 200 and r.json()["records"] == [] and r.json()["people"] == []
    assert _audit(env, "audit.searched")[-1]["person_filter"] == "王不存在"


def test_dead_verify_is_gone_from_audit_read() -> None:
    """The audit trail is verified in one place (audit_checkpoints.verify), not two."""
    from mixun.services import audit_read

    assert not hasattr(audit_read, "verify")


# --- 10. the archive --------------------------------------------------------------------------------

def test_reason_needs_a_category_and_ten_characters(env: Env) -> None:
    """Without a category, or with a reason shorter than ten characters, the archive answers 422 naming
    the rule; the Chinese label of a category is accepted like its code."""
    _chat(env)
    _c, tc = staff(env, "hegui", "何规", "compliance")
    h = env.h(tc)
    r = env.client.get(S, headers=h, params={"q": "利率", "reason": "核对授信审批往来记录"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_category_required"
    r = env.client.get(S, headers=h, params={"q": "利率", "category": "监管检查", "reason": "检查一下"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_too_short"
    assert r.json()["error"]["min_length"] == 10
    r = env.client.get(S, headers=h, params={"q": "利率", "category": "无此类别", "reason": "核对授信审批往来记录"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_category_required"
    ok = env.client.get(S, headers=h, params={"q": "利率", "category": "监管检查", "reason": "人民银行现场检查调阅"})
    assert ok.status_code == 200
    assert _audit(env, "archive.searched")[-1]["reason_category"] == "regulatory_inspection"
    export = env.client.post(f"{C}/exports", headers=h, json={"category": "other", "reason": "短", "formats": ["jsonl"]})
    assert export.status_code == 422 and export.json()["error"]["code"] == "reason_too_short"


def test_results_say_who_wrote_to_whom_with_the_hit_in_context(env: Env) -> None:
    """Each hit names its sender, its recipients and the conversation, with the found words marked."""
    a, _ta, b, _tb, conv = _chat(env)
    _c, tc = staff(env, "hegui", "何规", "compliance")
    r = env.client.get(S, headers=env.h(tc), params={"q": "张伟", **WHY}).json()["results"]
    assert len(r) == 1
    hit = r[0]
    assert hit["sender"]["name"] == "李四" and [p["name"] for p in hit["recipients"]] == ["张三"]
    assert hit["conversation"]["title"] == "授信审批群" and hit["conversation"]["id"] == conv
    sn = hit["snippet"]
    assert [sn["text"][x:y] for x, y in sn["hits"]] == ["张伟"]


def test_search_filters_by_sender_and_participant_names(env: Env) -> None:
    """Sender and participant are given by name; an unknown name finds nothing."""
    a, ta, b, _tb, _conv = _chat(env)
    c, _tc2 = env.person("wangwu", "王五")
    other = group(env, ta, "另一个群", [c])
    assert send(env, ta, other, "利率另议").status_code == 201
    _c, tc = staff(env, "hegui", "何规", "compliance")
    h = env.h(tc)
    by_lisi = env.client.get(S, headers=h, params={"sender_q": "李四", **WHY}).json()["results"]
    assert {x["sender"]["id"] for x in by_lisi} == {b}
    with_wangwu = env.client.get(S, headers=h, params={"participant_q": "wangwu", **WHY}).json()["results"]
    assert [x["text"] for x in with_wangwu] == ["利率另议"]
    assert env.client.get(S, headers=h, params={"sender_q": "查无此人", **WHY}).json()["results"] == []
    assert env.client.get(S, headers=h, params={"participant_q": "查无此人", **WHY}).json()["results"] == []
    unit = env.client.get(S, headers=h, params={"unit": "北京分行", **WHY}).json()["results"]
    assert {x["sender"]["id"] for x in unit} == {b}


def test_open_the_conversation_around_a_hit(env: Env) -> None:
    """From a hit the officer opens the conversation with the messages before and after it."""
    _a, ta, b, _tb, conv = _chat(env)
    for i in range(25):
        assert send(env, ta, conv, f"后续消息 {i}").status_code == 201
    _c, tc = staff(env, "hegui", "何规", "compliance")
    hit = env.client.get(S, headers=env.h(tc), params={"q": "张伟", **WHY}).json()["results"][0]
    r = env.client.get(f"{C}/archive/conversations/{conv}", headers=env.h(tc),
                       params={"around": hit["version_id"], "limit": 10, **WHY})
    assert r.status_code == 200, r.text
    texts = [v["text"] for v in r.json()["versions"]]
    assert texts[:3] == ["本周贷款利率下调了吗？", "授信额度已批，请联系张伟确认", "今天午饭吃什么"]
    assert r.json()["conversation"]["title"] == "授信审批群"
    assert _audit(env, "archive.viewed")[-1]["around"] == hit["version_id"]


def _masked(env: Env) -> tuple[int, int]:
    """A group message whose ID number was masked: (conversation, version id)."""
    from mixun.db.models import MessageVersion

    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, "项目组", [b])
    r = send(env, ta, conv, f"身份证 {ID_NUMBER}")
    assert r.status_code == 201 and ID_NUMBER not in r.json()["text"]
    with env.rt.db.read() as s:
        vid = s.execute(text("SELECT id FROM message_versions WHERE message_id = :m"), {"m": r.json()["id"]}).scalar_one()
        assert s.get(MessageVersion, vid).original_enc is not None
    return conv, vid


def test_unmasked_original_needs_a_reason_and_is_audited(env: Env) -> None:
    """The officer sees a masked message's original through its own door, with a reason; audited
    without the value itself; an employee cannot."""
    _conv, vid = _masked(env)
    _c, tc = staff(env, "hegui", "何规", "compliance")
    url = f"{C}/archive/versions/{vid}/original"
    assert env.client.post(url, headers=env.h(tc), json={"reason": "太短"}).status_code == 422
    r = env.client.post(url, headers=env.h(tc), json=WHY)
    assert r.status_code == 200 and r.json()["original_text"] == f"身份证 {ID_NUMBER}"
    seen = _audit(env, "archive.original_viewed")
    assert seen and seen[-1]["version_id"] == vid and ID_NUMBER not in json.dumps(seen)
    _e, te = env.person("wangwu", "王五")
    assert env.client.post(url, headers=env.h(te), json=WHY).status_code == 403


# --- 11. exports ----------------------------------------------------------------------------------

def test_export_downloads_as_one_zip_and_is_listed_after_reload(env: Env) -> None:
    """An export is listed by the server (so it survives a reload) and downloads as one zip holding
    its manifest and messages; the download is audited; no server path leaves the server."""
    _chat(env)
    _c, tc = staff(env, "hegui", "何规", "compliance")
    h = env.h(tc)
    made = env.client.post(f"{C}/exports", headers=h, json={**WHY, "formats": ["jsonl", "csv"]})
    assert made.status_code == 201, made.text
    listed = env.client.get(f"{C}/exports", headers=h).json()["exports"]
    assert listed[0]["id"] == made.json()["id"] and "path" not in listed[0]
    r = env.client.get(f"{C}/exports/{listed[0]['id']}/download", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = z.namelist()
        assert any(n.endswith("/manifest.json") for n in names) and any(n.endswith("/messages.jsonl") for n in names)
        jl = next(n for n in names if n.endswith("/messages.jsonl"))
        assert "授信额度已批" in z.read(jl).decode()
    assert _audit(env, "archive.export_downloaded")
    assert env.client.get(f"{C}/exports/999999/download", headers=h).status_code == 404


def test_export_can_include_the_originals_of_masked_messages(env: Env) -> None:
    """Asked for, an export carries each masked message's original beside the masked text."""
    _masked(env)
    _c, tc = staff(env, "hegui", "何规", "compliance")
    h = env.h(tc)
    made = env.client.post(f"{C}/exports", headers=h, json={**WHY, "formats": ["jsonl"], "include_originals": True})
    assert made.status_code == 201, made.text
    r = env.client.get(f"{C}/exports/{made.json()['id']}/download", headers=h)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        jl = next(n for n in z.namelist() if n.endswith("/messages.jsonl"))
        rows = [json.loads(x) for x in z.read(jl).decode().splitlines()]
    assert rows[0]["original_text"] == f"身份证 {ID_NUMBER}" and ID_NUMBER not in rows[0]["text"]
    plain = env.client.post(f"{C}/exports", headers=h, json={**WHY, "formats": ["jsonl"]}).json()
    r = env.client.get(f"{C}/exports/{plain['id']}/download", headers=h)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        jl = next(n for n in z.namelist() if n.endswith("/messages.jsonl"))
        assert ID_NUMBER not in z.read(jl).decode()


# --- 12. dual control -----------------------------------------------------------------------------

def test_only_secadmin_sets_dual_control(env: Env) -> None:
    """secadmin turns dual control on per kind (audited); compliance and sysadmin cannot."""
    _s, ts = staff(env, "sec1", "安全员", "secadmin")
    _c, tc = staff(env, "hegui", "何规", "compliance")
    url = "/api/v1/security/dual-control"
    assert env.client.get(url, headers=env.h(ts)).json()["dual_control"] == {
        "export_person": False, "export_unit": False, "originals": False}
    r = env.client.put(url, headers=env.h(ts), json={"export_person": True})
    assert r.status_code == 200 and r.json()["dual_control"]["export_person"] is True
    assert env.client.put(url, headers=env.h(tc), json={"export_person": False}).status_code == 403
    assert _audit(env, "compliance.dual_control_changed")[-1]["after"]["export_person"] is True


def test_person_export_waits_for_another_officer(env: Env) -> None:
    """With dual control on, a person's export is a pending request; its maker cannot approve it; another
    officer approves; the maker then runs it once."""
    *_, conv = _chat(env)
    _s, ts = staff(env, "sec1", "安全员", "secadmin")
    env.client.put("/api/v1/security/dual-control", headers=env.h(ts), json={"export_person": True, "export_unit": True})
    _c1, t1 = staff(env, "hegui", "何规", "compliance")
    _c2, t2 = staff(env, "hegui2", "合规二", "compliance")
    r = env.client.post(f"{C}/exports", headers=env.h(t1), json={**WHY, "user": "zhangsan", "formats": ["jsonl"]})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    rid = r.json()["request"]["id"]
    assert env.client.get(f"{C}/exports", headers=env.h(t1)).json()["exports"] == []
    assert env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t1)).status_code == 409
    own = env.client.post(f"{C}/access-requests/{rid}/approve", headers=env.h(t1), json={})
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_request"
    ok = env.client.post(f"{C}/access-requests/{rid}/approve", headers=env.h(t2), json={"note": "同意"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["decided_by"]["name"] == "合规二"
    assert env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t2)).status_code == 404
    done = env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t1))
    assert done.status_code == 200 and done.json()["counts"]["versions"] == 3
    assert env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t1)).status_code == 409
    listed = env.client.get(f"{C}/access-requests", headers=env.h(t2)).json()["requests"]
    assert listed[0]["status"] == "used" and listed[0]["requested_by"]["name"] == "何规"
    unit = env.client.post(f"{C}/exports", headers=env.h(t1), json={**WHY, "unit": "北京分行", "formats": ["jsonl"]})
    assert unit.status_code == 202
    assert env.client.post(f"{C}/exports", headers=env.h(t1),
                           json={**WHY, "unit": "没有这个部门", "formats": ["jsonl"]}).status_code == 404
    # the whole archive counts as every unit's history; a conversation counts as a person's history (else a
    # person's whole history could be taken conversation by conversation without a second officer)
    assert env.client.post(f"{C}/exports", headers=env.h(t1), json={**WHY, "formats": ["jsonl"]}).status_code == 202
    assert env.client.post(f"{C}/exports", headers=env.h(t1),
                           json={**WHY, "conversation_id": conv, "formats": ["jsonl"]}).status_code == 202
    with env.rt.db.read() as s:
        actions = set(s.execute(text("SELECT action FROM audit_log WHERE action LIKE 'access_request.%'")).scalars())
    assert actions == {"access_request.filed", "access_request.approved", "access_request.used"}


def test_originals_under_dual_control_need_an_approval(env: Env) -> None:
    """With dual control on for originals, asking files a request; the conversation view's originals
    switch is refused; after another officer approves, the asker sees the original once; a rejected
    request shows nothing."""
    conv, vid = _masked(env)
    _s, ts = staff(env, "sec1", "安全员", "secadmin")
    env.client.put("/api/v1/security/dual-control", headers=env.h(ts), json={"originals": True})
    _c1, t1 = staff(env, "hegui", "何规", "compliance")
    _c2, t2 = staff(env, "hegui2", "合规二", "compliance")
    url = f"{C}/archive/versions/{vid}/original"
    r = env.client.post(url, headers=env.h(t1), json=WHY)
    assert r.status_code == 202 and ID_NUMBER not in r.text
    view = env.client.get(f"{C}/archive/conversations/{conv}", headers=env.h(t1), params={"originals": True, **WHY})
    assert view.status_code == 403 and view.json()["error"]["code"] == "approval_required"
    rid = r.json()["request"]["id"]
    assert env.client.post(f"{C}/access-requests/{rid}/approve", headers=env.h(t2), json={}).status_code == 200
    got = env.client.post(f"{C}/access-requests/{rid}/run", headers=env.h(t1))
    assert got.status_code == 200 and got.json()["original_text"] == f"身份证 {ID_NUMBER}"
    r2 = env.client.post(url, headers=env.h(t1), json=WHY).json()["request"]["id"]
    assert env.client.post(f"{C}/access-requests/{r2}/reject", headers=env.h(t2), json={}).status_code == 200
    assert env.client.post(f"{C}/access-requests/{r2}/run", headers=env.h(t1)).status_code == 409
    assert env.client.post(f"{C}/access-requests/{r2}/approve", headers=env.h(t2), json={}).status_code == 409
    export = env.client.post(f"{C}/exports", headers=env.h(t1), json={**WHY, "include_originals": True})
    assert export.status_code == 202


# --- issue 24 item 15 -------------------------------------------------------------------------------

def test_hold_with_since_after_until_is_refused(env: Env) -> None:
    """A legal hold whose start is after its end is a 422, and so is a bare number for a time."""
    _c, tc = staff(env, "hegui", "何规", "compliance")
    h = env.h(tc)
    r = env.client.post(f"{C}/holds", headers=h, json={"reason": "诉讼保全", "since": "2026-12-01T00:00:00Z",
                                                        "until": "2026-11-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_time_range"
    r = env.client.post(f"{C}/holds", headers=h, json={"reason": "诉讼保全", "since": "2026-11-01T00:00:00Z",
                                                        "until": 0})
    assert r.status_code == 422
    assert env.client.get(f"{C}/holds", headers=h).json()["holds"] == []
    zs, _tz = env.person("zhangsan", "张三")
    ok = env.client.post(f"{C}/holds", headers=h, json={"reason": "诉讼保全", "since": "2026-11-01T00:00:00Z",
                                                         "until": "2026-12-01T00:00:00Z", "user_id": zs})
    assert ok.status_code == 201
    listed = env.client.get(f"{C}/holds", headers=h).json()["holds"]
    assert listed[0]["user_name"] == "张三" and listed[0]["username"] == "zhangsan"


def test_audit_export_refuses_a_time_admin_audit_refuses(env: Env) -> None:
    """`since=yesterday` is a 422 on the audit export as on the audit search, not an empty 200."""
    _a, ta = staff(env, "aud1", "审计员", "auditor")
    for url in ("/api/v1/audit/export", "/api/v1/admin/audit"):
        r = env.client.get(url, headers=env.h(ta), params={"since": "yesterday"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", url
    good = env.client.get("/api/v1/audit/export", headers=env.h(ta), params={"since": "2000-01-01T00:00:00+08:00"})
    assert good.status_code == 200 and good.content.count(b"\n") >= 1
