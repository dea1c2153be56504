"""JSON responses serialised with orjson (fast, and Chinese text kept as UTF-8), and file downloads."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import JSONResponse, Response


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def file_response(data: bytes, mime: str, name: str, *, inline: bool = True, cache: str = "no-store"
                  ) -> Response:
    """A stored file: its Chinese name kept (RFC 5987), never sniffed into something else, and never
    kept in the browser's (or a proxy's) cache: a file of a conversation must not outlive the session
    on the disk of a shared branch PC."""
    return Response(data, media_type=mime, headers=file_headers(name, inline=inline, cache=cache))


def file_headers(name: str, *, inline: bool = False, cache: str = "no-store") -> dict[str, str]:
    """The headers of every file download, whole or streamed (``file_response``'s reasons)."""
    disposition = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
