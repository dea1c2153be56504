"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with synchronous=FULL, so a commit that returned is on disk before any 201
goes back. Write transactions start with BEGIN IMMEDIATE: SQLite has one writer, and taking the
write lock up front avoids the deadlock of two readers upgrading at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("mixun.db")


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url,
        hide_parameters=True,  # a database error's text (logged with its traceback) names no values
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=32,
        pool_timeout=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _set_lock_timeout(engine: Engine, seconds: float) -> None:
    """Every connection waits at most ``seconds`` for a lock: a transaction stuck while holding a row
    (an operator's forgotten session, say) makes the requests that need it fail with "busy" (503)
    instead of holding them, and the workers they occupy, for as long as it lasts. Set per connection
    on connect, so options given in the database URL (search_path, say) are kept."""
    millis = max(1, int(seconds * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {millis}")
        dbapi_conn.commit()


_CURRENT_WRITE: ContextVar[Session | None] = ContextVar("mixun_current_write", default=None)


class Database:
    """Holds the engines; hands out one transaction per service call."""

    def __init__(self, url: str, lock_timeout: float = 5.0) -> None:
        """``lock_timeout``: PostgreSQL's, in seconds; 0 leaves the server's setting (no limit by default)."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, "BEGIN")
        else:
            # No pre-ping round trip on every checkout; a dead connection fails its statement and is
            # replaced (pool_recycle bounds how long one lives).
            # hide_parameters: a database error's text (logged with its traceback) names no values:
            # message text, hashes and identity numbers stay out of the logs.
            self.write_engine = create_engine(url, pool_size=20, max_overflow=20, pool_recycle=1800,
                                              hide_parameters=True)
            if lock_timeout > 0:
                _set_lock_timeout(self.write_engine, lock_timeout)
            from mixun.db.bulk import restore_on_checkin

            restore_on_checkin(self.write_engine)
            self.read_engine = self.write_engine
        # SQLite has one writer. Writers wait on this lock (woken the moment it is free) rather than in
        # SQLite's busy handler, which sleeps in growing steps while the file lock may already be free.
        self._write_lock: threading.Lock | None = threading.Lock() if self.is_sqlite else None
        # The key of the search postings' keyed hashes (set by the runtime from its key store); sessions
        # carry it (session.info["search_key"]) so the index and its queries hash terms alike.
        self.search_key: Callable[[], bytes] | None = None
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, info={"database": self})
        self._read = sessionmaker(self.read_engine, expire_on_commit=False, info={"database": self})
        # quick_read: PostgreSQL without a transaction around the statements (see there); SQLite as read.
        quick_engine = (self.read_engine if self.is_sqlite
                        else self.read_engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._quick = sessionmaker(quick_engine, expire_on_commit=False, info={"database": self})
        # Refused on both databases, so a write slipped into a quick read fails in SQLite's tests too
        # (there it would only be rolled back; on PostgreSQL it would commit on its own).
        event.listen(self._quick, "do_orm_execute", _refuse_writes)
        event.listen(self._quick, "before_flush", _refuse_flush)
        if not self.is_sqlite:
            # Below the ORM too: textual SQL and Connection.execute skip do_orm_execute. The listener is
            # the autocommit engine's own (execution_options makes a copy), not the write engine's.
            event.listen(quick_engine, "before_cursor_execute", _refuse_cursor_writes)

    @contextmanager
    def write(self, after_commit: list[Callable[[], None]] | None = None) -> Iterator[Session]:
        """One write transaction; callbacks queued on the session run only after the commit."""
        session = self._write()
        session.info["after_commit"] = after_commit if after_commit is not None else []
        with self._write_lock or nullcontext():
            token = _CURRENT_WRITE.set(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                _CURRENT_WRITE.reset(token)
                session.close()
        # The transaction has committed: what follows (wake-ups, notices, the audit head file, cache
        # invalidation) must not turn it into an error for the caller, or make a caller write it again.
        for callback in session.info["after_commit"]:
            try:
                callback()
            except Exception:
                log.exception("an after-commit step failed; the transaction itself committed")

    @staticmethod
    def current_write() -> Session | None:
        """The write transaction this thread (or task) is inside, if any: for a look-up that must see what
        the transaction wrote so far (a conversation created in it), flushed rows only."""
        return _CURRENT_WRITE.get()

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read()
        try:
            yield session
        finally:
            session.close()  # ends the read transaction; loaded objects stay usable (not expired)

    @contextmanager
    def quick_read(self) -> Iterator[Session]:
        """A read of the busiest routes (history, the conversation list, the status poll), for code that
        only SELECTs. On PostgreSQL its statements run in autocommit mode: no BEGIN and no ROLLBACK,
        two round trips fewer per request. The answers are those of ``read``: at PostgreSQL's READ
        COMMITTED (the isolation Mixun runs at) every statement of a transaction takes a snapshot of
        its own anyway, so the transaction around them gave no common snapshot. A write through it is
        refused (it would commit on its own). SQLite: ``read`` (its transaction is in-process)."""
        session = self._quick()
        try:
            yield session
        finally:
            session.close()

    def answers(self) -> bool:
        """Whether the database answers a trivial query (the health probes); raises when it cannot."""
        with self.read() as s:
            return bool(s.execute(text("SELECT 1")).scalar() == 1)

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def _refuse_writes(state: Any) -> None:
    """An ORM or Core INSERT, UPDATE or DELETE in a quick_read (textual SQL is the caller's to keep read-only)."""
    if state.is_insert or state.is_update or state.is_delete:
        raise RuntimeError("quick_read is for SELECTs only; use Database.write")


_READ_VERBS = ("SELECT", "WITH", "SHOW")


def _refuse_cursor_writes(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any,
                          _executemany: bool) -> None:
    """Any statement of a quick read that is not a query, however it was sent."""
    if (context is not None and (context.isinsert or context.isupdate or context.isdelete)) \
            or not statement.lstrip(" (\n\t").upper().startswith(_READ_VERBS):
        raise RuntimeError("quick_read is for SELECTs only; use Database.write")


def _refuse_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("quick_read is for SELECTs only; use Database.write")


def is_busy(exc: BaseException) -> bool:
    """The database refused to wait any longer for a lock (PostgreSQL's lock_timeout, SQLite's busy
    timeout): the request may be repeated; nothing of it was written."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) == "55P03":  # lock_not_available
        return True
    return type(orig).__name__ == "OperationalError" and "database is locked" in str(orig)


def affected(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE touched (``Session.execute`` is typed as returning a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def on_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` after this session's transaction commits (never if it rolls back)."""
    session.info.setdefault("after_commit", []).append(callback)
