"""Many rows in one statement, and several statements in one round trip, for the write paths that
handle batches (a group commit of sends).

PostgreSQL: the rows travel as one array per column through ``unnest()``, so the statement's text is
the same whatever the number of rows: psycopg parses it once and the server prepares it once. (A
multi-VALUES insert is a new, uncached statement for every batch size, which psycopg re-parses at a few
milliseconds each; executemany is one pipelined statement per row.) SQLite runs in-process with no
round trips, so SQLAlchemy's executemany serves it. Column values go through each column type's own
bind processing, so JSON, UTC timestamps and the rest are stored exactly as the ORM and Core store them.

A ``Round`` sends its statements together (one query string): the writer waits for the server once
per round instead of once per statement. Each wait is also a wait for the interpreter lock, which the
event loop holds most of the time under load: measured at 64 senders, a statement the server ran in
0.2 ms cost the writer 1.5-5 ms, so the number of waits, not the SQL, set the length of a batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, LargeBinary, String, Table, bindparam, insert, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TextClause

T = TypeVar("T")


class Later(Generic[T]):
    """A statement's outcome, readable once its round has been sent."""

    __slots__ = ("_get", "_value", "_ready")

    def __init__(self, get: Callable[[], T]) -> None:
        self._get, self._ready = get, False

    @classmethod
    def now(cls, value: T) -> Later[T]:
        later: Later[T] = cls(lambda: value)
        later._value, later._ready = value, True
        return later

    @property
    def value(self) -> T:
        if not self._ready:
            self._value, self._ready = self._get(), True
        return self._value


@dataclass(frozen=True)
class Query:
    """One query in two spellings: PostgreSQL text with its list parameters as arrays (``= ANY(CAST(:ids
    AS bigint[]))``, sent as array literals), and a statement for SQLite (lists as expanding IN)."""

    pg: TextClause
    other: Executable


class CommitUncertain(Exception):
    """A transaction's COMMIT failed without an answer: what it wrote may or may not be stored."""


def _unanswered(exc: Exception, raw: Any) -> bool:
    """Whether a round's COMMIT may have run although the round failed: the connection is gone (lost,
    or the server ended the session, perhaps after the commit was durable), or no answer came. An
    error the server answered on a live connection stopped the round where it occurred, before its
    COMMIT (or was the COMMIT's own failure, which rolled back)."""
    return bool(raw.closed or raw.broken or getattr(exc, "sqlstate", None) is None)


def restore_on_checkin(engine: Any) -> None:
    """Connections go back to ``engine``'s pool out of the autocommit mode a ``Round`` that begins puts
    them in (its transaction over by then: committed, or rolled back by the pool's reset). One that
    cannot be switched back (still in a transaction) is closed rather than reused."""
    from sqlalchemy import event

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is None or not getattr(dbapi_conn, "autocommit", False):
            return
        try:
            dbapi_conn.autocommit = False
        except Exception:
            record.invalidate()


