"""Columns that hold message text sealed under a data key (``keystore.DataKeyRing``).

A sealed value is a string starting with ``PREFIX`` (a control character user text never holds); the
column type opens it on every read, ORM or Core, so every reader of ``messages.text``,
``message_versions.text``, ``event_payloads.body`` and ``drafts.text`` gets the text as before. Rows
written before encryption (plain text) read unchanged. A text whose data key was destroyed (retention's
crypto-shredding) reads as ``Unreadable``: a string that says so, which views can recognise.

The key rings are registered by whoever builds a runtime (one per process in production; tests make
several, each with its own key directory), since this layer cannot import the key store.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any, Protocol

from sqlalchemy import JSON, Text
from sqlalchemy.types import TypeDecorator

PREFIX = "\x1fm1"
DESTROYED_TEXT = "〔此内容已按保留期限销毁，无法读取 This content was destroyed under the retention policy and cannot be read〕"


class Ring(Protocol):
    def open(self, value: str) -> str | None: ...


class Unreadable(str):
    """The text of a message whose data key is gone: destroyed by retention, or not in this key store."""

    __slots__ = ()


_RINGS: list[weakref.ref[Any]] = []
_LOCK = threading.Lock()


def register(ring: Ring) -> None:
    with _LOCK:
        _RINGS[:] = [r for r in _RINGS if r() is not None and r() is not ring]
        _RINGS.insert(0, weakref.ref(ring))


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def open_text(value: str) -> str:
    """The text of a sealed value (``Unreadable`` when no registered ring holds its key)."""
    for ref in tuple(_RINGS):  # a snapshot (register replaces the list's items under the lock)
        ring = ref()
        if ring is None:
            continue
        text = ring.open(value)
        if text is not None:
            return str(text)
    return Unreadable(DESTROYED_TEXT)


class SealedText(TypeDecorator[str]):
    """Text stored sealed (or, from before encryption, plain); opened on read."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        if value is not None and value.startswith(PREFIX):
            return open_text(value)
        return value


class SealedJSON(TypeDecorator[Any]):
    """JSON stored as a sealed string (a JSON string value) when it holds text; opened and parsed on read.
    Values from before encryption (plain JSON) read unchanged."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: object) -> Any:
        if isinstance(value, str) and value.startswith(PREFIX):
            text = open_text(value)
            return [] if isinstance(text, Unreadable) else json.loads(text)
        return value
