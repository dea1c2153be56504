"""SCIM 2.0 (RFC 7643/7644) at /scim/v2: Users, Groups (org units), ServiceProviderConfig, ResourceTypes,
Schemas. The protocol lives here (scim2-models parses and describes the resources); the data side is
services/scim.py. Authentication: `Authorization: Bearer` the token from `mixun scim token`, from an
allowed network. Errors are SCIM errors (``urn:ietf:params:scim:api:messages:2.0:Error``).

Users and Groups share one set of handlers (list, ``/.search``, create, read, replace, patch, delete),
each kind saying only how its facts become SCIM JSON and back (``Kind``). The Schemas endpoint publishes
exactly the attributes Mixun keeps, with what it requires marked required, so a client (and the RFC
checker the tests run, scim2-tester) sends what will be stored and gets back what it sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from scim2_models import (
    URN,
    CaseExact,
    Context,
    EnterpriseUser,
    Extension,
    Group,
    Mutability,
    PatchOp,
    ResourceType,
    Returned,
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
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MIXUN_EXT = "urn:mixun:params:scim:schemas:extension:2.0:User"  # departureReason
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_COUNT = 500


class MixunUser(Extension):
    """Mixun's own User extension, input only: the kind of departure recorded when ``active`` turns false
    (termination, retirement, internal_retirement, resignation, transfer, or other, the default).
    docs/organisation.md documents it; discovery does not publish it (an extension whose one attribute is
    never returned cannot be round-tripped, and RFC checkers rightly try); HR's console shows the kind."""

    __schema__ = URN(MIXUN_EXT)

    departure_reason: Annotated[str | None, Mutability.write_only, Returned.never, CaseExact.true] = None


StaffUser = User[EnterpriseUser | MixunUser]

# What Mixun keeps of each schema (attribute -> the sub-attributes kept, None for a simple attribute), and
# what it requires. Everything else a client sends is not stored, so it is not published.
KEPT: dict[str, dict[str, tuple[str, ...] | None]] = {
    CORE_USER: {"userName": None, "name": ("formatted",), "title": None, "active": None, "phoneNumbers": ("value",)},
    ENTERPRISE: {"employeeNumber": None, "department": None},
    CORE_GROUP: {"displayName": None, "members": ("value", "$ref", "type", "display")},
}
REQUIRED = {CORE_USER: {"userName", "name", "name.formatted", "active"}, ENTERPRISE: {"employeeNumber", "department"},
            CORE_GROUP: {"displayName"}}
READ_ONLY = {CORE_GROUP: {"members"}}  # a unit's members follow each User's department
IMMUTABLE = {CORE_USER: {"userName"}}  # the login name: set when the account is made, never renamed


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
           "unit_closed": (409, None), "unit_not_empty": (409, None), "validation_failed": (400, "invalidValue"),
           "unit_move_invalid": (400, "invalidValue")}


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


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ScimError(400, "The body is not valid JSON", "invalidSyntax") from exc
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
    return data


def _invalid(what: str, exc: ValidationError) -> ScimError:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    return ScimError(400, f"Invalid {what}: {first.get('msg', 'invalid')}" + (f" ({where})" if where else ""),
                     "invalidValue")


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except MixunError as exc:
        status, kind = _MAPPED.get(exc.code, (400, None))
        if exc.code in ("forbidden", "hr_privileged_account", "reserved_role"):
            status = 403
        detail = exc.message_for("en") + (f" ({exc.details['field']})" if exc.details.get("field") else "")
        raise ScimError(status, detail, kind) from exc


# ---- the two kinds ---------------------------------------------------------------------------------------------

def _user_json(request: Request, r: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE], "id": str(r["id"]), "userName": r["username"],
        "name": {"formatted": r["name"]}, "active": r["active"],
        ENTERPRISE: {"employeeNumber": r["employee_no"], "department": r["unit"]},
        "meta": {"resourceType": "User", "created": _iso(r["created_at"]), "lastModified": _iso(r["created_at"]),
                 "location": _location(request, "Users", r["id"]), "version": f'W/"{r["version"]}"'},
    }
    if r["external_id"]:
        body["externalId"] = r["external_id"]
    if r["position"]:
        body["title"] = r["position"]
    if r["phone"]:
        body["phoneNumbers"] = [{"value": r["phone"]}]
    return body  # Mixun's extension is input only (departureReason; HR's console shows a departure's kind)


