"""SCIM 2.0 (RFC 7643/7644) at /scim/v2: Users, Groups (org units), ServiceProviderConfig, ResourceTypes,
Schemas. The protocol lives here (scim2-models parses and describes the resources); the data side is
services/scim.py. Authentication: `Authorization: Bearer` the token from `mixun scim token`, from an
allowed network. Errors are SCIM errors (``urn:ietf:params:scim:api:messages:2.0:Error``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from scim2_models import (
    Context,
    EnterpriseUser,
    Group,
    PatchOp,
    ResourceType,
    SchemaExtension,
    User,
)
from starlette.concurrency import run_in_threadpool

from mixun.api.deps import base_ctx
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.services import auth, scim
from mixun.services.runtime import Ctx

PREFIX = "/scim/v2"
MEDIA = "application/scim+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MIXUN_EXT = "urn:mixun:params:scim:schemas:extension:2.0:User"  # departureReason
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_COUNT = 500
StaffUser = User[EnterpriseUser]


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _json(body: Any, status: int = 200, location: str | None = None, etag: str | None = None) -> Response:
    headers = {"Location": location} if location else {}
    if etag:
        headers["ETag"] = f'W/"{etag}"'
    return Response(json.dumps(body, ensure_ascii=False, default=str), status_code=status, media_type=MEDIA,
                    headers=headers)


def error(status: int, detail: str, scim_type: str | None = None) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return _json(body, status)


# Our errors, as SCIM statuses and scimType values (RFC 7644 §3.12).
_MAPPED = {"username_taken": (409, "uniqueness"), "employee_no_taken": (409, "uniqueness"),
           "unit_exists": (409, "uniqueness"), "not_found": (404, None), "unit_not_found": (404, None),
           "field_not_changeable": (400, "mutability"), "account_departed": (409, None),
           "unit_closed": (409, None), "unit_not_empty": (409, None), "validation_failed": (400, "invalidValue")}


def scim_gate() -> Callable[[Request], Awaitable[Ctx]]:
    """The SCIM bearer token (not a session), from an allowed network; the route walk finds the
    permission on the dependency as it finds the session gate's."""

    async def dependency(request: Request) -> Ctx:
        ctx = base_ctx(request)
        ctx.client = ("scim " + ctx.client)[:300]
        try:
            auth.require_address(ctx)
        except MixunError as exc:
            raise ScimError(403, exc.message_for("en")) from exc
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not await run_in_threadpool(scim.check_token, ctx, token):
            raise ScimError(401, "A valid SCIM bearer token is required (mixun scim token)")
        return ctx

    dependency.permission = Perm.SCIM  # type: ignore[attr-defined]
    return dependency


router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[])
Scim = Depends(scim_gate())


def _iso(t: datetime) -> str:
    return t.isoformat()


def _location(request: Request, kind: str, rid: int) -> str:
    return str(request.base_url).rstrip("/") + f"{PREFIX}/{kind}/{rid}"


def _user_json(request: Request, r: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, MIXUN_EXT],
        "id": str(r["id"]), "externalId": r["employee_no"], "userName": r["username"],
        "name": {"formatted": r["name"]}, "displayName": r["name"], "title": r["position"] or None,
        "active": r["active"],
        ENTERPRISE: {"employeeNumber": r["employee_no"], "department": r["unit"]},
        MIXUN_EXT: {"departureReason": r["departure_reason"]},
        "meta": {"resourceType": "User", "created": _iso(r["created_at"]), "lastModified": _iso(r["created_at"]),
                 "location": _location(request, "Users", r["id"]), "version": f'W/"{r["version"]}"'},
    }
    if r["phone"]:
        body["phoneNumbers"] = [{"value": r["phone"], "type": "work", "primary": True}]
    if body["title"] is None:
        del body["title"]
    if not r["departure_reason"]:
        body["schemas"].remove(MIXUN_EXT)
        del body[MIXUN_EXT]
    return body


def _group_json(request: Request, g: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": str(g["id"]), "displayName": g["path"],
        "members": [{"value": str(m["id"]), "display": m["name"], "type": "User",
                     "$ref": _location(request, "Users", m["id"])} for m in g["members"]],
        "meta": {"resourceType": "Group", "created": _iso(g["created_at"]), "lastModified": _iso(g["created_at"]),
                 "location": _location(request, "Groups", g["id"])},
    }


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ScimError(400, "The body is not valid JSON", "invalidSyntax") from exc
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
    return data


