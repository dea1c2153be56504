"""The records a serving process and its writer process exchange (sendpath/wire.py): a send and its
outcome arrive as sent, and a record of another version is refused instead of misread (a writer
restarted from newer code on disk while the server runs)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.sendpath import wire
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services.runtime import Ctx, DlpOutcome, Principal


def _request(rt: Any = None) -> SendRequest:
    principal = Principal(user_id=7, username="zhangsan", name="张三", roles=("employee",),
                          perms=frozenset({Perm.CHAT}), session_id=3)
    verdict = DlpOutcome(action="mask", deliver_text="卡号 ****", findings=[{"kind": "bank_card"}],
                         original_enc=b"\x01\x02")
    return SendRequest(Ctx(rt, principal, "10.0.0.1", "web", "en"), 42, "卡号 ****", client_id="c-1",
                       confirm=True, reply_to=9, kind="text", dlp_outcome=verdict, rate_checked=True)


def test_a_send_crosses_the_wire_unchanged() -> None:
    """Every field the writer process needs arrives, through the pickled frame, as the server sent it."""
    sent = _request()
    data = pickle.loads(pickle.dumps(wire.WireSend.of(sent).to_tuple()))
    rt = object()
    got = wire.WireSend.from_tuple(data).request(rt)  # type: ignore[arg-type]
    assert got.ctx.rt is rt and got.ctx.principal == sent.ctx.principal
    assert (got.ctx.ip, got.ctx.client, got.ctx.locale) == ("10.0.0.1", "web", "en")
    assert (got.conversation_id, got.text, got.client_id, got.confirm, got.reply_to, got.kind) == \
        (42, "卡号 ****", "c-1", True, 9, "text")
    assert got.dlp_outcome == sent.dlp_outcome
    assert got.rate_checked and not got.urgent and got.attachments == ()  # its token was taken by the server


def test_outcomes_cross_the_wire_unchanged() -> None:
    """A view, a registered error with its own (zh, en) text and details, and any other failure (named
    only) come back as the writer process settled them."""
    def across(outcome: SendOutcome) -> SendOutcome:
        data = pickle.loads(pickle.dumps(wire.WireOutcome.of(outcome).to_tuple()))
        return wire.WireOutcome.from_tuple(data).outcome()

    ok = across(SendOutcome.sent({"id": 5, "text": "你好"}, created=False))
    assert ok.unwrap() == ({"id": 5, "text": "你好"}, False)
    refused = across(SendOutcome.failed(MixunError("validation_failed", ("中文", "English"), field="reply_to")))
    assert isinstance(refused.error, MixunError) and refused.error.code == "validation_failed"
    assert refused.error.message_for("en") == "English" and refused.error.details == {"field": "reply_to"}
    failed = across(SendOutcome.failed(KeyError("secret value")))
    assert isinstance(failed.error, RuntimeError) and "KeyError" in str(failed.error)
    assert "secret value" not in str(failed.error)


@pytest.mark.parametrize("record", [wire.WireSend, wire.WireOutcome])
def test_a_record_of_another_version_is_refused(record: Any) -> None:
    """A record from a writer or server of another version is an error, never read field by field."""
    data = (wire.WireSend.of(_request()).to_tuple() if record is wire.WireSend
            else wire.WireOutcome.of(SendOutcome.sent({"id": 1})).to_tuple())
    with pytest.raises(wire.WireError):
        record.from_tuple((wire.VERSION + 1, *data[1:]))
    with pytest.raises(wire.WireError):
        record.from_tuple((*data, "an extra field"))
    assert record.from_tuple(data) == record(*data[1:])


def test_a_request_never_changes() -> None:
    """The send path stamps checked copies; the caller's request stays as it was built."""
    request = SendRequest(Ctx(None), 1, "你好")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        request.text = "改了"  # type: ignore[misc]
