"""The hub holds an event that arrives ahead of a gap for the gap's own wake-up (two writers' commits
published in the other order) instead of reading the database; a gap that stays reads the rows, one
read for all the connections that need one at that moment.

No sockets, database or timing: the connections write into a list (the direct path), the reads are a
stand-in that records its calls, and the reorder window's expiry is called rather than waited for."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from mixun.realtime import hub as hub_mod
from mixun.realtime.hub import Connection, Hub
from mixun.realtime.presence import LocalPresence
from tests.helpers import run_async


class _Proto:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send_texts_now(self, frames: list[bytes]) -> bool:
        self.frames += [orjson.loads(f) for f in frames]
        return True


class _WS:
    def __init__(self) -> None:
        self.proto = _Proto()
        self._send = self.proto.send_texts_now


def _payload(n: int) -> str:
    return orjson.dumps({"type": "message.created", "conversation_id": 1, "message": {"id": n}}).decode()


def _setup(users: int = 2) -> tuple[Hub, list[Connection], list[tuple[int, int]]]:
    hub: Any = Hub(None, LocalPresence(), 1000)  # type: ignore[arg-type]
    reads: list[tuple[int, int]] = []
    hub.calls = 0

    def read_events(wants: list[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[int, str]]]:
        hub.calls += 1
        reads.extend(wants)  # the database holds events 1..5 for everyone
        return {(uid, after): [(seq, _payload(seq)) for seq in range(after + 1, 6)] for uid, after in wants}

    hub.read_events = read_events
    conns = []
    for uid in range(1, users + 1):
        conn = Connection(hub, _WS(), uid, uid, 1)  # type: ignore[arg-type]
        hub.add(conn)
        conns.append(conn)
    return hub, conns, reads


def _wake(hub: Hub, seq: int, users: list[int]) -> None:
    hub.on_bus(orjson.dumps({"recipients": [[uid, seq] for uid in users], "payload": _payload(seq)}))
    hub.flush()


def _seqs(conn: Connection) -> list[int]:
    return [f["event_seq"] for f in conn.ws.proto.frames]  # type: ignore[attr-defined]


async def _settle(conn: Connection) -> None:
    for _ in range(1000):  # the catch-up runs in a thread; let it finish (no time is asserted)
        if not conn.catching_up:
            break
        await asyncio.sleep(0.001)
    Hub.flush(conn.hub)


def test_wake_ups_in_the_other_order_are_delivered_in_order_without_a_read() -> None:
    async def run() -> None:
        hub, conns, reads = _setup()
        _wake(hub, 2, [1, 2])
        _wake(hub, 3, [1, 2])
        assert [_seqs(c) for c in conns] == [[], []]  # held behind the gap
        _wake(hub, 1, [1, 2])
        assert [_seqs(c) for c in conns] == [[1, 2, 3], [1, 2, 3]]
        assert all(c.ahead is None and c.reorder is None for c in conns)
        _wake(hub, 4, [1, 2])
        assert [_seqs(c) for c in conns] == [[1, 2, 3, 4], [1, 2, 3, 4]]
        assert reads == []

    run_async(run())


def test_a_gap_that_stays_reads_the_rows_once_and_delivers_everything_in_order() -> None:
    async def run() -> None:
        hub, [conn], reads = _setup(1)
        _wake(hub, 1, [1])
        _wake(hub, 3, [1])  # event 2's wake-up never comes
        _wake(hub, 4, [1])
        assert _seqs(conn) == [1]
        conn._reorder_expired()  # noqa: SLF001 - the window's end, called rather than waited for
        await _settle(conn)
        assert reads == [(1, 1)]
        assert _seqs(conn) == [1, 2, 3, 4, 5]
        assert conn.ahead is None and conn.next_seq == 6
        _wake(hub, 5, [1])  # already delivered by the read: not twice
        _wake(hub, 6, [1])
        assert _seqs(conn) == [1, 2, 3, 4, 5, 6]

    run_async(run())


def test_too_many_held_events_read_at_once() -> None:
    async def run() -> None:
        hub, [conn], reads = _setup(1)
        for seq in range(2, hub_mod.REORDER_MAX + 3):
            _wake(hub, seq, [1])
        await _settle(conn)
        assert reads and reads[0] == (1, 0)
        assert conn.ahead is None and conn.reorder is None
        assert _seqs(conn)[:5] == [1, 2, 3, 4, 5]

    run_async(run())


def test_a_resume_during_a_held_gap_reads_and_drops_what_was_held() -> None:
    async def run() -> None:
        hub, [conn], reads = _setup(1)
        _wake(hub, 3, [1])
        conn.start_catchup()  # what a resume (or the bus's resync) does
        assert conn.ahead is None and conn.reorder is None
        await _settle(conn)
        assert reads == [(1, 0)]
        assert _seqs(conn) == [1, 2, 3, 4, 5]

    run_async(run())


def test_a_closed_connection_keeps_no_timer() -> None:
    async def run() -> None:
        hub, [conn], _reads = _setup(1)
        _wake(hub, 2, [1])
        assert conn.reorder is not None
        hub.remove(conn)
        assert conn.ahead is None and conn.reorder is None

    run_async(run())


def test_catch_ups_of_one_moment_share_one_read() -> None:
    async def run() -> None:
        hub, conns, reads = _setup(3)
        twin = Connection(hub, _WS(), 1, 99, 1)  # type: ignore[arg-type] - a second socket of user 1
        hub.add(twin)
        conns[2].next_seq = 3  # already has 1 and 2
        for conn in (*conns, twin):
            conn.start_catchup()  # what the bus's resync does to every connection
        for conn in (*conns, twin):
            await _settle(conn)
        assert hub.calls == 1  # type: ignore[attr-defined]
        assert sorted(reads) == [(1, 0), (2, 0), (3, 2)]  # user 1's two sockets: one key
        assert [_seqs(c) for c in (*conns, twin)] == [[1, 2, 3, 4, 5]] * 2 + [[3, 4, 5], [1, 2, 3, 4, 5]]

    run_async(run())
