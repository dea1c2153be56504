"""The OpenAPI document tells the truth: every route lists the statuses it can answer, ids are bounded,
enforced limits are stated, and the audit export declares its NDJSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from mixun.api.deps import Id, gate
from mixun.domain.roles import Perm
from tests.conftest import Env

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _integers(doc: dict[str, Any], schema: dict[str, Any], at: str) -> list[tuple[str, dict[str, Any]]]:
    """Every integer schema reachable from ``schema`` (properties, items, anyOf), with where it is."""
    schema = _resolve(doc, schema)
    found = [(at, schema)] if schema.get("type") == "integer" else []
    for key, sub in schema.get("properties", {}).items():
        found += _integers(doc, sub, f"{at}.{key}")
    if isinstance(schema.get("items"), dict):
        found += _integers(doc, schema["items"], f"{at}[]")
    for sub in schema.get("anyOf", []):
        found += _integers(doc, sub, at)
    return found


def test_every_operation_lists_the_statuses_it_can_answer(sqlite_env: Env) -> None:
    """Each operation documents 413/422/503 (the edge), 401/403 when gated, 404 with a path id, 400 with
    a JSON body, and every error refers to the one Error schema."""
    doc = sqlite_env.client.get("/api/v1/openapi.json").json()
    ops = _operations(doc)
    assert len(ops) > 60
    public = {("post", "/api/v1/auth/login"), ("get", "/api/v1/health"), ("get", "/api/v1/client-config")}
    for method, path, op in ops:
        codes = set(op["responses"])
        assert {"413", "422", "503"} <= codes, (method, path, codes)
        if (method, path) not in public:
            assert {"401", "403"} <= codes, (method, path, codes)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            assert "400" in codes, (method, path)
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "429" in doc["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]["responses"]
    assert "Retry-After" in doc["paths"]["/api/v1/health"]["get"]["responses"]["503"]["headers"]
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert "validation_failed" in codes and "internal_error" in codes


def test_every_integer_input_is_bounded(sqlite_env: Env) -> None:
    """No integer parameter or body field is unbounded (ids live in [1, 2**53]): a route added without the
    shared id type fails here."""
    doc = sqlite_env.client.get("/api/v1/openapi.json").json()
    unbounded = []
    for method, path, op in _operations(doc):
        where = [(f"{p['in']}.{p['name']}", p["schema"]) for p in op.get("parameters", [])]
        for media in op.get("requestBody", {}).get("content", {}).values():
            where.append(("body", media.get("schema", {})))
        for at, schema in where:
            for field, integer in _integers(doc, schema, at):
                if "maximum" not in integer or ("minimum" not in integer and "exclusiveMinimum" not in integer):
                    unbounded.append(f"{method.upper()} {path} {field}")
    assert not unbounded, unbounded


def test_limits_and_media_types_are_declared(sqlite_env: Env) -> None:
    """Enums and lengths the server enforces are in the schema; the audit export is NDJSON; downloads
    are binary."""
    env = sqlite_env
    doc = env.client.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["ConversationCreate"]["properties"]["kind"]["enum"] == ["direct", "group"]
    assert set(schemas["StatusIn"]["properties"]["status"]["enum"]) == {"available", "busy", "meeting", "away"}
    assert schemas["MessageCreate"]["properties"]["text"]["maxLength"] == env.settings.max_message_length
    client_id = schemas["MessageCreate"]["properties"]["client_id"]
    assert any(s.get("maxLength") == 64 for s in client_id.get("anyOf", [client_id]))
    export = doc["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["application/x-ndjson"]
    download = doc["paths"]["/api/v1/attachments/{attachment_id}"]["get"]["responses"]["200"]["content"]
    assert download["*/*"]["schema"]["format"] == "binary"


def test_the_archive_access_reason_states_its_rules(env: Env) -> None:
    """The reason for reading the archive: its category's allowed values and the reason's minimum length
    are in the schema, in the query and in the bodies; every value the schema offers is accepted. The
    reactions' emoji and the retention scope's forms are stated too."""
    doc = env.client.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    search = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/compliance/archive/search"]["get"]["parameters"]}
    bodies = [schemas["AccessReason"]["properties"], schemas["ExportCreate"]["properties"]]
    for where in (search, *bodies):
        assert "regulatory_inspection" in where["category"]["enum"] and "监管检查" in where["category"]["enum"]
        assert where["reason"]["minLength"] == 10
    from mixun.domain.retention import valid_scope
    from mixun.services.message_actions import REACTIONS
    from tests.helpers import staff

    assert schemas["ReactionIn"]["properties"]["emoji"]["enum"] == list(REACTIONS)
    import re

    scope = re.compile(schemas["PolicySet"]["properties"]["scope"]["pattern"])
    for value in ("default", "audit", "kind:direct", "kind:group", "unit:总行/科技部", "unit:", "kind:x", "all", ""):
        assert bool(scope.match(value)) == valid_scope(value), value
    _c, tc = staff(env, "hegui", "何规", "compliance")
    for category in search["category"]["enum"]:
        r = env.client.get("/api/v1/compliance/archive/search", headers=env.h(tc),
                           params={"category": category, "reason": "x" * search["reason"]["minLength"]})
        assert r.status_code == 200, (category, r.text)


def test_routes_added_later_are_documented_too(sqlite_env: Env) -> None:
    """The statuses come from one function applied to every route: a route added later gets them."""
    router = APIRouter()

    @router.get("/api/v1/test-later/{thing_id}")
    def later(thing_id: Id, _ctx: Any = Depends(gate(Perm.CHAT))) -> dict[str, int]:
        return {"id": thing_id}

    sqlite_env.app.include_router(router)
    responses = sqlite_env.app.openapi()["paths"]["/api/v1/test-later/{thing_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "413", "422", "503"} <= set(responses)
