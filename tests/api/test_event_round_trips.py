"""The event log's database round trips: what a user would notice if one were added is slower delivery
under load (every send emits events) and slower resume after a reconnect (replay reads the log).

Writing events takes two rounds on PostgreSQL whatever their number (the counters bumped and payload
ids reserved, then payloads and recipients' rows inserted: ``db/bulk.py``); replay reads one batch in one
statement, and the counter in one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
from sqlalchemy import event
from sqlalchemy.orm import Session

from mixun.services import events
from mixun.services.runtime import Ctx
from tests.conftest import Env


@contextlib.contextmanager
def _statements(env: Env, s: Session) -> Iterator[list[str]]:
    """Every statement sent on ``s``'s connection while open (the background jobs' own are not counted):
    on PostgreSQL each call into the driver's cursor (a ``bulk.Round`` is one call however many
    statements it holds); on SQLite each statement SQLAlchemy runs."""
    sent: list[str] = []
    mine = s.connection().connection.driver_connection
    if env.rt.db.is_sqlite:
        engines = {env.rt.db.write_engine, env.rt.db.read_engine}

        def seen(conn: Any, _cur: Any, statement: str, *_a: Any) -> None:
            if conn.connection.driver_connection is mine:
                sent.append(statement)

        for engine in engines:
            event.listen(engine, "before_cursor_execute", seen)
        try:
            yield sent
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", seen)
        return
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted_execute(self: Any, query: Any, *a: Any, **kw: Any) -> Any:
        if self.connection is mine:
            sent.append(str(query))
        return execute(self, query, *a, **kw)

    def counted_executemany(self: Any, query: Any, *a: Any, **kw: Any) -> Any:
        if self.connection is mine:
            sent.append(str(query))
        return executemany(self, query, *a, **kw)

    psycopg.Cursor.execute, psycopg.Cursor.executemany = counted_execute, counted_executemany  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany  # type: ignore[method-assign]


def _emit(env: Env, items: list[events.Event]) -> int:
    ctx = Ctx(rt=env.rt, ip="127.0.0.1", client="tests")
    with env.rt.db.write() as s:
        with _statements(env, s) as sent:  # (the transaction begun first: its start is not the events' cost)
            events.emit_many(s, ctx, items)
        return len(sent)


def test_writing_events_costs_two_rounds_whatever_their_number(env: Env) -> None:
    """A batch of events for many people is written in as many round trips as one event for one person."""
    a = env.make_user("zhangsan", "张三")
    b = env.make_user("lisi", "李四")
    c = env.make_user("wangwu", "王五")
    d = env.make_user("zhaoliu", "赵六")
    one = _emit(env, [([a], "test.one", {"n": 1})])
    many = _emit(env, [([a, b, c], "test.many", {"n": 1}), ([b, d], "test.many", {"n": 2}),
                       ([a, b, c, d], "test.many", {"n": 3}), ([d, d, c], "test.many", {"n": 4})])
    if env.rt.db.is_sqlite:
        # In-process, no round trips: a bump per distinct count, the ids, then the two inserts.
        assert one == 4 and many <= 7, (one, many)
    else:
        assert (one, many) == (2, 2)
    with env.rt.db.read() as s:
        got = [(seq, orjson.loads(body)["n"]) for seq, body in events.read_events(s, d, 0)]
    assert got == [(1, 2), (2, 3), (3, 4)]


def test_replay_reads_a_batch_in_one_statement(env: Env) -> None:
    """Resuming after a reconnect reads the counter once and each batch of missed events once."""
    a = env.make_user("zhangsan", "张三")
    _emit(env, [([a], "test.replay", {"n": n}) for n in range(1, 31)])
    with env.rt.db.read() as s:
        with _statements(env, s) as sent:
            last = events.last_seq(s, a)
        assert (last, len(sent)) == (30, 1)
        with _statements(env, s) as sent:
            batch = events.read_events(s, a, 10, 15)
        assert len(sent) == 1
    assert [seq for seq, _ in batch] == list(range(11, 26))
    assert [orjson.loads(body)["n"] for _, body in batch] == list(range(11, 26))


def test_catch_ups_of_many_people_read_in_two_statements_with_what_each_read_alone_gives(env: Env) -> None:
    """The hub's catch-ups of one moment (a lost wake-up names a whole group) read the recipients' rows in
    one statement and the payloads in one, each payload once, and get what one read per person gets:
    the same events in the same order, the batch limit kept, a person whose first rows retention removed
    or who has nothing new read on their own."""
    from sqlalchemy import delete

    from mixun.db.models import UserEvent

    a = env.make_user("zhangsan", "张三")
    b = env.make_user("lisi", "李四")
    c = env.make_user("wangwu", "王五")
    d = env.make_user("zhaoliu", "赵六")
    _emit(env, [([a, b, c], "test.many", {"n": n}) for n in range(1, 21)])
    _emit(env, [([d], "test.one", {"n": n}) for n in range(1, 6)])
    wants = [(a, 0), (b, 7), (c, 19), (d, 2)]
    with env.rt.db.read() as s:
        alone = {(uid, after): events.read_events(s, uid, after, 10) for uid, after in wants}
        with _statements(env, s) as sent:
            together = events.read_events_many(s, wants, 10)
        assert len(sent) == 2, sent
    assert together == alone
    assert [seq for seq, _ in together[(a, 0)]] == list(range(1, 11))
    assert [orjson.loads(body)["n"] for _, body in together[(b, 7)]] == list(range(8, 18))
    assert [seq for seq, _ in together[(c, 19)]] == [20]

    with env.rt.db.write() as s:  # retention removed c's first events; d has nothing after 5
        s.execute(delete(UserEvent).where(UserEvent.user_id == c, UserEvent.event_seq <= 4))
    wants = [(a, 15), (c, 0), (d, 5)]
    with env.rt.db.read() as s:
        alone = {(uid, after): events.read_events(s, uid, after, 10) for uid, after in wants}
        together = events.read_events_many(s, wants, 10)
    assert together == alone
    assert [seq for seq, _ in together[(c, 0)]] == list(range(5, 15))
    assert together[(d, 5)] == []