class Round:
    """Statements sent to the database together. PostgreSQL: they are bound on the client (psycopg's
    own literal quoting) and sent as ONE query string, so the round costs one wait however many
    statements it holds, and every outcome is read after the round; SQLite: each runs at once.
    Statements go through the driver's cursor (PostgreSQL text with untyped parameters); a failure
    is raised as SQLAlchemy raises it (a DBAPIError naming the statements, never their values). With
    ``together=False`` each statement is sent (bound on the server) and answered at once.

    Why not a psycopg pipeline: it still waits on the socket after every statement it queues, and each
    of those waits gives the interpreter lock away to the event loop, which is what rounds avoid.

    A transaction's first and last round can carry its BEGIN (``begins``) and its COMMIT (``commits``),
    which psycopg would otherwise send as two more waits of their own. For the BEGIN the connection is
    in autocommit mode until the transaction ends (psycopg sends no BEGIN of its own then, and later
    statements run inside ours); it goes back to the pool in its usual mode (``restore_on_checkin``).
    ``commits`` is the transaction's ORM session: what it holds is flushed as the round begins, and
    nothing may be added to it during the round (it would be written after the COMMIT, on its own).
    A commit round that fails without an answer from the server (the connection lost) raises
    ``CommitUncertain``: the transaction may or may not have committed. SQLite: the session begins
    and commits as usual."""

    def __init__(self, conn: Connection, together: bool = True, *, begins: bool = False,
                 commits: Session | None = None) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self._together = together and self.pg
        self._begins = begins and self._together
        self._session = commits
        self._commits = commits is not None and self._together
        self._raw: Any = None
        self._queued: list[tuple[str, dict[str, Any]]] = []
        self._results: list[list[Any]] = []
        self._sent: list[str] = []

    def __enter__(self) -> Round:
        if self._session is not None:
            self._session.flush()
        if self.pg:
            self._raw = self.conn.connection.driver_connection
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        queued, self._queued = self._queued, []
        if et is not None or not (queued or self._commits):
            return
        session = self._session
        if self._commits and session is not None and (session.new or session.dirty or session.deleted):
            raise RuntimeError("ORM changes were made during the round that commits their transaction")
        import psycopg
        from psycopg.pq import TransactionStatus

        raw = self._raw
        begin = False
        try:
            statements = [psycopg.ClientCursor(raw).mogrify(sql, params) for sql, params in queued]
            begin = self._begins and raw.pgconn.transaction_status == TransactionStatus.IDLE
            if begin:
                if not raw.autocommit:
                    raw.autocommit = True  # psycopg sends no BEGIN of its own; ours is in the round
                statements.insert(0, "BEGIN")
            if self._commits:
                statements.append("COMMIT")
            cur = raw.cursor()
            cur.execute(";\n".join(statements))  # no parameters: the simple protocol, which takes several statements
            results = []
            while True:
                results.append(cur.fetchall() if cur.description is not None else [])
                if not cur.nextset():
                    break
        except psycopg.Error as exc:
            wrapped = self._wrapped(exc)
            uncertain = self._commits and _unanswered(exc, raw)  # did the COMMIT run?
            if raw.closed or raw.broken:  # as SQLAlchemy does for its own statements: the pool drops it
                self.conn.invalidate(exc)
            if uncertain:
                raise CommitUncertain() from wrapped
            raise wrapped from exc
        if len(results) != len(statements):  # one result per statement, or the round was not what it seemed
            problem = RuntimeError(f"a round of {len(statements)} statements gave {len(results)} results")
            if self._commits:  # its COMMIT may well have run
                raise CommitUncertain() from problem
            raise problem
        # A COMMIT in a transaction that had already failed is answered ROLLBACK, without an error.
        if self._commits and cur.statusmessage != "COMMIT":
            raise RuntimeError(f"the transaction ended in {cur.statusmessage} instead of COMMIT")
        self._results = results[1:] if begin else results

    def _wrapped(self, exc: Exception) -> Exception:
        """A driver error as SQLAlchemy raises it: the round's statements named, their values not."""
        import psycopg

        return sa_exc.DBAPIError.instance("; ".join(self._sent), None, exc, psycopg.Error, hide_parameters=True,
                                          dialect=self.conn.dialect)

    def _result(self, index: int) -> list[Any]:
        if index >= len(self._results):
            raise RuntimeError("a round's outcome was read before the round was sent")
        return self._results[index]

    def rows(self, query: Query | TextClause, params: Mapping[str, Any] | None = None) -> Later[list[Any]]:
        """The rows ``query`` returns (tuples), after the round."""
        params = dict(params or {})
        if not self.pg:
            stmt = query.other if isinstance(query, Query) else query
            result = self.conn.execute(stmt, params)
            return Later.now(list(result.all()) if result.returns_rows else [])
        stmt = query.pg if isinstance(query, Query) else query
        sql = _pg_sql(stmt, self.conn.dialect)
        for name, value in params.items():
            if isinstance(value, list | tuple):
                params[name] = array_literal(value)
        self._sent.append(sql)
        if self._together:
            index = len(self._queued)
            self._queued.append((sql, params))
            return Later(lambda: self._result(index))
        import psycopg

        cur = self._raw.cursor()
        try:
            cur.execute(sql, params)
        except psycopg.Error as exc:
            raise self._wrapped(exc) from exc
        return Later.now(cur.fetchall() if cur.description is not None else [])

    def run(self, query: Query | TextClause, params: Mapping[str, Any] | None = None) -> None:
        """A statement whose rows nobody reads."""
        self.rows(query, params)

    def lock(self, table: Table, key: str, keys: Sequence[int], *, skip_locked: bool = False) -> Later[set[int]]:
        """Lock these rows for update, in key order (the order ``bump`` locks in, so no deadlock), before
        reading what they guard; the keys locked. With ``skip_locked``, rows another transaction holds
        are left out instead of waited for. SQLite has one writer: its write transaction already holds
        everything."""
        if not self.pg or not keys:
            return Later.now(set(keys))
        rows = self.rows(_pg_lock(table, key, skip_locked), {"ids": sorted(keys)})
        return Later(lambda: {r[0] for r in rows.value})

    def bump(self, table: Table, key: str, counter: str, counts: Mapping[int, int], **also: Any
             ) -> Later[dict[int, int]]:
        """Add ``counts[k]`` to the ``counter`` column of the row whose ``key`` is k (setting the ``also``
        columns too); each row's new counter (so the k's range is new - count + 1 .. new). The counter
        rows are what make sequence numbers gap-free: PostgreSQL locks them in key order first, in one
        statement, so two writers never deadlock; SQLite (one writer) runs one statement per distinct
        count. Rows that do not exist are left out of the result."""
        # (A batch's counts are one per recipient: sorted, looked up and checked without a Python step each.)
        keys = sorted(counts) if counts and min(counts.values()) > 0 else sorted(k for k, n in counts.items() if n > 0)
        if not keys:
            return Later.now({})
        cols = tuple(sorted(also))
        if self.pg:
            rows = self.rows(_pg_bump(table, key, counter, cols),
                             {"ids": keys, "ns": list(map(counts.__getitem__, keys)), **also})
            return Later(lambda: dict(rows.value))
        by_count: dict[int, list[int]] = {}
        if len(distinct := set(counts.values())) == 1:  # a batch to one group: everyone's count is the same
            by_count[distinct.pop()] = keys
        else:
            for k in keys:
                by_count.setdefault(counts[k], []).append(k)
        if not cols and set(map(type, keys)) == {int}:
            # The keys as one JSON array parameter (json_each): a statement whose text is the same for
            # any number of keys, where an expanding IN is rendered again, key by key, for every call.
            sql = _sqlite_bump_json(table, key, counter)
            new: dict[int, int] = {}
            for n, group in by_count.items():
                new.update(self.conn.exec_driver_sql(sql, (n, "[" + ",".join(map(str, group)) + "]")).all())
            return Later.now(new)
        stmt = _sqlite_bump(table, key, counter, cols)
        return Later.now({k: v for n, group in by_count.items()
                          for k, v in self.conn.execute(stmt, {"ids": group, "n": n, **also})})

    def reserve_ids(self, table: Table, count: int) -> Later[list[int]]:
        """``count`` new ids for rows of ``table`` (an integer ``id`` key), in increasing order, so rows can
        name each other before any is inserted. SQLite: its write transaction is the only writer."""
        if count <= 0:
            return Later.now([])
        if self.pg:
            rows = self.rows(_pg_reserve(table), {"n": count})
            return Later(lambda: sorted(r[0] for r in rows.value))
        top = self.conn.execute(_sqlite_max_id(table)).scalar() or 0
        return Later.now(list(range(top + 1, top + 1 + count)))

    def insert_rows(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (all with the same keys)."""
        if rows:
            self.insert_columns(table, {col: [row[col] for row in rows] for col in rows[0]})

    def insert_columns(self, table: Table, columns: dict[str, list[Any]], *, ordered: bool = True) -> None:
        """Insert rows given column by column (equal lengths: row i is every column's i-th value), which
        spares a hot path building one dict per row. Rows that name each other take their ids from
        ``reserve_ids`` first. ``ordered=False``: the rows need not reach the table in this order (no
        sequence or trigger numbers them), which spares PostgreSQL sorting them."""
        cols = tuple(columns)
        if not cols or not columns[cols[0]]:
            return
        if not self.pg:
            plain = _sqlite_insert(table, cols, self.conn.dialect)
            if plain is None:  # a column left out has a Python-side default: SQLAlchemy's insert applies it
                self.conn.execute(insert(table), [dict(zip(cols, values, strict=True))
                                                  for values in zip(*columns.values(), strict=True)])
                return
            sql, procs = plain
            values = [[proc(v) for v in vals] if proc is not None else vals
                      for vals, proc in zip(columns.values(), procs, strict=True)]
            # One executemany of tuples: SQLAlchemy's insert() builds, checks and processes a dict per
            # row, which cost 3x the insert itself for a batch's event rows (one per recipient).
            self.conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
            return
        stmt, procs = _pg_insert(table, cols, self.conn.dialect, ordered)
        self.run(stmt, _arrays(columns, procs))

    def update_rows(self, table: Table, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
        """Update one row per dict: the ``keys`` columns find it, the other columns are set."""
        if not rows:
            return
        cols = tuple(rows[0])
        rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))  # row locks in one order
        if not self.pg:
            self.conn.execute(_sqlite_update(table, keys, cols), [{f"p_{c}": r[c] for c in cols} for r in rows])
            return
        stmt, procs = _pg_update(table, keys, cols, self.conn.dialect)
        self.run(stmt, _arrays({col: [row[col] for row in rows] for col in cols}, procs))


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``Round.insert_rows`` on its own."""
    with Round(conn, together=False) as r:
        r.insert_rows(table, rows)


def insert_columns(conn: Connection, table: Table, columns: dict[str, list[Any]]) -> None:
    """``Round.insert_columns`` on its own."""
    with Round(conn, together=False) as r:
        r.insert_columns(table, columns)


def update_rows(conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    """``Round.update_rows`` on its own."""
    with Round(conn, together=False) as r:
        r.update_rows(table, keys, rows)


@lru_cache(maxsize=64)
def _pg_sql(stmt: TextClause, dialect: Dialect) -> str:
    return str(stmt.compile(dialect=dialect))


@lru_cache(maxsize=16)
def _pg_reserve(table: Table) -> TextClause:
    return text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)")


@lru_cache(maxsize=16)
def _sqlite_max_id(table: Table) -> Any:
    return text(f"SELECT max(id) FROM {table.name}")


@lru_cache(maxsize=16)
def _pg_lock(table: Table, key: str, skip_locked: bool) -> TextClause:
    return text(f"SELECT {key} FROM {table.name} WHERE {key} = ANY(CAST(:ids AS bigint[])) ORDER BY {key} "
                f"FOR NO KEY UPDATE{' SKIP LOCKED' if skip_locked else ''}")


@lru_cache(maxsize=16)
def _pg_bump(table: Table, key: str, counter: str, cols: tuple[str, ...]) -> TextClause:
    sets = "".join(f", {c} = :{c}" for c in cols)
    return text(
        f"UPDATE {table.name} AS c SET {counter} = c.{counter} + v.n{sets} FROM "
        f"(SELECT {key} FROM {table.name} WHERE {key} = ANY(CAST(:ids AS bigint[])) ORDER BY {key} "
        f"FOR NO KEY UPDATE) AS l, "
        f"unnest(CAST(:ids AS bigint[]), CAST(:ns AS integer[])) AS v(k, n) "
        f"WHERE c.{key} = l.{key} AND v.k = l.{key} RETURNING c.{key}, c.{counter}")


@lru_cache(maxsize=16)
def _sqlite_bump_json(table: Table, key: str, counter: str) -> str:
    return (f"UPDATE {table.name} SET {counter} = {counter} + ? WHERE {key} IN (SELECT value FROM json_each(?)) "
            f"RETURNING {key}, {counter}")


@lru_cache(maxsize=64)
def _sqlite_insert(table: Table, cols: tuple[str, ...], dialect: Dialect) -> tuple[str, tuple[Any, ...]] | None:
    """The positional INSERT of these columns and each column's bind processor (as SQLAlchemy's insert
    would apply them); None when a column left out has a Python-side default, which only SQLAlchemy's
    insert() fills in."""
    if any(c.default is not None for c in table.c if c.key not in cols):
        return None
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({', '.join(quote(table.c[c].name) for c in cols)}) "
           f"VALUES ({', '.join('?' for _ in cols)})")
    return sql, tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in cols)


