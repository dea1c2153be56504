"""The web client's routes: its page, its hashed assets, and the single-page catch-all (which answers
405 with ``Allow`` for a real API path called with another method, and 404 for the rest of ``api/``)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import Scope

from mixun.domain.roles import Perm
from mixun.errors import MixunError

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"


def mount_web(app: FastAPI) -> None:
    index = WEB_DIST / "index.html"
    assets = (WEB_DIST / "assets").resolve()

    def page() -> Any:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>Mixun 密讯</title>"
                            "<p>Web client not built: run <code>make install</code>.</p>")

    async def asset(name: str) -> Any:
        target = (assets / name).resolve()
        if not str(target).startswith(str(assets) + "/") or not target.is_file():
            raise MixunError("not_found")
        return FileResponse(target, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    async def spa(path: str, request: Request) -> Any:
        if request.method != "GET" or path.startswith("api/") or "." in path.rsplit("/", 1)[-1]:
            allowed = _allowed_methods(app, request.scope)
            if allowed:  # a real route with other methods (PUT on a collection): 405, not 404
                raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
            raise MixunError("not_found")
        return page()

    for fn in (page, asset, spa):
        fn.permission = Perm.PUBLIC  # type: ignore[union-attr]
    app.add_api_route("/", page, include_in_schema=False)
    app.add_api_route("/assets/{name:path}", asset, include_in_schema=False)
    app.add_api_route("/{path:path}", spa, include_in_schema=False,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods the routes at this request's path accept (the web client's catch-all aside)."""
    allowed: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        path, methods = route.path, route.methods
        if path and methods and path != "/{path:path}" and _path_regex(path).fullmatch(scope["path"]):
            allowed |= set(methods)
    return sorted(allowed)


@functools.lru_cache(maxsize=512)
def _path_regex(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]