def _user_facts(user: Any) -> dict[str, Any]:
    """What Mixun keeps of a parsed SCIM User (everything else in it is not ours and is not stored). The
    name may come as name.formatted, displayName, or family and given names."""
    ent = user[EnterpriseUser] if user[EnterpriseUser] is not None else None
    name = (user.name.formatted if user.name and user.name.formatted else None) or user.display_name
    if not name and user.name and (user.name.family_name or user.name.given_name):
        name = f"{user.name.family_name or ''}{user.name.given_name or ''}"
    phone = next((p.value for p in (user.phone_numbers or []) if p.value), None)
    mixun = user[MixunUser]
    return {"departure_reason": mixun.departure_reason if mixun is not None else None,
            "username": user.user_name, "name": name, "employee_no": (ent.employee_number if ent else None)
            or user.external_id, "unit": ent.department if ent else None, "position": user.title or "",
            "phone": phone or "", "active": user.active, "external_id": user.external_id}


def _user_parse(data: dict[str, Any], ctx_kind: Context) -> dict[str, Any]:
    try:
        user = StaffUser.model_validate(data, scim_ctx=ctx_kind)
    except ValidationError as exc:
        raise _invalid("User", exc) from exc
    return _user_facts(user)


def _group_json(request: Request, g: dict[str, Any]) -> dict[str, Any]:
    return ({"externalId": g["external_id"]} if g["external_id"] else {}) | {
        "schemas": [CORE_GROUP], "id": str(g["id"]), "displayName": g["path"],
        "members": [{"value": str(m["id"]), "display": m["name"], "type": "User",
                     "$ref": _location(request, "Users", m["id"])} for m in g["members"]],
        "meta": {"resourceType": "Group", "created": _iso(g["created_at"]), "lastModified": _iso(g["created_at"]),
                 "location": _location(request, "Groups", g["id"]), "version": f'W/"{g["version"]}"'},
    }


def _group_model(data: dict[str, Any], ctx_kind: Context) -> Any:
    try:
        return Group.model_validate(data, scim_ctx=ctx_kind)
    except ValidationError as exc:
        raise _invalid("Group", exc) from exc


def _group_parse(data: dict[str, Any], ctx_kind: Context) -> dict[str, Any]:
    group = _group_model(data, ctx_kind)
    if group.members and ctx_kind == Context.RESOURCE_CREATION_REQUEST:
        raise ScimError(400, "A unit's members follow each User's department; create the group without members",
                        "mutability")
    return _group_facts(group)


def _group_facts(group: Any) -> dict[str, Any]:
    return {"path": group.display_name or "", "external_id": group.external_id}


@dataclass(frozen=True)
class Kind:
    """One SCIM resource type: its endpoint, how its facts become JSON and back, and its data side."""

    name: str
    endpoint: str
    schema: str
    model: Any
    filters: dict[str, str]
    render: Callable[[Request, dict[str, Any]], dict[str, Any]]
    parse: Callable[[dict[str, Any], Context], dict[str, Any]]
    facts: Callable[[Any], dict[str, Any]]
    list: Callable[..., tuple[int, list[dict[str, Any]]]]
    get: Callable[[Ctx, int], dict[str, Any]]
    create: Callable[[Ctx, dict[str, Any]], dict[str, Any]]
    replace: Callable[[Ctx, int, dict[str, Any]], dict[str, Any]]
    delete: Callable[[Ctx, int], None]
    extensions: tuple[str, ...] = ()


USERS = Kind(
    name="User", endpoint="Users", schema=CORE_USER, model=StaffUser,
    filters={"username": "username", "externalid": "external_id", "displayname": "name", "name.formatted": "name",
             f"{ENTERPRISE}:employeenumber".lower(): "employee_no", "id": "id"},
    render=_user_json, parse=_user_parse, facts=_user_facts, list=scim.list_users, get=scim.get_user,
    create=scim.create_user, replace=scim.replace_user, delete=scim.depart_user, extensions=(ENTERPRISE, MIXUN_EXT))
