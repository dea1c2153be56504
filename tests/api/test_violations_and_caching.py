"""A reviewer's violation adds to what a person already has; files are never kept in the browser cache."""

from __future__ import annotations

import io

from PIL import Image

from mixun.db.models_dlp import DlpSanction
from tests.archive.conftest import group, officer, send
from tests.conftest import Env


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def test_a_violation_decision_adds_to_the_persons_violations(env: Env) -> None:
    """Someone already at the unit-head notice from three blocked sends, then found in violation by a reviewer,
    has four violations and is suspended, not set back to a first warning."""
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    for i in range(3):
        r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta),
                            json={"text": f"密码：Abc#1234{i}"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "dlp_blocked", r.text
    with env.rt.db.read() as s:
        before = s.get(DlpSanction, a)
        assert before is not None and (before.level, before.violations) == ("unit_notice", 3)
    m = send(env, ta, conv, "广告推广")
    rep = env.client.post("/api/v1/reports", headers=env.h(tb), json={"message_id": m["id"], "reason": "广告"})
    assert rep.status_code == 201, rep.text
    _, tok = officer(env)
    d = env.client.post(f"/api/v1/compliance/review/{rep.json()['id']}/decision", headers=env.h(tok),
                        json={"decision": "violation", "note": "发送广告"})
    assert d.status_code == 200, d.text
    assert (d.json()["violations"], d.json()["level"]) == (4, "suspension")
    with env.rt.db.read() as s:
        after = s.get(DlpSanction, a)
        assert after is not None and (after.level, after.violations) == ("suspension", 4)


def test_a_later_block_does_not_lower_a_reviewers_level(env: Env) -> None:
    """After two violation decisions (unit-head notice), one blocked send does not set the person back to a warning."""
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    _, tok = officer(env)
    for i in range(2):
        m = send(env, ta, conv, f"广告推广 {i}")
        rep = env.client.post("/api/v1/reports", headers=env.h(tb), json={"message_id": m["id"], "reason": "广告"})
        env.client.post(f"/api/v1/compliance/review/{rep.json()['id']}/decision", headers=env.h(tok),
                        json={"decision": "violation"})
    r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json={"text": "密码：Abc#12345"})
    assert r.status_code == 422
    with env.rt.db.read() as s:
        after = s.get(DlpSanction, a)
        assert after is not None and after.level == "unit_notice" and after.violations == 2


def test_files_and_images_are_served_no_store(env: Env) -> None:
    """Downloads, thumbnails and the compliance archive's file downloads all say Cache-Control: no-store."""
    _a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    r = env.client.post(f"/api/v1/conversations/{conv}/images", headers=env.h(ta),
                        files={"file": ("a.png", _png(), "image/png")})
    assert r.status_code == 201, r.text
    att = r.json()["attachments"][0]["id"]
    for path in (f"/api/v1/attachments/{att}", f"/api/v1/attachments/{att}/thumbnail"):
        got = env.client.get(path, headers=env.h(tb))
        assert got.status_code == 200, got.text
        assert got.headers["cache-control"] == "no-store", path
    _, tok = officer(env)
    got = env.client.get(f"/api/v1/compliance/archive/attachments/{att}", headers=env.h(tok),
                         params={"category": "regulatory_inspection", "reason": "监管调阅：检查附件的缓存头"})
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
