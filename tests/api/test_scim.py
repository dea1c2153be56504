"""SCIM 2.0 (issue 21 item 2): HR's system creates, moves, renames and departs people over /scim/v2."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MIXUN = "urn:mixun:params:scim:schemas:extension:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _token(env: Env) -> dict[str, str]:
    from mixun.services import scim
    from mixun.services.runtime import Ctx

    return {"Authorization": "Bearer " + scim.new_token(Ctx(rt=env.rt, ip="127.0.0.1", client="tests")),
            "Content-Type": "application/scim+json"}


def _user(username: str, name: str, no: str, unit: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE, ENT], "userName": username, "name": {"formatted": name}, "title": "柜员",
            "phoneNumbers": [{"value": "13900000000", "type": "work"}],
            ENT: {"employeeNumber": no, "department": unit}, **extra}


def test_scim_needs_its_own_token(env: Env) -> None:
    """Without the SCIM token (a session token is not one) every SCIM call is a SCIM 401; an old token
    stops working when a new one is made."""
    _uid, t = env.person("hr1", "人事专员", roles=["hr"])
    for headers in ({}, env.h(t), {"Authorization": "Bearer scim_wrong"}):
        r = env.client.get("/scim/v2/Users", headers=headers)
        assert r.status_code == 401 and r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert r.json()["status"] == "401"
    old = _token(env)
    assert env.client.get("/scim/v2/Users", headers=old).status_code == 200
    new = _token(env)
    assert env.client.get("/scim/v2/Users", headers=old).status_code == 401
    assert env.client.get("/scim/v2/Users", headers=new).status_code == 200


def test_scim_user_lifecycle(env: Env) -> None:
    """Create (units made as needed, HR-verified), find by filter, move and rename by PATCH, replace by
    PUT, depart by active=false with a kind; administrators are invisible; errors are SCIM errors."""
    h = _token(env)
    c = env.client
    r = c.post("/scim/v2/Users", headers=h, json=_user("chenxin", "陈新", "E800001", "总行/运营管理部"))
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["id"] and u["userName"] == "chenxin" and u[ENT]["department"] == "总行/运营管理部"
    assert r.headers["location"].endswith(f"/scim/v2/Users/{u['id']}")
    r = c.post("/scim/v2/Users", headers=h, json=_user("chenxin", "陈新", "E800002", "总行"))
    assert r.status_code == 409 and r.json()["scimType"] == "uniqueness"
    r = c.post("/scim/v2/Users", headers=h, json={"schemas": [CORE], "name": {"formatted": "x"}})
    assert r.status_code == 400
    found = c.get('/scim/v2/Users?filter=userName eq "CHENXIN"', headers=h).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == u["id"]
    assert c.get('/scim/v2/Users?filter=externalId eq "E800001"', headers=h).json()["totalResults"] == 1
    r = c.get('/scim/v2/Users?filter=title co "x"', headers=h)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
    # administrators are not HR's: not listed
    names = [x["userName"] for x in c.get("/scim/v2/Users?count=500", headers=h).json()["Resources"]]
    assert "sysadmin" not in names and "chenxin" in names
    patch = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "name.formatted", "value": "陈欣"},
        {"op": "replace", "path": f"{ENT}:department", "value": "总行/信息科技部"}]}
    r = c.patch(f"/scim/v2/Users/{u['id']}", headers=h, json=patch)
    assert r.status_code == 200, r.text
    assert r.json()["name"]["formatted"] == "陈欣" and r.json()[ENT]["department"] == "总行/信息科技部"
    r = c.put(f"/scim/v2/Users/{u['id']}", headers=h, json=_user("chenxin", "陈欣", "E800001", "总行/信息科技部",
                                                                  title="主管"))
    assert r.status_code == 200 and r.json()["title"] == "主管"
    r = c.put(f"/scim/v2/Users/{u['id']}", headers=h, json=_user("other", "陈欣", "E800001", "总行"))
    assert r.status_code == 400 and r.json()["scimType"] == "mutability"
    # the person, as the directory shows them: HR-verified, real name from HR
    _e, te = env.person("zhangsan", "张三")
    p = c.get(f"/api/v1/directory/users/{u['id']}", headers=env.h(te)).json()
    assert p["name"] == "陈欣" and p["hr_verified"] is True and p["unit"] == "总行/信息科技部"
    # departure with its kind
    leave = _user("chenxin", "陈欣", "E800001", "总行/信息科技部", active=False)
    leave["schemas"].append(MIXUN)
    leave[MIXUN] = {"departureReason": "retirement"}
    r = c.put(f"/scim/v2/Users/{u['id']}", headers=h, json=leave)
    assert r.status_code == 200 and r.json()["active"] is False
    from mixun.db.models import User

    with env.rt.db.read() as s:
        assert s.get(User, int(u["id"])).departure_reason == "retirement"
    # a departed person comes back only by a reinstatement (secadmin's decision), never by SCIM
    r = c.patch(f"/scim/v2/Users/{u['id']}", headers=h, json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "active", "value": True}]})
    assert r.status_code == 409 and r.json()["status"] == "409"
    assert c.get("/scim/v2/Users/999999", headers=h).status_code == 404
    from sqlalchemy import select

    from mixun.db.models import AuditLog

    with env.rt.db.read() as s:
        acts = list(s.execute(select(AuditLog.action, AuditLog.client)).all())
    assert ("account.departed" in [a for a, _c in acts]) and any(c.startswith("scim") for _a, c in acts)


def test_scim_groups_and_discovery(env: Env) -> None:
    """Groups are org units (members follow each User's department); discovery documents describe the
    server; DELETE of a User departs them."""
    h = _token(env)
    c = env.client
    r = c.post("/scim/v2/Groups", headers=h, json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                   "displayName": "总行/数据管理部"})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    u = c.post("/scim/v2/Users", headers=h, json=_user("lixin", "李新", "E800009", "总行/数据管理部")).json()
    g = c.get(f"/scim/v2/Groups/{gid}", headers=h).json()
    assert [m["value"] for m in g["members"]] == [u["id"]]
    assert c.get('/scim/v2/Groups?filter=displayName eq "总行/数据管理部"', headers=h).json()["totalResults"] == 1
    assert c.delete(f"/scim/v2/Groups/{gid}", headers=h).status_code == 409  # still holds someone
    assert c.delete(f"/scim/v2/Users/{u['id']}", headers=h).status_code == 204
    # RFC 7644 §3.6: a deleted resource is a 404 from then on; the departed account and its history stay
    assert c.get(f"/scim/v2/Users/{u['id']}", headers=h).status_code == 404
    assert u["id"] not in [x["id"] for x in c.get("/scim/v2/Users?count=500", headers=h).json()["Resources"]]
    from mixun.db.models import User

    with env.rt.db.read() as s:
        gone = s.get(User, int(u["id"]))
        assert gone is not None and gone.departed_at is not None and gone.departure_reason == "other"
    assert c.delete(f"/scim/v2/Groups/{gid}", headers=h).status_code == 204
    spc = c.get("/scim/v2/ServiceProviderConfig", headers=h).json()
    assert spc["patch"]["supported"] is True and spc["filter"]["supported"] is True
    types = {x["id"] for x in c.get("/scim/v2/ResourceTypes", headers=h).json()["Resources"]}
    assert types == {"User", "Group"}
    schemas = {x["id"] for x in c.get("/scim/v2/Schemas", headers=h).json()["Resources"]}
    assert {CORE, ENT, "urn:ietf:params:scim:schemas:core:2.0:Group"} <= schemas


def test_scim_query_parameters_and_extras(env: Env) -> None:
    """attributes / excludedAttributes (RFC 7644 §3.4.2.5), POST /.search, the client's externalId kept
    and found, a Group renamed and moved by PATCH, 405 on discovery, SCIM 404 elsewhere, and values
    longer than Mixun keeps a 400 (not a database error)."""
    h = _token(env)
    c = env.client
    body = _user("wangfang", "王芳", "E800101", "总行/运营管理部", externalId="hr-77")
    u = c.post("/scim/v2/Users", headers=h, json=body).json()
    assert u["externalId"] == "hr-77"
    only = c.get(f"/scim/v2/Users/{u['id']}?attributes=userName,{ENT}:department", headers=h).json()
    assert set(only) == {"schemas", "id", "meta", "userName", ENT} and only[ENT] == {"department": "总行/运营管理部"}
    without = c.get(f"/scim/v2/Users/{u['id']}?excludedAttributes=title,phoneNumbers", headers=h).json()
    assert "title" not in without and "phoneNumbers" not in without and without["userName"] == "wangfang"
    found = c.post("/scim/v2/Users/.search", headers=h, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'externalId eq "hr-77"',
        "attributes": ["userName"]}).json()
    assert found["totalResults"] == 1 and set(found["Resources"][0]) == {"schemas", "id", "meta", "userName"}
    g = c.post("/scim/v2/Groups", headers=h, json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                   "displayName": "总行/临时组", "externalId": "ou-9"}).json()
    r = c.patch(f"/scim/v2/Groups/{g['id']}", headers=h, json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "分行/专项组"}]})
    assert r.status_code == 200 and r.json()["displayName"] == "分行/专项组" and r.json()["externalId"] == "ou-9"
    for method in ("post", "put", "delete"):
        r = getattr(c, method)("/scim/v2/Schemas", headers=h)
        assert r.status_code == 405 and r.json()["status"] == "405"
    r = c.get("/scim/v2/NoSuchThing", headers=h)
    assert r.status_code == 404 and r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    r = c.post("/scim/v2/Users", headers=h, json=_user("longno", "李长", "E" * 65, "总行"))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
    r = c.post("/scim/v2/Users", headers=h, json=_user("longtel", "李长", "E800102", "总行") | {
        "phoneNumbers": [{"value": "1" * 40}]})
    assert r.status_code == 400