GROUPS = Kind(
    name="Group", endpoint="Groups", schema=CORE_GROUP, model=Group,
    filters={"displayname": "name", "externalid": "external_id", "id": "id"},
    render=_group_json, parse=_group_parse, facts=_group_facts,
    list=scim.list_groups, get=scim.get_group, create=scim.create_group, replace=scim.replace_group,
    delete=scim.close_group)
KINDS = (USERS, GROUPS)


# ---- query parameters --------------------------------------------------------------------------------------------

_FILTER = re.compile(r'^\s*([A-Za-z.:0-9$]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def _filter(expr: str | None, attrs: dict[str, str]) -> tuple[str | None, str | None]:
    if not expr:
        return None, None
    m = _FILTER.match(expr)
    if not m or m.group(1).lower() not in attrs:
        raise ScimError(400, f"Unsupported filter: {expr} (supported: attribute eq \"value\" on "
                        f"{', '.join(sorted(attrs))})", "invalidFilter")
    return attrs[m.group(1).lower()], json.loads(f'"{m.group(2)}"')


def _int(raw: Any, default: int, what: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise ScimError(400, f"{what} must be an integer", "invalidValue") from exc


def _paging(start_raw: Any, count_raw: Any) -> tuple[int, int]:
    start = _int(start_raw, 1, "startIndex")
    count = _int(count_raw, 100, "count")
    return max(start, 1), min(max(count, 0), MAX_COUNT)


def _names(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def _split(name: str, kind: Kind) -> tuple[str | None, str, str | None]:
    """(extension URN or None, attribute, sub-attribute or None) of an attribute path, as lower case."""
    low = name.lower()
    for urn in (*kind.extensions, kind.schema):
        if low.startswith(urn.lower() + ":"):
            rest = low[len(urn) + 1:]
            attr, _, sub = rest.partition(".")
            return (None if urn == kind.schema else urn), attr, sub or None
        if low == urn.lower():
            return urn, "", None
    attr, _, sub = low.partition(".")
    return None, attr, sub or None


ALWAYS = {"schemas", "id", "meta"}


def project(body: dict[str, Any], kind: Kind, attributes: list[str], excluded: list[str]) -> dict[str, Any]:
    """RFC 7644 §3.4.2.5: ``attributes`` (only these, with those always returned) or
    ``excludedAttributes`` (all but these)."""
    if not attributes and not excluded:
        return body
    exts = {urn.lower(): urn for urn in kind.extensions}

    def pick(obj: dict[str, Any], wanted: list[tuple[str, str | None]], keep: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            subs = [sub for attr, sub in wanted if attr == key.lower()]
            if keep:
                if key in ALWAYS or key.lower() in exts:
                    out[key] = value
                elif subs:
                    if None in subs or not isinstance(value, (dict, list)):
                        out[key] = value
                    elif isinstance(value, dict):
                        out[key] = {k: v for k, v in value.items() if k.lower() in subs}
                    else:
                        out[key] = [{k: v for k, v in x.items() if k.lower() in subs} for x in value]
            else:
                if key in ALWAYS or not subs:
                    out[key] = value
                elif None not in subs and isinstance(value, dict):
                    out[key] = {k: v for k, v in value.items() if k.lower() not in subs}
                elif None not in subs and isinstance(value, list):
                    out[key] = [{k: v for k, v in x.items() if k.lower() not in subs} for x in value]
        return out

    names = attributes or excluded
    keep = bool(attributes)
    core: list[tuple[str, str | None]] = []
    per_ext: dict[str, list[tuple[str, str | None]]] = {}
    whole_ext: set[str] = set()
    for n in names:
        urn, attr, sub = _split(n, kind)
        if urn is None:
            core.append((attr, sub))
        elif not attr:
            whole_ext.add(urn.lower())
        else:
            per_ext.setdefault(urn.lower(), []).append((attr, sub))
    out = pick(body, core, keep)
    for low, urn in exts.items():
        if urn not in body:
            continue
        if keep:
            if low in whole_ext:
                out[urn] = body[urn]
            elif low in per_ext:
                out[urn] = pick(body[urn], per_ext[low], True)
            else:
                out.pop(urn, None)
        else:
            if low in whole_ext:
                out.pop(urn, None)
            elif low in per_ext:
                out[urn] = pick(body[urn], per_ext[low], False)
        if urn in out and not out[urn]:
            del out[urn]
    return out


def _list(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {"schemas": [LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


def _id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise ScimError(404, f"Resource {raw} not found")
    return int(raw)


# ---- the shared handlers ------------------------------------------------------------------------------------

async def _query(request: Request, ctx: Ctx, kind: Kind, params: dict[str, Any]) -> Response:
    attr, value = _filter(params.get("filter"), kind.filters)
    start, count = _paging(params.get("startIndex"), params.get("count"))
    attributes, excluded = _names(params.get("attributes")), _names(params.get("excludedAttributes"))
    if attributes and excluded:
        raise ScimError(400, "attributes and excludedAttributes cannot be given together", "invalidSyntax")
    total, rows = await _call(kind.list, ctx, attr, value, start, count)
    return _json(_list([project(kind.render(request, r), kind, attributes, excluded) for r in rows], total, start))


def _one(request: Request, kind: Kind, r: dict[str, Any], status: int = 200) -> Response:
    attributes = _names(request.query_params.get("attributes"))
    excluded = _names(request.query_params.get("excludedAttributes"))
    location = _location(request, kind.endpoint, r["id"])
    return _json(project(kind.render(request, r), kind, attributes, excluded), status,
                 location=location if status == 201 else None, etag=r.get("version"))


def _routes(kind: Kind) -> None:
    base = f"/{kind.endpoint}"

    @router.get(base, name=f"scim_list_{kind.endpoint}")
    async def list_(request: Request, ctx: Ctx = Scim) -> Response:
        return await _query(request, ctx, kind, dict(request.query_params))

    @router.post(base + "/.search", name=f"scim_search_{kind.endpoint}")
    async def search(request: Request, ctx: Ctx = Scim) -> Response:
        data = await _body(request)
        if SEARCH not in (data.get("schemas") or []):
            raise ScimError(400, f"A search request names the schema {SEARCH}", "invalidSyntax")
        return await _query(request, ctx, kind, data)

    @router.post(base, name=f"scim_create_{kind.endpoint}")
    async def create(request: Request, ctx: Ctx = Scim) -> Response:
        facts = kind.parse(await _body(request), Context.RESOURCE_CREATION_REQUEST)
        return _one(request, kind, await _call(kind.create, ctx, facts), 201)

    @router.get(base + "/{rid}", name=f"scim_get_{kind.endpoint}")
    async def get(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
        return _one(request, kind, await _call(kind.get, ctx, _id(rid)))

    @router.put(base + "/{rid}", name=f"scim_replace_{kind.endpoint}")
    async def replace(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
        uid = _id(rid)
        await _call(kind.get, ctx, uid)  # 404 before the body is judged
        facts = kind.parse(await _body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
        return _one(request, kind, await _call(kind.replace, ctx, uid, facts))

    @router.patch(base + "/{rid}", name=f"scim_patch_{kind.endpoint}")
    async def patch(rid: str, request: Request, ctx: Ctx = Scim) -> Response:
        """RFC 7644 §3.5.2: the operations applied (by scim2-models) to the resource as it stands, and
        the result stored as a replacement would be."""
        uid = _id(rid)
        current = kind.render(request, await _call(kind.get, ctx, uid))
        current.pop("meta", None)
        if kind is GROUPS:
            current.pop("members", None)
        data = await _body(request)
        try:
            resource = kind.model.model_validate(current, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
            op = PatchOp[kind.model].model_validate(data, scim_ctx=Context.RESOURCE_PATCH_REQUEST)  # type: ignore[name-defined]
            op.patch(resource)
        except ValidationError as exc:
            raise _invalid("PatchOp", exc) from exc
        except Exception as exc:  # noqa: BLE001 - scim2-models raises its own SCIM exceptions for bad paths/values
            raise ScimError(400, f"Invalid PatchOp: {exc}", getattr(exc, "scim_type", None) or "invalidPath") from exc
        if kind is GROUPS and resource.members:
            raise ScimError(400, "A unit's members follow each User's department", "mutability")
        return _one(request, kind, await _call(kind.replace, ctx, uid, kind.facts(resource)))

    @router.delete(base + "/{rid}", name=f"scim_delete_{kind.endpoint}")
    async def delete(rid: str, ctx: Ctx = Scim) -> Response:
        """Users: the person departs (``other``), the account and its history are kept, and SCIM answers
        404 for it from then on (RFC 7644 §3.6). Groups: an empty unit is closed (撤销); one still
        holding people is a 409."""
        await _call(kind.delete, ctx, _id(rid))
        return Response(status_code=204)


for _kind in KINDS:
    _routes(_kind)


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
                        schema_=CORE_USER,
                        schema_extensions=[SchemaExtension(schema_=ENTERPRISE, required=True)])  # type: ignore[call-arg]
    group = ResourceType(id="Group", name="Group", endpoint="/Groups",  # type: ignore[call-arg, arg-type]
                         schema_=CORE_GROUP)
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


def _published(model: Any) -> dict[str, Any]:
    """A schema as scim2-models describes it, cut to what Mixun keeps (KEPT), with what Mixun needs
    marked required and what it derives marked read-only."""
    body: dict[str, Any] = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    kept, required, read_only = KEPT[body["id"]], REQUIRED.get(body["id"], set()), READ_ONLY.get(body["id"], set())
    attrs = []
    for a in body["attributes"]:
        if a["name"] not in kept:
            continue
        a["required"] = a["name"] in required
        if a["name"] in read_only:
            a["mutability"] = "readOnly"
        if a["name"] in IMMUTABLE.get(body["id"], set()):
            a["mutability"] = "immutable"
        subs = kept[a["name"]]
        if subs is not None and a.get("subAttributes"):
            a["subAttributes"] = [dict(x, required=f"{a['name']}.{x['name']}" in required)
                                  | ({"mutability": "readOnly"} if a["name"] in read_only else {})
                                  for x in a["subAttributes"] if x["name"] in subs]
        attrs.append(a)
    body["attributes"] = attrs
    return body


def _schemas(request: Request) -> list[dict[str, Any]]:
    base = str(request.base_url).rstrip("/") + PREFIX
    out = []
    for model in (User, EnterpriseUser, Group):
        body = _published(model)
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


@router.post("/.search")
async def search_all(ctx: Ctx = Scim) -> Response:
    """RFC 7644 §3.4.3 allows searching every resource type at once at the root; Mixun does not."""
    raise ScimError(501, "Searching several resource types at once is not supported; POST /Users/.search or "
                    "/Groups/.search")


_READ_ONLY_ENDPOINTS = ("ServiceProviderConfig", "ResourceTypes", "Schemas")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(rest: str, request: Request, ctx: Ctx = Scim) -> Response:
    """Any other path under /scim/v2 is a SCIM 404 (RFC 7644 §3.12), after the token is checked; a
    method the discovery endpoints (read-only) or a resource path do not take is a 405."""
    first = rest.split("/", 1)[0]
    if first in _READ_ONLY_ENDPOINTS or first in {k.endpoint for k in KINDS}:
        raise ScimError(405, f"{request.method} is not allowed on /{rest[:100]}")
    raise ScimError(404, f"No such SCIM endpoint: /{rest[:100]}")


def install(app: Any) -> None:
    """The router, and its errors rendered as SCIM errors (elsewhere our own format stays)."""
    app.include_router(router)

    async def _scim(request: Request, exc: ScimError) -> Response:
        return error(exc.status, exc.detail, exc.scim_type)

    app.add_exception_handler(ScimError, _scim)