@lru_cache(maxsize=16)
def _sqlite_bump(table: Table, key: str, counter: str, cols: tuple[str, ...]) -> Any:
    values = {counter: table.c[counter] + bindparam("n"), **{c: bindparam(c) for c in cols}}
    return (update(table).where(table.c[key].in_(bindparam("ids", expanding=True))).values(values)
            .returning(table.c[key], table.c[counter]))


def _arrays(columns: dict[str, list[Any]], procs: tuple[Any, ...]) -> dict[str, str]:
    return {f"c{i}": array_literal([proc(v) for v in values] if proc is not None else values)
            for i, (values, proc) in enumerate(zip(columns.values(), procs, strict=True))}


def array_literal(values: Sequence[Any]) -> str:
    """``values`` as one PostgreSQL array literal (``{1,2,NULL}``, ``{"a \\"b\\"",NULL}``), cast to the
    column's array type by the statement. psycopg would adapt a list element by element in Python (a
    dumper call and an escape per element: the largest single cost of a batch of sends); a column of
    plain integers here is one C-level join, anything else one small expression per element."""
    if set(map(type, values)) == {int}:  # (bool is no int here; a C-level pass, not a Python step per element)
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join([_element(v) for v in values]) + "}"


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return '"' + value.isoformat() + '"'
    if isinstance(value, bytes | bytearray | memoryview):
        return '"\\\\x' + bytes(value).hex() + '"'
    raise TypeError(f"no array literal for {type(value).__name__}")