def _facts(user: Any) -> dict[str, Any]:
    """What Mixun keeps of a parsed SCIM User (everything else in it is not ours and is not stored)."""
    ent = user[EnterpriseUser] if user[EnterpriseUser] is not None else None
    name = (user.name.formatted if user.name and user.name.formatted else None) or user.display_name
    if not name and user.name and (user.name.family_name or user.name.given_name):
        name = f"{user.name.family_name or ''}{user.name.given_name or ''}"
    phone = next((p.value for p in (user.phone_numbers or []) if p.value), None)
    return {"username": user.user_name, "name": name, "employee_no": (ent.employee_number if ent else None)
            or user.external_id, "unit": ent.department if ent else None, "position": user.title,
            "phone": phone, "active": user.active}


def _parse_user(data: dict[str, Any], ctx_kind: Context) -> Any:
    ext = data.pop(MIXUN_EXT, None)
    if MIXUN_EXT in data.get("schemas", []):
        data["schemas"] = [x for x in data["schemas"] if x != MIXUN_EXT]
    try:
        user = StaffUser.model_validate(data, scim_ctx=ctx_kind)
    except ValidationError as exc:
        raise ScimError(400, f"Invalid User: {exc.errors()[0].get('msg', 'invalid')}", "invalidValue") from exc
    facts = _facts(user)
    facts["departure_reason"] = (ext or {}).get("departureReason") if isinstance(ext, dict) else None
    return facts


_FILTER = re.compile(r'^\s*([A-Za-z.:0-9]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_USER_ATTRS = {"username": "username", "externalid": "employee_no", "displayname": "name",
               "name.formatted": "name", f"{ENTERPRISE}:employeenumber".lower(): "employee_no"}


def _filter(expr: str | None, attrs: dict[str, str]) -> tuple[str | None, str | None]:
    if not expr:
        return None, None
    m = _FILTER.match(expr)
    if not m or m.group(1).lower() not in attrs:
        raise ScimError(400, f"Unsupported filter: {expr} (supported: attribute eq \"value\" on "
                        f"{', '.join(sorted(attrs))})", "invalidFilter")
    return attrs[m.group(1).lower()], json.loads(f'"{m.group(2)}"')


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = int(request.query_params.get("startIndex", "1"))
        count = int(request.query_params.get("count", "100"))
    except ValueError as exc:
        raise ScimError(400, "startIndex and count are integers", "invalidValue") from exc
    return max(start, 1), min(max(count, 0), MAX_COUNT)


