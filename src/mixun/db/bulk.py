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
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Table, bindparam, insert, text, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import TextClause


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, returning_ids: bool = False
                ) -> list[int]:
    """Insert ``rows`` (all with the same keys); with ``returning_ids``, their new ids in row order."""
    if not rows:
        return []
    return insert_columns(conn, table, {col: [row[col] for row in rows] for col in rows[0]},
                          returning_ids=returning_ids)


def insert_columns(conn: Connection, table: Table, columns: dict[str, list[Any]], *, returning_ids: bool = False
                   ) -> list[int]:
    """Insert rows given column by column (equal lengths: row i is every column's i-th value), which spares
    a hot path building one dict per row; with ``returning_ids``, the new ids in row order."""
    cols = tuple(columns)
    count = len(columns[cols[0]]) if cols else 0
    if not count:
        return []
    if conn.dialect.name != "postgresql":
        rows = [dict(zip(cols, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        if returning_ids:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(conn.execute(stmt, rows).scalars())
        conn.execute(insert(table), rows)
        return []
    stmt, procs = _pg_insert(table, cols, returning_ids, conn.dialect)
    result = conn.execute(stmt, _arrays(columns, procs))
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
    conn.execute(stmt, _arrays({col: [row[col] for row in rows] for col in cols}, procs))


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
        arrays = {"ids": array_literal(keys), "ns": array_literal([counts[k] for k in keys])}
        return dict(conn.execute(stmt, {**arrays, **also}).all())
    by_count: dict[int, list[int]] = {}
    for k in keys:
        by_count.setdefault(counts[k], []).append(k)
    stmt = _sqlite_bump(table, key, counter, cols)
    return {k: v for n, group in by_count.items() for k, v in conn.execute(stmt, {"ids": group, "n": n, **also})}


def lock(conn: Connection, table: Table, key: str, keys: Sequence[int], *, skip_locked: bool = False) -> set[int]:
    """Lock these rows for update, in key order (the order ``bump`` locks in, so no deadlock), before
    reading what they guard; returns the keys locked. With ``skip_locked``, rows another transaction
    holds are left out instead of waited for. SQLite has one writer: its write transaction already
    holds everything."""
    if conn.dialect.name != "postgresql" or not keys:
        return set(keys)
    stmt = _pg_lock(table, key, skip_locked)
    return set(conn.execute(stmt, {"ids": array_literal(sorted(keys))}).scalars())


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
    if all(type(v) is int for v in values):
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
        is_json = isinstance(col.type, JSON)
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