def _pg_columns(table: Table, cols: tuple[str, ...], dialect: Dialect) -> tuple[list[str], list[str], tuple[Any, ...]]:
    """For each column: the unnest() argument, the expression that reads it back, its bind processor."""
    args, reads, procs = [], [], []
    for i, name in enumerate(cols):
        col = table.c[name]
        is_json = isinstance(getattr(col.type, "impl", col.type), JSON)  # SealedJSON too (a JSON string)
        # Strings travel as text[] (a VARCHAR's length and collation are the column's, checked on insert).
        elem = "text" if is_json or isinstance(col.type, String) else col.type.compile(dialect=dialect)
        args.append(f"CAST(:c{i} AS {elem}[])")
        reads.append(f"CAST(v.c{i} AS json)" if is_json else f"v.c{i}")
        # JSON goes as text, serialised as SQLAlchemy serialises it (None as JSON null, as Core stores it).
        # Bytes go as they are (the driver's Binary wrapper is for a parameter, not an array element).
        procs.append(_json_dumps(dialect) if is_json else None if isinstance(col.type, LargeBinary)
                     else col.type.bind_processor(dialect))
    return args, reads, tuple(procs)


def _json_dumps(dialect: Dialect) -> Any:
    return getattr(dialect, "_json_serializer", None) or json.dumps


