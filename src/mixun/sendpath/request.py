"""What goes into the send path and what comes out: a frozen ``SendRequest`` and a ``SendOutcome``
returned by value. Nothing else crosses the path's boundary (the wire carries both, ``wire.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mixun.services.runtime import Ctx, DlpOutcome


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class SendRequest:
    """One message to send: what the route (or the upload, the forward, the demo) knows.

    ``attachments`` are rows for new attachments whose blobs are already stored (uploads), inserted in
    the send's transaction. The last three fields are what the checks decided, stamped on a copy by the
    path itself (``checks.prepare``, a deferral) or given by a caller that decided them already:
    ``dlp_outcome`` the DLP verdict (an upload's file is judged on its own), ``rate_checked`` that the
    send's rate-limit token is taken (uploads take it before they scan and store anything; a deferred
    send is not charged again), ``retry_until`` the monotonic time after which a send deferred by a
    held conversation gets "busy"."""

    ctx: Ctx
    conversation_id: int
    text: str
    client_id: str | None = None
    urgent: bool = False
    confirm: bool = False
    reply_to: int | None = None
    kind: str = "text"
    attachments: tuple[dict[str, Any], ...] = ()
    dlp_outcome: DlpOutcome | None = None
    rate_checked: bool = False
    retry_until: float | None = None


@dataclass(frozen=True, eq=False, slots=True)
class SendOutcome:
    """How a send ended: ``view`` (the sender's view of the message) and ``created`` (False: the
    client_id was used already and this is the first message), or ``error``; or, while its conversation
    was held by another transaction, ``retry``: the checked request to write in a later batch."""

    view: dict[str, Any] | None = None
    created: bool = False
    error: BaseException | None = None
    retry: SendRequest | None = field(default=None, repr=False)

    @classmethod
    def sent(cls, view: dict[str, Any], created: bool = True) -> SendOutcome:
        return cls(view=view, created=created)

    @classmethod
    def failed(cls, error: BaseException) -> SendOutcome:
        return cls(error=error)

    @classmethod
    def deferred(cls, retry: SendRequest) -> SendOutcome:
        return cls(retry=retry)

    @property
    def settled(self) -> bool:
        return self.retry is None

    def unwrap(self) -> tuple[dict[str, Any], bool]:
        """(view, created), or the send's error raised."""
        if self.error is not None:
            raise self.error
        if self.view is None:
            raise RuntimeError("send left without an outcome")
        return self.view, self.created
