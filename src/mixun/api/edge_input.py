"""What text the server accepts, decided once at the edge (docs/api.md "Input and errors").

No JSON string (value or key) and no query-string value may hold a NUL or a lone UTF-16 surrogate:
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

_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")  # U+D800..U+DFFF written as (invalid) UTF-8
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def is_json(headers: dict[bytes, bytes]) -> bool:
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return ctype == b"application/json" or ctype.endswith(b"+json")


def query_refused(query_string: bytes) -> bool:
    """A NUL in the query string (``%00``). Percent-encoded surrogates need no check here: the query
    is decoded as UTF-8 with replacement, so they arrive as U+FFFD."""
    return b"%00" in query_string or b"\x00" in query_string


def json_refused(body: bytes) -> bool:
    """True when the JSON body holds a string the databases cannot store (see the module's text)."""
    if _SURROGATE_BYTES.search(body):
        return True
    if b"\\u" not in body:
        return False
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON: the framework answers 400 invalid_json
    return _holds_bad_text(data)


def _holds_bad_text(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _BAD_CHAR.search(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False
