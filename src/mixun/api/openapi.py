"""The OpenAPI document, made to tell the truth: every status a route can answer is listed.

FastAPI documents a route's success and (some of) its 422. The rest is added here, once, for every
route at app creation (``install``), so a route added later is covered without doing anything:

* from what every request meets at the edge: 413 (body over the limit), 422 (a NUL in the query, an
  invalid parameter), 503 ``busy`` (the database would not wait for a lock);
* from the route's gate (api/deps.py ``gate``): 401, 403 and 423 (a locked session) unless it is public
  (GATE_STATUSES);
* from its shape: 404 when it has a path parameter, 400 ``invalid_json`` when it takes a JSON body,
  400/413/415 when it takes files;
* and per route, the codes its service raises beyond those (EXTRA_CODES, by error code, so the
  statuses come from the one error registry, mixun/errors.py).

Every error response refers to one schema (``Error``), whose ``code`` is one of the registered codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Depends, FastAPI

from mixun.api.deps import MAX_ID, gate
from mixun.api.responses import ORJSONResponse
from mixun.domain.roles import Perm
from mixun.errors import ERRORS

# What the permission gate can answer before any route code runs (not logged in, session ended,
# password change pending, two-factor enrolment pending, role lacks the permission, cross-site write).
GATE_STATUSES = (401, 403, 423)
EDGE_STATUSES = (413, 422, 503)

# Codes a route's service raises beyond the generic ones above: "METHOD /path" -> error codes.
EXTRA_CODES: dict[str, tuple[str, ...]] = {
    "POST /api/v1/auth/login": ("invalid_credentials", "otp_required", "account_locked", "account_disabled",
                                "network_not_allowed", "rate_limited", "invalid_otp"),
    "POST /api/v1/auth/password": ("invalid_credentials", "weak_password", "rate_limited"),
    "POST /api/v1/auth/totp/verify": ("invalid_otp", "conflict"),
    "POST /api/v1/auth/totp/enroll": ("conflict",),
    "POST /api/v1/auth/totp/disable": ("invalid_credentials", "forbidden", "account_locked"),
    "POST /api/v1/auth/unlock": ("invalid_credentials", "account_locked"),
    "POST /api/v1/conversations": ("invalid_members", "not_found", "rate_limited"),
    "PATCH /api/v1/conversations/{conversation_id}": ("not_a_group",),
    "POST /api/v1/conversations/{conversation_id}/members": ("not_a_group", "invalid_members"),
    "DELETE /api/v1/conversations/{conversation_id}/members/{user_id}": ("not_a_group", "invalid_members"),
    "POST /api/v1/conversations/{conversation_id}/leave": ("not_a_group", "owner_must_transfer"),
    "POST /api/v1/conversations/{conversation_id}/owner": ("not_a_group", "invalid_members"),
    "POST /api/v1/conversations/{conversation_id}/admins": ("not_a_group", "invalid_members"),
    "POST /api/v1/conversations/{conversation_id}/messages": (
        "message_too_long", "empty_message", "rate_limited", "dlp_blocked", "dlp_confirm_required",
        "sending_suspended", "conflict"),
    "PATCH /api/v1/messages/{message_id}": ("message_too_long", "empty_message", "edit_window_passed",
                                            "message_recalled", "dlp_blocked", "dlp_confirm_required",
                                            "sending_suspended"),
    "POST /api/v1/messages/{message_id}/recall": ("recall_window_passed", "message_recalled"),
    "GET /api/v1/attachments/{attachment_id}": ("file_not_ready", "file_blocked"),
    "GET /api/v1/attachments/{attachment_id}/thumbnail": ("file_not_ready", "file_blocked"),
    "POST /api/v1/admin/users": ("username_taken", "employee_no_taken", "weak_password", "reserved_role",
                                 "not_found"),
    "PATCH /api/v1/admin/users/{user_id}": ("reserved_role", "conflict"),
    "POST /api/v1/admin/users/{user_id}/depart": ("conflict",),
    "POST /api/v1/admin/users/{user_id}/reset-password": ("conflict",),
    "POST /api/v1/admin/units": ("not_found", "conflict"),
    "PATCH /api/v1/me": (),
    "POST /api/v1/reports": ("not_found",),
    "POST /api/v1/compliance/holds": ("not_found",),
    "POST /api/v1/compliance/holds/{hold_id}/release": ("conflict",),
    "POST /api/v1/compliance/exports": ("not_found",),
    "POST /api/v1/compliance/review/{item_id}/decision": ("conflict",),
    "POST /api/v1/compliance/retention/runs": ("conflict",),
    "PUT /api/v1/dlp/policy": ("conflict",),
    "GET /api/v1/directory/users": ("directory_rate_limited",),
    "GET /api/v1/directory/users/{user_id}": ("directory_rate_limited",),
    "POST /api/v1/rules/accept": ("rules_version_stale", "rules_not_published"),
    "POST /api/v1/announcements": ("unit_not_found", "announcement_scope_forbidden", "dlp_blocked",
                                   "dlp_confirm_required"),
    "POST /api/v1/announcements/{announcement_id}/remind": ("conflict",),
    "PUT /api/v1/admin/function-rules": ("unit_not_found",),
    "GET /api/v1/announcements/{announcement_id}/files/{file_id}": ("file_not_ready", "file_blocked"),
    "POST /api/v1/faults/{report_id}/files": ("fault_resolved",),
    "POST /api/v1/faults/{report_id}/replies": ("fault_resolved",),
    "POST /api/v1/admin/faults/{report_id}/assign": ("fault_resolved",),
    "POST /api/v1/admin/faults/{report_id}/resolve": ("fault_resolved",),
    "GET /api/v1/admin/reports/inspection": ("pdf_unavailable",),
    # drive and group file space (docs/drive.md)
    "GET /api/v1/conversations/{conversation_id}/space": ("not_a_group",),
    "POST /api/v1/drive/folders": ("not_a_group", "validation_failed"),
    "PATCH /api/v1/drive/items/{item_id}": ("forbidden", "drive_type_not_allowed", "not_a_group"),
    "POST /api/v1/drive/items/{item_id}/move": ("forbidden", "not_a_group"),
    "DELETE /api/v1/drive/items/{item_id}": ("forbidden", "not_a_group"),
    "POST /api/v1/drive/uploads": ("file_too_large", "drive_quota_exceeded", "drive_type_not_allowed",
                                   "unsupported_media", "not_a_group"),
    "PUT /api/v1/drive/uploads/{upload_id}/chunks/{index}": ("chunk_mismatch", "body_too_large"),
    "POST /api/v1/drive/uploads/{upload_id}/complete": (
        "upload_incomplete", "chunk_mismatch", "malware_detected", "scan_failed", "scanner_unavailable",
        "drive_type_not_allowed", "unsupported_media", "dlp_blocked", "dlp_confirm_required", "sending_suspended",
        "not_a_group"),
    "GET /api/v1/drive/items/{item_id}/content": ("file_not_ready", "file_blocked", "range_not_satisfiable",
                                                  "not_a_group"),
    "POST /api/v1/drive/items/{item_id}/share": (
        "file_not_ready", "file_blocked", "file_too_large", "malware_detected", "scan_failed", "scanner_unavailable",
        "unsupported_media", "dlp_blocked", "dlp_confirm_required", "sending_suspended", "rate_limited", "not_a_group"),
    "POST /api/v1/drive/items/{item_id}/report": ("conflict", "not_a_group"),
    "POST /api/v1/drive/items/{item_id}/keep": ("not_a_group",),
    "PUT /api/v1/admin/drive/quotas": ("not_found",),
    "POST /api/v1/admin/drive/reports/{report_id}/decision": ("review_already_decided",),
    "POST /api/v1/admin/users/{user_id}/drive-handover": ("conflict",),
}
# Routes answering something other than JSON on success: "METHOD /path" -> media types.
SUCCESS_MEDIA: dict[str, dict[str, Any]] = {
    "GET /api/v1/admin/rules/acceptance.csv": {"text/csv": {"schema": {"type": "string"}}},
    "GET /api/v1/admin/account-reviews/{review_id}/csv": {"text/csv": {"schema": {"type": "string"}}},
    "GET /api/v1/compliance/exports/{export_id}/download": {"application/zip": {
        "schema": {"type": "string", "format": "binary"}}},
    "GET /api/v1/audit/export": {"application/x-ndjson": {
        "schema": {"type": "string", "description": "one JSON object (an audit record) per line"}}},
}
BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
UPLOAD_CODES = ("bad_request", "file_too_large", "unsupported_media", "malware_detected", "scan_failed",
                "scanner_unavailable", "weak_pack_password", "dlp_blocked", "dlp_confirm_required",
                "sending_suspended", "rate_limited", "message_too_long")
_GENERIC = {400: "The request is malformed (invalid_json, bad_request)",
            401: "Not logged in, or the session has ended (not_authenticated, session_expired)",
            403: "Not allowed for this session or role (forbidden, password_change_required, ...)",
            404: "No such object, or not one the caller may see (not_found)",
            413: "The request body is over the limit (body_too_large)",
            423: "The session is locked: unlock it first (session_locked)",
            422: "A parameter or body field is invalid (validation_failed)",
            503: "The database is busy; nothing was written; retry (busy)"}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def frame_schemas(ref_template: str = "#/components/schemas/{model}") -> dict[str, Any]:
    """The WebSocket frames (api/models.py ``Frame``), as components: ``Frame`` is their union,
    discriminated by ``type``."""
    from mixun.api.models import FRAME

    schema = FRAME.json_schema(ref_template=ref_template)
    defs = schema.pop("$defs", {})
    return {**defs, "Frame": schema}


def error_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "additionalProperties": True,
        "properties": {"code": {"type": "string", "enum": sorted(ERRORS)},
                       "message": {"type": "string", "description": "in the caller's language (zh-CN or en)"}}}}}


def _permissions(dependant: Any) -> set[Perm]:
    found = {dependant.call.permission} if getattr(dependant.call, "permission", None) is not None else set()
    for sub in dependant.dependencies:
        found |= _permissions(sub)
    return found


def _is_id(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "integer" and o.get("minimum") == 1 and o.get("maximum") == MAX_ID for o in options)


def _takes_ids(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """An id in the query or the JSON body (a unit, a member, a message): it may name nothing, a 404."""
    if any(_is_id(p.get("schema", {})) for p in operation.get("parameters", [])):
        return True
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for prop in schema.get("properties", {}).values():
        if _is_id(prop) or _is_id(prop.get("items", {})):
            return True
    return False


def _statuses(key: str, route: Any, operation: dict[str, Any], components: dict[str, Any]) -> dict[int, list[str]]:
    """status -> the error codes behind it, for one operation."""
    out: dict[int, list[str]] = {s: [] for s in EDGE_STATUSES}
    perms = _permissions(route.dependant) if route is not None else set()
    if any(p is not Perm.PUBLIC for p in perms):
        for s in GATE_STATUSES:
            out.setdefault(s, [])
    if any(p.get("in") == "path" for p in operation.get("parameters", [])) or _takes_ids(operation, components):
        out.setdefault(404, [])
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        out.setdefault(400, [])
    codes: Iterable[str] = EXTRA_CODES.get(key, ())
    if "multipart/form-data" in content:
        codes = (*codes, *UPLOAD_CODES)
    for code in codes:
        out.setdefault(ERRORS[code][0], []).append(code)
    return out


def complete(document: dict[str, Any], routes: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses (and media types) to ``document``; idempotent."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = error_schema()
    for name, schema in frame_schemas().items():
        if schemas.setdefault(name, schema) != schema:
            raise RuntimeError(f"two schemas named {name} in the OpenAPI document")
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            key = f"{method.upper()} {path}"
            responses = operation.setdefault("responses", {})
            for status, codes in sorted(_statuses(key, routes.get(key), operation, schemas).items()):
                text = _GENERIC.get(status) or ERRORS[codes[0]][2]
                if codes:
                    text += "; also: " + ", ".join(sorted(set(codes)))
                entry: dict[str, Any] = {"description": text, "content": ref}
                if status in (429, 503):
                    entry["headers"] = _RETRY_AFTER
                responses[str(status)] = entry
            if key in SUCCESS_MEDIA or _is_file_route(routes.get(key)):
                for status, entry in responses.items():
                    if status.startswith("2"):
                        entry["content"] = SUCCESS_MEDIA.get(key, BINARY)
    return document


def _is_file_route(route: Any) -> bool:
    """A download: its endpoint says it returns a bare Response (file_response) or a stream."""
    if route is None:
        return False
    from starlette.responses import Response, StreamingResponse

    returns = getattr(route.endpoint, "__annotations__", {}).get("return")
    return (returns in (Response, "Response", StreamingResponse, "StreamingResponse")
            and route.status_code in (None, 200))


def _routes(app: FastAPI) -> dict[str, Any]:
    from fastapi.routing import APIRoute, iter_route_contexts

    out: dict[str, Any] = {}
    for ctx in iter_route_contexts(app.router.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path:
            for method in ctx.methods or ():
                out[f"{method} {ctx.path}"] = route
    return out


def settings_limits(document: dict[str, Any], settings: Any) -> None:
    """Limits set by configuration, which the models cannot know: a message's length."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("MessageCreate", "MessageUpdate"):
        text = schemas.get(name, {}).get("properties", {}).get("text")
        if text is not None:
            text["maxLength"] = settings.max_message_length


def install(app: FastAPI, settings: Any) -> None:
    """Make ``app.openapi()`` return the completed document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI until the routes change
        if not document.get("x-mixun-complete"):
            complete(document, _routes(app))
            settings_limits(document, settings)
            document["x-mixun-complete"] = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def mount_document(app: FastAPI) -> None:
    """The OpenAPI document, behind the same gate as every other route (public: it holds no data)."""

    def openapi(_ctx: Any = Depends(gate(Perm.PUBLIC))) -> Any:
        return ORJSONResponse(app.openapi())

    app.add_api_route("/api/v1/openapi.json", openapi, include_in_schema=False)