def _list(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {"schemas": [LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


def _id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise ScimError(404, f"Resource {raw} not found")
    return int(raw)


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except MixunError as exc:
        status, kind = _MAPPED.get(exc.code, (400, None))
        if exc.code in ("forbidden", "hr_privileged_account", "reserved_role"):
            status = 403
        detail = exc.message_for("en") + (f" ({exc.details['field']})" if exc.details.get("field") else "")
        raise ScimError(status, detail, kind) from exc


# ---- Users ---------------------------------------------------------------------------------------------------

@router.get("/Users")
async def list_users(request: Request, ctx: Ctx = Scim) -> Response:
    attr, value = _filter(request.query_params.get("filter"), _USER_ATTRS)
    start, count = _paging(request)
    total, rows = await _call(scim.list_users, ctx, attr, value, start, count)
    return _json(_list([_user_json(request, r) for r in rows], total, start))


@router.post("/Users")
async def create_user(request: Request, ctx: Ctx = Scim) -> Response:
    facts = _parse_user(await _body(request), Context.RESOURCE_CREATION_REQUEST)
    r = await _call(scim.create_user, ctx, facts)
    return _json(_user_json(request, r), 201, location=_location(request, "Users", r["id"]), etag=r["version"])


@router.get("/Users/{rid}")
async def get_user(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    r = await _call(scim.get_user, ctx, _id(rid))
    return _json(_user_json(request, r), etag=r["version"])


@router.put("/Users/{rid}")
async def replace_user(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    uid = _id(rid)
    await _call(scim.get_user, ctx, uid)  # 404 before the body is judged
    facts = _parse_user(await _body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    r = await _call(scim.replace_user, ctx, uid, facts)
    return _json(_user_json(request, r), etag=r["version"])


@router.patch("/Users/{rid}")
async def patch_user(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    uid = _id(rid)
    current = await _call(scim.get_user, ctx, uid)
    data = await _body(request)
    resource = StaffUser.model_validate({k: v for k, v in _user_json(request, current).items() if k != MIXUN_EXT}
                                        | {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]},
                                        scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    try:
        op = PatchOp[StaffUser].model_validate(data, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        op.patch(resource)
    except ValidationError as exc:
        raise ScimError(400, f"Invalid PatchOp: {exc.errors()[0].get('msg', 'invalid')}", "invalidValue") from exc
    except Exception as exc:  # noqa: BLE001 - scim2-models raises its own SCIM exceptions for bad paths/values
        raise ScimError(400, f"Invalid PatchOp: {exc}", getattr(exc, "scim_type", None) or "invalidPath") from exc
    facts = _facts(resource)
    r = await _call(scim.replace_user, ctx, uid, facts)
    return _json(_user_json(request, r), etag=r["version"])


@router.delete("/Users/{rid}")
async def delete_user(rid: str, ctx: Ctx = Scim) -> Response:
    """Deprovisioning: the person departs (``other``); the account and its history are kept."""
    await _call(scim.depart_user, ctx, _id(rid))
    return Response(status_code=204)


# ---- Groups (org units) ------------------------------------------------------------------------------------

@router.get("/Groups")
async def list_groups(request: Request, ctx: Ctx = Scim) -> Response:
    _attr, value = _filter(request.query_params.get("filter"), {"displayname": "name"})
    start, count = _paging(request)
    total, rows = await _call(scim.list_groups, ctx, value, start, count)
    return _json(_list([_group_json(request, g) for g in rows], total, start))


@router.post("/Groups")
async def create_group(request: Request, ctx: Ctx = Scim) -> Response:
    data = await _body(request)
    try:
        group = Group.model_validate(data, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    except ValidationError as exc:
        raise ScimError(400, f"Invalid Group: {exc.errors()[0].get('msg', 'invalid')}", "invalidValue") from exc
    if group.members:
        raise ScimError(400, "A unit's members follow each User's department; create the group without members",
                        "mutability")
    g = await _call(scim.create_group, ctx, group.display_name or "")
    return _json(_group_json(request, g), 201, location=_location(request, "Groups", g["id"]))


@router.get("/Groups/{rid}")
async def get_group(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    return _json(_group_json(request, await _call(scim.get_group, ctx, _id(rid))))


@router.delete("/Groups/{rid}")
async def delete_group(rid: str, ctx: Ctx = Scim) -> Response:
    """Closes an empty unit (撤销); a unit still holding people is a 409."""
    await _call(scim.close_group, ctx, _id(rid))
    return Response(status_code=204)


# ---- discovery ------------------------------------------------------------------------------------------------

@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, ctx: Ctx = Scim) -> Response:
    return _json({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://mixun.invalid/docs/organisation.md",
        "patch": {"supported": True}, "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT}, "changePassword": {"supported": False},
        "sort": {"supported": False}, "etag": {"supported": False},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token",
                                   "description": "A token printed by `mixun scim token`", "primary": True}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": str(request.url)},
    })


def _resource_types(request: Request) -> list[dict[str, Any]]:
    base = str(request.base_url).rstrip("/") + PREFIX
    # scim2-models takes `schema_` (the attribute's alias) at runtime; its stubs name it otherwise.
    user = ResourceType(id="User", name="User", endpoint="/Users",  # type: ignore[call-arg, arg-type]
                        schema_="urn:ietf:params:scim:schemas:core:2.0:User",
                        schema_extensions=[SchemaExtension(schema_=ENTERPRISE, required=False)])  # type: ignore[call-arg]
    group = ResourceType(id="Group", name="Group", endpoint="/Groups",  # type: ignore[call-arg, arg-type]
                         schema_="urn:ietf:params:scim:schemas:core:2.0:Group")
    out = []
    for rt in (user, group):
        body = rt.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{rt.id}"}
        out.append(body)
    return out


@router.get("/ResourceTypes")
async def resource_types(request: Request, ctx: Ctx = Scim) -> Response:
    items = _resource_types(request)
    return _json(_list(items, len(items), 1))


@router.get("/ResourceTypes/{rid}")
async def resource_type(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    for item in _resource_types(request):
        if item["id"] == rid:
            return _json(item)
    raise ScimError(404, f"ResourceType {rid} not found")


def _schemas(request: Request) -> list[dict[str, Any]]:
    base = str(request.base_url).rstrip("/") + PREFIX
    out = []
    for model in (User, EnterpriseUser, Group):
        body = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{body['id']}"}
        out.append(body)
    return out


@router.get("/Schemas")
async def schemas(request: Request, ctx: Ctx = Scim) -> Response:
    items = _schemas(request)
    return _json(_list(items, len(items), 1))


@router.get("/Schemas/{rid}")
async def schema(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
    for item in _schemas(request):
        if item["id"] == rid:
            return _json(item)
    raise ScimError(404, f"Schema {rid} not found")


def install(app: Any) -> None:
    """The router, and its errors rendered as SCIM errors (elsewhere our own format stays)."""
    app.include_router(router)

    async def _scim(request: Request, exc: ScimError) -> Response:
        return error(exc.status, exc.detail, exc.scim_type)

    app.add_exception_handler(ScimError, _scim)
