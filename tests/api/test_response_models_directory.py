"""The directory's response models tell the truth: a search, a unit's people, a card with and without a
phone, the units, on SQLite and PostgreSQL, conform to the OpenAPI document with extra keys refused (the
checker of test_response_models.py), the nullable parts reached."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from mixun.db.models import User
from tests.api.test_response_models import violations
from tests.conftest import Env

ROUTES = {"search": ("/api/v1/directory/users", "DirectoryPage"), "card": ("/api/v1/directory/users/{user_id}", "DirectoryPerson"),
          "units": ("/api/v1/directory/units", "DirectoryUnits")}


def test_every_directory_answer_is_exactly_its_model(env: Env) -> None:
    c = env.client
    a, ta = env.person("zhangsan", "张三", unit="总行/公司业务部", phone="13800000001")
    b = env.make_user("lisi", "李四", unit="总行/公司业务部")
    loose = env.make_user("wangwu", "王五", unit="总行/零售部")
    for i in range(3):
        env.make_user(f"guimian{i}", f"柜员{i}", unit="总行/零售部", position="柜面经理")
    with env.rt.db.write() as s:
        s.execute(update(User).where(User.id == a).values(employee_no="E1001", hr_verified=True))
        s.execute(update(User).where(User.id == loose).values(unit_id=None, employee_no=None))
    h = env.h(ta)
    unit_id = c.get("/api/v1/directory/users/" + str(b), headers=h).json()["unit_id"]
    out: dict[str, tuple[str, Any]] = {
        "search.q": ("search", c.get("/api/v1/directory/users", headers=h, params={"q": "张"})),
        "search.all": ("search", c.get("/api/v1/directory/users", headers=h, params={"limit": 200})),
        "search.page": ("search", c.get("/api/v1/directory/users", headers=h, params={"q": "柜面", "limit": 2})),
        "search.unit": ("search", c.get("/api/v1/directory/users", headers=h, params={"unit_id": unit_id})),
        "card.self": ("card", c.get(f"/api/v1/directory/users/{a}", headers=h)),
        "card.no_phone": ("card", c.get(f"/api/v1/directory/users/{b}", headers=h)),
        "card.no_unit": ("card", c.get(f"/api/v1/directory/users/{loose}", headers=h)),
        "units": ("units", c.get("/api/v1/directory/units", headers=h)),
    }
    doc = c.get("/api/v1/openapi.json").json()
    problems = []
    for name, (kind, r) in out.items():
        assert r.status_code == 200, (name, r.text)
        route, model = ROUTES[kind]
        schema = doc["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}, route
        problems += [f"{name}: {p}" for p in violations(doc, schema, r.json())]
    assert not problems, "\n".join(problems)
    # The nullable and optional parts are reached: both kinds of employee number, unit, phone, page end.
    everyone = out["search.all"][1].json()["users"]
    assert {p["employee_no"] is None for p in everyone} == {True, False}
    assert {p["unit_id"] is None for p in everyone} == {True, False} and all("phone" not in p for p in everyone)
    assert out["card.self"][1].json()["phone"] == "13800000001" and out["card.no_phone"][1].json()["phone"] is None
    assert out["search.page"][1].json()["next_offset"] == 2 and out["search.all"][1].json()["next_offset"] is None
    assert any(u["parent_id"] is None for u in out["units"][1].json()["units"])
