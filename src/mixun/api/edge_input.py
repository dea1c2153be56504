"""What text the server accepts, decided once at the edge (docs/api.md "Input and errors").

No JSON string (value or key), no query-string value and no multipart form field or file name may
hold a NUL or a lone UTF-16 surrogate:
neither database can store them (PostgreSQL refuses NUL in text, a lone surrogate cannot be encoded as
UTF-8), so a request carrying one is a 422 before any route or service sees it. A surrogate pair
written as two escapes (``"\\ud83d\\ude00"``) is the character it encodes and is accepted.

The checks cost nothing for ordinary bodies: the JSON is parsed again only when it holds an escape
(``\\u``) or bytes of a UTF-8-encoded surrogate, which browsers never send for ordinary text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mixun.errors import MixunError

_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")  # U+D800..U+DFFF written as (invalid) UTF-8
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def is_json(headers: dict[bytes, bytes]) -> bool:
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return ctype == b"application/json" or ctype.endswith(b"+json")


def query_refused(query_string: bytes) -> str | None:
    """The name of a query parameter holding a NUL (``%00``), or None. Percent-encoded surrogates need
    no check here: the query is decoded as UTF-8 with replacement, so they arrive as U+FFFD."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    from urllib.parse import parse_qsl

    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "")
    return "query"


def json_refused(body: bytes) -> str | None:
    """Where the JSON body holds a string the databases cannot store ("text", "terms.0", or "body"
    when it is raw bytes), or None (see the module's text)."""
    if _SURROGATE_BYTES.search(body):
        return "body"
    if b"\\u" not in body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the framework answers 400 invalid_json
    return _bad_text_at(data)


def _bad_text_at(value: Any) -> str | None:
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        v, at = stack.pop()
        if isinstance(v, str):
            if _BAD_CHAR.search(v):
                return at or "body"
        elif isinstance(v, dict):
            for key, item in v.items():
                stack.append((key, at or "body"))
                stack.append((item, f"{at}.{key}" if at else str(key)))
        elif isinstance(v, list):
            stack.extend((item, f"{at}.{i}" if at else str(i)) for i, item in enumerate(v))
    return None


def refusal(field: str) -> dict[str, Any]:
    """The details of the 422 (validation_failed) for text refused at ``field``."""
    return {"field": field, "fields": [{"field": field, "problem": "invalid_text"}]}


def require_text(**fields: str | None) -> None:
    """Multipart form fields and file names (which the JSON check above never sees): a NUL or a lone
    surrogate in any of them is the same 422, naming the field, before anything is stored."""
    for name, value in fields.items():
        if value is not None and _BAD_CHAR.search(value):
            raise MixunError("validation_failed", **refusal(name))
