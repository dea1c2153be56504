"""The search index's state row is made by whichever writer needs it first; two writers (two
processes' indexers, or an indexer and retention) that both find it missing must not fail."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import delete, func, select

from mixun.db.models_archive import SearchIndexState
from mixun.services.archive import _state
from tests.conftest import Env


def test_two_writers_making_the_index_state_row_at_once_both_get_it(env: Env) -> None:
    """Writer A re-creates the row and holds it uncommitted; writer B, meanwhile, finds no row it can
    use (on PostgreSQL it waits on A's lock, then sees the old row gone) and makes it too. B must come
    out holding the one row, not with a primary-key violation (issue 23: two indexers' race)."""
    db = env.rt.db
    outcome: dict[str, Any] = {}
    a_has_row = threading.Event()

    def writer_b() -> None:
        a_has_row.wait(10)
        try:
            with db.write() as s:
                outcome["b"] = _state(s, lock=True).id
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            outcome["b"] = exc

    b = threading.Thread(target=writer_b)
    b.start()
    with db.write() as s:
        s.execute(delete(SearchIndexState))
        assert _state(s, lock=True).id == 1
        a_has_row.set()
        time.sleep(0.5)  # B is waiting on A meanwhile (PostgreSQL: the row lock; SQLite: the write lock)
    b.join(30)
    assert outcome.get("b") == 1, outcome
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(SearchIndexState)).scalar() == 1
