"""DLP on the send path: block, confirm, mask — before anything is stored or delivered."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Env

ID_NUMBER = "11010519491231002X"


def _setup(env: Env) -> tuple[dict[str, str], int, int]:
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    h = env.h(ta)
    direct = env.client.post("/api/v1/conversations", headers=h, json={"kind": "direct", "members": [b]}).json()
    group = env.client.post("/api/v1/conversations", headers=h,
                            json={"kind": "group", "name": "项目组", "members": [b]}).json()
    return h, direct["id"], group["id"]


def test_classified_marking_is_blocked_and_not_stored(env: Env) -> None:
    """A message marked 机密★5年 is refused with dlp_blocked and nothing is stored."""
    h, direct, _group = _setup(env)
    r = env.client.post(f"/api/v1/conversations/{direct}/messages", headers=h,
                        json={"text": "机密★5年 关于授信额度的批复"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "dlp_blocked"
    assert r.json()["error"]["findings"][0]["detector"] == "classified_marking"
    msgs = env.client.get(f"/api/v1/conversations/{direct}/messages", headers=h).json()["messages"]
    assert msgs == []


def test_id_number_in_direct_needs_confirmation(env: Env) -> None:
    """An ID number in a 1:1 chat asks the sender to confirm; with confirm it is sent."""
    h, direct, _group = _setup(env)
    text = f"客户身份证号 {ID_NUMBER} 请核实"
    r = env.client.post(f"/api/v1/conversations/{direct}/messages", headers=h, json={"text": text})
    assert r.status_code == 422 and r.json()["error"]["code"] == "dlp_confirm_required"
    assert ID_NUMBER not in r.text, "the raw value never comes back"
    ok = env.client.post(f"/api/v1/conversations/{direct}/messages", headers=h, json={"text": text, "confirm": True})
    assert ok.status_code == 201


def test_id_number_in_group_is_masked_and_original_kept_encrypted(env: Env) -> None:
    """In a group the ID number is masked for recipients; the archive keeps the original, encrypted."""
    from mixun.db.models import MessageVersion

    h, _direct, group = _setup(env)
    r = env.client.post(f"/api/v1/conversations/{group}/messages", headers=h,
                        json={"text": f"身份证 {ID_NUMBER}"})
    assert r.status_code == 201
    assert ID_NUMBER not in r.json()["text"] and "110105" in r.json()["text"]
    with env.rt.db.read() as s:
        v = s.execute(select(MessageVersion).where(MessageVersion.message_id == r.json()["id"])).scalar_one()
        assert v.original_enc and ID_NUMBER.encode() not in v.original_enc
        assert env.rt.keys.decrypt_small(v.original_enc, "dlp-original").decode() == f"身份证 {ID_NUMBER}"
