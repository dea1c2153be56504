"""The one renderer of errors: {"error": {"code", "message", ...}}, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mixun import metrics
from mixun.api.responses import ORJSONResponse
from mixun.db.engine import is_busy
from mixun.errors import MixunError, error_body

log = logging.getLogger("mixun.api")

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media", 422: "validation_failed",
               429: "rate_limited"}


def _locale(request: Request) -> str:
    loc = getattr(request.state, "locale", None)
    if loc:
        return str(loc)
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else str(request.app.state.runtime.settings.locale)


def render(request: Request, code: str, **details: Any) -> ORJSONResponse:
    body = error_body(code, _locale(request), **details)
    metrics.ERRORS.labels(code).inc()
    err = MixunError(code)
    return ORJSONResponse(body, status_code=err.status)


def mixun_error(request: Request, exc: MixunError) -> ORJSONResponse:
    metrics.ERRORS.labels(exc.code).inc()
    body = {"error": {"code": exc.code, "message": exc.message_for(_locale(request)), **exc.details}}
    response = ORJSONResponse(body, status_code=exc.status)
    if exc.code == "busy":  # nothing was written; the same request (same client_id) may come again
        response.headers["Retry-After"] = "2"
    elif "retry_after" in exc.details:  # whole seconds until the request can succeed (rate limits)
        response.headers["Retry-After"] = str(exc.details["retry_after"])
    return response


def out_of_range(exc: BaseException) -> bool:
    """A value the database cannot hold (an integer past 64 bits, text with NUL or a lone surrogate, a
    time off the calendar): the backstop behind the edge's own checks (api/deps.py), so an input some
    route forgot to bound is still the client's 422, not a 500."""
    seen: BaseException | None = exc
    for _ in range(4):  # SQLAlchemy wraps the driver's error (``orig``), which may wrap another
        if seen is None:
            return False
        if isinstance(seen, OverflowError | UnicodeEncodeError):
            return True
        module = type(seen).__module__
        if module.startswith("psycopg") and type(seen).__name__ in _PG_DATA_ERRORS:
            return True
        if module.startswith("sqlalchemy") and type(seen).__name__ == "DataError":
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


# psycopg's names for PostgreSQL's class 22 (data exception) errors, and its own refusal of NUL.
_PG_DATA_ERRORS = {"DataError", "NumericValueOutOfRange", "DatetimeFieldOverflow", "UntranslatableCharacter",
                   "CharacterNotInRepertoire", "InvalidTextRepresentation"}


def unexpected(request: Request, exc: Exception) -> ORJSONResponse:
    if out_of_range(exc):
        log.warning("%s %s: a value out of the database's range (%s)", request.method, request.url.path,
                    type(exc).__name__)
        return render(request, "validation_failed")
    if is_busy(exc):  # a lock the database would not wait for any longer: nothing written, try again
        log.warning("busy on %s %s: the database gave up waiting for a lock", request.method, request.url.path)
        return mixun_error(request, MixunError("busy"))
    metrics.SERVER_ERRORS.inc()
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
              exc_info=exc)
    return render(request, "internal_error")


def install(app: FastAPI) -> None:
    @app.exception_handler(MixunError)
    async def _mixun(request: Request, exc: MixunError) -> ORJSONResponse:
        return mixun_error(request, exc)

    @app.exception_handler(ResponseValidationError)
    async def _answer_unlike_its_model(request: Request, exc: ResponseValidationError) -> ORJSONResponse:
        # The route has done its work (a send or a change is committed) and its answer differs from the
        # model the document states: a defect of ours, not the caller's. Refusing the answer with a 500
        # would tell the caller that a committed action failed, so the answer is served as built; the
        # mismatch is logged (field locations only: values may be content) and counted as a server error.
        metrics.SERVER_ERRORS.inc()
        where = sorted({".".join(str(p) for p in e.get("loc", ())) + ":" + str(e.get("type")) for e in exc.errors()})
        log.error("answer of %s %s differs from its response model: %s", request.method, request.url.path,
                  ", ".join(where[:10]))
        route = request.scope.get("route")
        status = getattr(route, "status_code", None) or 200
        return ORJSONResponse(jsonable_encoder(exc.body), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ORJSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return render(request, "invalid_json")
        fields = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("type")}
                  for e in errors][:20]
        return render(request, "validation_failed", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        response = render(request, _HTTP_CODES.get(exc.status_code, "bad_request"))
        if exc.headers:  # a 405's Allow
            response.headers.update(exc.headers)
        return response

    async def _data(request: Request, exc: Exception) -> ORJSONResponse:
        return unexpected(request, exc)

    # Registered by class so they are answered inside the framework, like a MixunError (the catch-all
    # below is the server-error layer's, which re-raises after answering).
    from sqlalchemy.exc import DataError

    for kind in (OverflowError, UnicodeEncodeError, DataError):
        app.add_exception_handler(kind, _data)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ORJSONResponse:
        return unexpected(request, exc)
