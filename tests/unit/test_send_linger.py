"""The send queue's linger (sendpath/queue.py): at low rates a batch is held open for the sends that are
about to arrive, so several share one write transaction, without holding an urgent send, a closing
queue, or a sender that waits for each answer; sends keep their order, and a batch the writer process
receives in one frame is written as one batch.

No figure of time is asserted: every batch here closes on a count, an urgent send or the queue's close,
never on the clock (the linger is 60 s, longer than any test runs)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from mixun.sendpath import queue as sq
from mixun.sendpath.queue import Entry, SendQueue


class Recorder:
    """A writer that records each batch's tokens; the first batch waits until ``release`` is set, so
    what is put meanwhile is queued when the writer next takes a batch."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.release = threading.Event()
        self.first_taken = threading.Event()
        self.changed = threading.Condition()

    def write(self, batch: list[Entry], final: bool) -> list[Entry]:
        if not self.batches:
            self.first_taken.set()
            assert self.release.wait(30)
        with self.changed:
            self.batches.append([e.token for e in batch])
            self.changed.notify_all()
        return []

    def close(self, timeout: float = 30.0) -> None:
        return None

    def wait_for(self, n: int) -> list[list[Any]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.batches) >= n, 30), self.batches
            return list(self.batches)


def _entry(token: Any, urgent: bool = False) -> Entry:
    return Entry(SimpleNamespace(urgent=urgent), lambda outcomes: None, token)  # type: ignore[arg-type]


def _blocked(linger: float) -> tuple[SendQueue, Recorder]:
    """A queue whose writer is busy with a first batch ("w"), as at the moment sends queue up."""
    rec = Recorder()
    q = SendQueue(rec, linger=linger)
    q.put(_entry("w"))
    assert rec.first_taken.wait(30)
    return q, rec


def test_sends_arriving_often_share_one_batch_up_to_its_bound() -> None:
    q, rec = _blocked(linger=60.0)
    for i in range(3):  # arriving at a high rate: the mean gap is far below the linger
        q.put(_entry(i))
    rec.release.set()
    # The batch that took 0..2 stays open for the next sends, up to LINGER_ENOUGH (more only if they
    # had queued before it was taken).
    for i in range(3, 40):
        q.put(_entry(i))
    batches = rec.wait_for(2)
    assert batches[0] == ["w"]
    assert len(batches[1]) >= sq.LINGER_ENOUGH
    q.close()
    assert [t for b in rec.batches[1:] for t in b] == list(range(40))  # every send once, in order


def test_an_urgent_send_closes_the_batch_it_joins() -> None:
    q, rec = _blocked(linger=60.0)
    q.put(_entry("a"))
    q.put(_entry("b"))
    rec.release.set()
    q.put(_entry("urgent", urgent=True))
    assert rec.wait_for(2)[1] == ["a", "b", "urgent"]  # not held for the minute the linger allows
    q.put(_entry("c", urgent=True))  # a batch that starts with an urgent send is written at once
    assert rec.wait_for(3)[2] == ["c"]
    q.close()


def test_closing_the_queue_ends_a_linger_and_writes_what_it_holds() -> None:
    q, rec = _blocked(linger=60.0)
    q.put(_entry("a"))
    q.put(_entry("b"))
    rec.release.set()
    q.put(_entry("c"))
    q.close()  # does not wait out the linger
    assert [t for b in rec.batches[1:] for t in b] == ["a", "b", "c"]


def test_no_linger_when_sends_arrive_seldom_or_it_is_off() -> None:
    rec = Recorder()
    rec.release.set()
    q = SendQueue(rec, linger=60.0)
    q.put(_entry("only"))  # the first send: no gap measured yet, so nothing is expected
    assert rec.wait_for(1) == [["only"]]
    q.close()
    off = SendQueue(Recorder(), linger=0.0)
    off._gap = 0.0  # sends arriving back to back
    assert not off._lingers([_entry("a")], 1)


def test_a_linger_that_gathered_nothing_turns_lingering_off_for_a_while() -> None:
    """A sender that waits for each answer sends nothing while its send is held: after one such linger
    the next LINGER_BACKOFF batches start at once."""
    q = SendQueue(Recorder(), linger=0.001)
    q._gap = 0.0001
    q._last_put = time.monotonic()
    batch = [_entry("a")]
    assert q._lingers(batch, 1)
    assert q._gather(batch) == (0, False) and batch == [batch[0]]
    assert [q._lingers(batch, 1) for _ in range(sq.LINGER_BACKOFF)] == [False] * sq.LINGER_BACKOFF
    assert q._lingers(batch, 1)
    # A batch already as large as the linger's bound is not held.
    assert not q._lingers([_entry(i) for i in range(sq.LINGER_ENOUGH)], sq.LINGER_ENOUGH)


def test_a_frame_put_at_once_is_one_batch() -> None:
    """The writer process puts each frame from the serving process with put_many: the writer takes it
    whole, not its first send alone."""
    q, rec = _blocked(linger=0.0)
    q.put_many([_entry(i) for i in range(5)])
    q.put_many([])
    rec.release.set()
    assert rec.wait_for(2)[1] == [0, 1, 2, 3, 4]
    q.close()