@lru_cache(maxsize=64)
def _pg_insert(table: Table, cols: tuple[str, ...], dialect: Dialect, ordered: bool = True
               ) -> tuple[TextClause, tuple[Any, ...]]:
    args, reads, procs = _pg_columns(table, cols, dialect)
    names = ", ".join(f"c{i}" for i in range(len(cols)))
    if not ordered:
        sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(reads)} "
               f"FROM unnest({', '.join(args)}) AS v({names})")
        return text(sql), procs
    # Rows are fed in ORDER BY ordinality, so ids drawn from the table's sequence follow the row order.
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(reads)} "
           f"FROM unnest({', '.join(args)}) WITH ORDINALITY AS v({names}, ord) ORDER BY ord")
    return text(sql), procs


@lru_cache(maxsize=64)
def _pg_update(table: Table, keys: tuple[str, ...], cols: tuple[str, ...], dialect: Dialect
               ) -> tuple[TextClause, tuple[Any, ...]]:
    args, reads, procs = _pg_columns(table, cols, dialect)
    names = ", ".join(f"c{i}" for i in range(len(cols)))
    sets = ", ".join(f"{c} = {r}" for c, r in zip(cols, reads, strict=True) if c not in keys)
    match = " AND ".join(f"t.{c} = {r}" for c, r in zip(cols, reads, strict=True) if c in keys)
    sql = (f"UPDATE {table.name} AS t SET {sets} FROM unnest({', '.join(args)}) AS v({names}) "
           f"WHERE {match}")
    return text(sql), procs


@lru_cache(maxsize=64)
def _sqlite_update(table: Table, keys: tuple[str, ...], cols: tuple[str, ...]) -> Any:
    where = [table.c[k] == bindparam(f"p_{k}") for k in keys]
    return update(table).where(*where).values({c: bindparam(f"p_{c}") for c in cols if c not in keys})
