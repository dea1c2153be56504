"""The send writer's database round trips per batch on PostgreSQL: three, whatever the batch holds.

Every wait for the database is also a wait for the interpreter lock (BENCHMARKS.md,
docs/adr/0003-writer-process.md), so the number of waits, not the SQL, sets the length of a batch;
``db/bulk.py`` exists to keep it at three (lock and read; number; store, with BEGIN in the first and
COMMIT in the last). A change that adds a round slows every send, and fails here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mixun.sendpath import batch
from mixun.sendpath.request import SendRequest
from tests.conftest import _pg_available, build_env, need
from tests.helpers import group

pytestmark = pytest.mark.postgres


@contextmanager
def _waits() -> Iterator[list[str]]:
    """Every wait of this thread's psycopg connections for the server. psycopg runs each exchange (a
    query, a BEGIN, a COMMIT) as a generator through ``Connection.wait``; one that never waits for the
    socket sent nothing (a change of autocommit, the pool's rollback of an idle connection)."""
    seen: list[str] = []
    me = threading.get_ident()
    real = psycopg.Connection.wait

    def watched(gen: Any, name: str) -> Any:
        try:
            ready = next(gen)
        except StopIteration as stop:
            return stop.value
        seen.append(name)
        while True:
            got = yield ready
            try:
                ready = gen.send(got)
            except StopIteration as stop:
                return stop.value

    def counting(self: psycopg.Connection[Any], gen: Any, *args: Any, **kw: Any) -> Any:
        if threading.get_ident() == me:
            gen = watched(gen, getattr(gen, "__name__", "?"))
        return real(self, gen, *args, **kw)

    psycopg.Connection.wait = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        psycopg.Connection.wait = real  # type: ignore[method-assign]


def _ctx(env: Any, uid: int) -> Any:
    from mixun.db.models import User
    from mixun.services.auth import _principal
    from mixun.services.runtime import Ctx

    with env.rt.db.read() as s:
        return Ctx(rt=env.rt, principal=_principal(s.get(User, uid), None, False), ip="127.0.0.1", client="tests")


def test_a_batch_of_sends_waits_for_postgresql_three_times(tmp_path: Path) -> None:
    """Eight sends from three people in three conversations (client_ids, a reply) are written with
    three round trips to PostgreSQL: a send waits no longer for the database as features are added."""
    need("postgresql", _pg_available())
    env, close = build_env(tmp_path, "postgresql")
    try:
        people = [env.person(f"user{i}", f"同事{i}") for i in range(3)]
        ids = [uid for uid, _ in people]
        convs = [group(env, people[0][1], f"群{i}", ids[1:]) for i in range(3)]
        ctxs = [_ctx(env, uid) for uid in ids]

        def requests(tag: str, reply_to: int | None = None) -> list[SendRequest]:
            out = [SendRequest(ctxs[i % 3], convs[i % 3], f"第{i}条 {tag}", client_id=f"{tag}-{i}")
                   for i in range(7)]
            out.append(SendRequest(ctxs[0], convs[0], f"回复 {tag}", reply_to=reply_to))
            return out

        warm = batch.write_batch(requests("warm"))  # the first batch on a connection may fetch type information
        assert warm[0].view is not None, warm[0].error
        counted = requests("counted", reply_to=warm[0].view["id"])
        with _waits() as waits:
            outcomes = batch.write_batch(counted)
        assert all(o.view is not None and o.created for o in outcomes), [o.error for o in outcomes]
        assert len(waits) == 3, waits
    finally:
        close()
