"""Many rows in one statement, for the write paths that handle batches (a group commit of sends).

PostgreSQL: the rows travel as one array per column through ``unnest()``, so the statement's text is
the same whatever the number of rows: psycopg parses it once and the server prepares it once. (A
multi-VALUES insert is a new, uncached statement for every batch size, which psycopg re-parses at a few
milliseconds each; executemany is one pipelined statement per row.) SQLite runs in-process with no
round trips, so SQLAlchemy's executemany serves it. Column values go through each column type's own
bind processing, so JSON, UTC timestamps and the rest are stored exactly as the ORM and Core store them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, String, Table, bindparam, insert, text, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import TextClause


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, returning_ids: bool = False
                ) -> list[int]:
    """Insert ``rows`` (all with the same keys); with ``returning_ids``, their new ids in row order."""
    if not rows:
        return []
    cols = tuple(rows[0])
    if conn.dialect.name != "postgresql":
        if returning_ids:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(conn.execute(stmt, list(rows)).scalars())
        conn.execute(insert(table), list(rows))
        return []
    stmt, procs = _pg_insert(table, cols, returning_ids, conn.dialect)
    result = conn.execute(stmt, _arrays(rows, cols, procs))
    # The SELECT feeds rows in ORDER BY ordinality, so the id sequence numbers them in that order (the
    # same guarantee SQLAlchemy's sort_by_parameter_order relies on); sorted ids are in row order.
    return sorted(result.scalars()) if returning_ids else []


def update_rows(conn: Connection, table: Table, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    """Update one row per dict: the ``keys`` columns find it, the other columns are set."""
    if not rows:
        return
    cols = tuple(rows[0])
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))  # row locks in one order
    if conn.dialect.name != "postgresql":
        conn.execute(_sqlite_update(table, keys, cols), [{f"p_{c}": r[c] for c in cols} for r in rows])
        return
    stmt, procs = _pg_update(table, keys, cols, conn.dialect)
    conn.execute(stmt, _arrays(rows, cols, procs))


def bump(conn: Connection, table: Table, key: str, counter: str, counts: Mapping[int, int], **also: Any
         ) -> dict[int, int]:
    """Add ``counts[k]`` to the ``counter`` column of the row whose ``key`` is k (setting the ``also``
    columns too); returns each row's new counter (so the k's range is new - count + 1 .. new). The
    counter rows are what make sequence numbers gap-free: PostgreSQL locks them in key order first, in
    one round trip, so two writers never deadlock; SQLite (one writer) runs one statement per distinct
    count. Rows that do not exist are left out of the result."""
    keys = sorted(k for k, n in counts.items() if n > 0)
    if not keys:
        return {}
    cols = tuple(sorted(also))
    if conn.dialect.name == "postgresql":
        stmt = _pg_bump(table, key, counter, cols)
        return dict(conn.execute(stmt, {"ids": keys, "ns": [counts[k] for k in keys], **also}).all())
    by_count: dict[int, list[int]] = {}
    for k in keys:
        by_count.setdefault(counts[k], []).append(k)
    stmt = _sqlite_bump(table, key, counter, cols)
    return {k: v for n, group in by_count.items() for k, v in conn.execute(stmt, {"ids": group, "n": n, **also})}


def lock(conn: Connection, table: Table, key: str, keys: Sequence[int]) -> None:
    """Lock these rows for update, in key order (the order ``bump`` locks in, so no deadlock), before
    reading what they guard. SQLite has one writer: its write transaction already holds everything."""
    if conn.dialect.name == "postgresql" and keys:
        conn.execute(_pg_lock(table, key), {"ids": sorted(keys)})


@lru_cache(maxsize=16)
def _pg_lock(table: Table, key: str) -> TextClause:
    return text(f"SELECT {key} FROM {table.name} WHERE {key} = ANY(:ids) ORDER BY {key} FOR NO KEY UPDATE")


@lru_cache(maxsize=16)
def _pg_bump(table: Table, key: str, counter: str, cols: tuple[str, ...]) -> TextClause:
    sets = "".join(f", {c} = :{c}" for c in cols)
    return text(
        f"UPDATE {table.name} AS c SET {counter} = c.{counter} + v.n{sets} FROM "
        f"(SELECT {key} FROM {table.name} WHERE {key} = ANY(:ids) ORDER BY {key} FOR NO KEY UPDATE) AS l, "
        f"unnest(CAST(:ids AS bigint[]), CAST(:ns AS integer[])) AS v(k, n) "
        f"WHERE c.{key} = l.{key} AND v.k = l.{key} RETURNING c.{key}, c.{counter}")


@lru_cache(maxsize=16)
def _sqlite_bump(table: Table, key: str, counter: str, cols: tuple[str, ...]) -> Any:
    values = {counter: table.c[counter] + bindparam("n"), **{c: bindparam(c) for c in cols}}
    return (update(table).where(table.c[key].in_(bindparam("ids", expanding=True))).values(values)
            .returning(table.c[key], table.c[counter]))


def _arrays(rows: Sequence[dict[str, Any]], cols: tuple[str, ...], procs: tuple[Any, ...]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for i, (col, proc) in enumerate(zip(cols, procs, strict=True)):
        values = [row[col] for row in rows]
        out[f"c{i}"] = [proc(v) for v in values] if proc is not None else values
    return out


def _pg_columns(table: Table, cols: tuple[str, ...], dialect: Dialect) -> tuple[list[str], list[str], tuple[Any, ...]]:
    """For each column: the unnest() argument, the expression that reads it back, its bind processor."""
    args, reads, procs = [], [], []
    for i, name in enumerate(cols):
        col = table.c[name]
        is_json = isinstance(col.type, JSON)
        # Strings travel as text[] (a VARCHAR's length and collation are the column's, checked on insert).
        elem = "text" if is_json or isinstance(col.type, String) else col.type.compile(dialect=dialect)
        args.append(f"CAST(:c{i} AS {elem}[])")
        reads.append(f"CAST(v.c{i} AS json)" if is_json else f"v.c{i}")
        # JSON goes as text, serialised as SQLAlchemy serialises it (None as JSON null, as Core stores it).
        procs.append(_json_dumps(dialect) if is_json else col.type.bind_processor(dialect))
    return args, reads, tuple(procs)


def _json_dumps(dialect: Dialect) -> Any:
    return getattr(dialect, "_json_serializer", None) or json.dumps


@lru_cache(maxsize=64)
def _pg_insert(table: Table, cols: tuple[str, ...], returning_ids: bool, dialect: Dialect
               ) -> tuple[TextClause, tuple[Any, ...]]:
    args, reads, procs = _pg_columns(table, cols, dialect)
    names = ", ".join(f"c{i}" for i in range(len(cols)))
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(reads)} "
           f"FROM unnest({', '.join(args)}) WITH ORDINALITY AS v({names}, ord) ORDER BY ord")
    if returning_ids:
        sql += " RETURNING id"
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
