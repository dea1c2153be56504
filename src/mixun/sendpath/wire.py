"""The wire format between a serving process and its writer process: named records with an explicit
``to_tuple``/``from_tuple``, each led by ``VERSION``. A writer restarted from newer code on disk (an
upgrade while the server runs) refuses a record of another version instead of misreading its fields.

Frames on the socket pair are ``(kind, body)``, length-prefixed and pickled (the pair is private to the
two processes): ``settings`` (parent → child, first), ``ready`` (child, once its runtime is built),
``sends`` (parent: ``[(request id, WireSend tuple), …]``), ``wake`` (child: a batch's wake-ups, already
serialised) and ``outcomes`` (child: ``[(request id, WireOutcome tuple), …]``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from mixun.db.engine import is_busy
from mixun.errors import MixunError
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services.runtime import Ctx, DlpOutcome, Principal, Runtime

VERSION = 1

SETTINGS, READY, SENDS, WAKE, OUTCOMES = "settings", "ready", "sends", "wake", "outcomes"


class WireError(ValueError):
    """A record this code cannot read (another version, or not a record)."""


def _check(data: tuple[Any, ...], fields: int) -> tuple[Any, ...]:
    if not isinstance(data, tuple) or not data or data[0] != VERSION:
        raise WireError(f"a wire record of version {data[0] if isinstance(data, tuple) and data else '?'}, "
                        f"expected {VERSION}")
    if len(data) != fields + 1:
        raise WireError(f"a wire record of {len(data) - 1} fields, expected {fields}")
    return data[1:]


class WireSend(NamedTuple):
    """A checked send as the stage thread hands it to the writer process: the caller, the request, and
    the DLP verdict already decided here (the writer process takes no rate token and asks no DLP)."""

    principal: Principal | None
    ip: str
    client: str
    locale: str
    conversation_id: int
    text: str
    client_id: str | None
    confirm: bool
    reply_to: int | None
    kind: str
    dlp_outcome: DlpOutcome | None

    @classmethod
    def of(cls, request: SendRequest) -> WireSend:
        ctx = request.ctx
        return cls(ctx.principal, ctx.ip, ctx.client, ctx.locale, request.conversation_id, request.text,
                   request.client_id, request.confirm, request.reply_to, request.kind, request.dlp_outcome)

    def to_tuple(self) -> tuple[Any, ...]:
        return (VERSION, *self)

    @classmethod
    def from_tuple(cls, data: tuple[Any, ...]) -> WireSend:
        return cls(*_check(data, len(cls._fields)))

    def request(self, rt: Runtime) -> SendRequest:
        """The send in the writer process (urgent sends and uploads never come this way)."""
        return SendRequest(Ctx(rt, self.principal, self.ip, self.client, self.locale), self.conversation_id,
                           self.text, client_id=self.client_id, confirm=self.confirm, reply_to=self.reply_to,
                           kind=self.kind, dlp_outcome=self.dlp_outcome, rate_checked=True)


class WireOutcome(NamedTuple):
    """A send's outcome as the writer process answers it: ``ok`` (view, created), ``error`` (a
    MixunError's code, its own (zh, en) message if any, its details) or ``failed`` (any other error,
    named only: its text may hold what a log must not)."""

    kind: str
    view: dict[str, Any] | None = None
    created: bool = False
    code: str = ""
    message: tuple[str, str] | None = None
    details: dict[str, Any] | None = None

    @classmethod
    def of(cls, outcome: SendOutcome) -> WireOutcome:
        if outcome.error is None and outcome.view is not None:
            return cls("ok", view=outcome.view, created=outcome.created)
        err = outcome.error
        if isinstance(err, MixunError):
            return cls("error", code=err.code, message=err.custom_message, details=err.details)
        if err is not None and is_busy(err):  # a lock the database would not wait for
            return cls("error", code="busy", details={})
        return cls("failed", code=type(err).__name__)

    def to_tuple(self) -> tuple[Any, ...]:
        return (VERSION, *self)

    @classmethod
    def from_tuple(cls, data: tuple[Any, ...]) -> WireOutcome:
        return cls(*_check(data, len(cls._fields)))

    def outcome(self) -> SendOutcome:
        if self.kind == "ok" and self.view is not None:
            return SendOutcome.sent(self.view, self.created)
        if self.kind == "error":
            return SendOutcome.failed(MixunError(self.code, self.message, **(self.details or {})))
        return SendOutcome.failed(RuntimeError(f"the send failed in the writer process ({self.code})"))
