"""db.bulk writes many rows in one statement; on PostgreSQL the columns travel as array literals built by
hand. Whatever a value holds (quotes, backslashes, braces, commas, the word NULL, newlines, Chinese,
bytes, timestamps, JSON), it must come back exactly as written, on both databases."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
    text,
)
from sqlalchemy import exc as sa_exc

from mixun.db import bulk
from mixun.db.types import UTCDateTime
from tests.conftest import fresh_database

META = MetaData()
PROBE = Table(
    "bulk_probe", META,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("n", BigInteger), Column("small", Integer), Column("label", String(40)), Column("body", Text),
    Column("flag", Boolean), Column("at", UTCDateTime), Column("blob", LargeBinary), Column("doc", JSON),
)
NOW = datetime(2026, 12, 2, 8, 30, 15, 123456, tzinfo=UTC)
TRICKY = ['a "quoted" word', "back\\slash \\\" mix", "{braces},[commas]", "NULL", "null", "", " padded ",
          "line\nbreak\ttab", "客户张三的身份证号已脱敏", "'single' quotes", "\\x00ab", "emoji 😀"]


def _rows() -> list[dict[str, object]]:
    rows = []
    for i, word in enumerate(TRICKY):
        rows.append({
            "n": 2**62 + i if i % 3 else None, "small": -i, "label": word[:40], "body": word * 3,
            "flag": i % 2 == 0 if i % 4 else None, "at": NOW + timedelta(microseconds=i) if i % 5 else None,
            "blob": bytes([i, 0, 255, 92, 34]) if i % 2 else None,
            "doc": {"word": word, "list": [1, None, "二"]} if i % 3 else [word]})
    return rows


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_insert_and_update_rows_keep_every_value(kind: str, tmp_path: Path) -> None:
    url, cleanup = fresh_database(kind, tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        META.create_all(engine)
        rows = _rows()
        with engine.begin() as conn:
            bulk.insert_rows(conn, PROBE, rows)
        with engine.connect() as conn:
            got = {r.id: r._asdict() for r in conn.execute(select(PROBE))}
        ids = sorted(got)  # ids drawn in row order
        assert len(ids) == len(rows)
        for row_id, row in zip(ids, rows, strict=True):
            assert {k: got[row_id][k] for k in row} == row

        changed = [{"id": row_id, "label": f'新"值\\{i}', "small": i * 1000}
                   for i, row_id in enumerate(ids)]
        with engine.begin() as conn:
            bulk.update_rows(conn, PROBE, ("id",), changed)
        with engine.connect() as conn:
            after = {r.id: (r.label, r.small, r.body) for r in conn.execute(select(PROBE))}
        for i, (row_id, row) in enumerate(zip(ids, rows, strict=True)):
            assert after[row_id] == (f'新"值\\{i}', i * 1000, row["body"])
    finally:
        engine.dispose()
        cleanup()


def test_array_literal_forms() -> None:
    assert bulk.array_literal([1, 2, 30]) == "{1,2,30}"
    assert bulk.array_literal([1, None]) == "{1,NULL}"
    assert bulk.array_literal(["NULL", None, 'a"b\\c']) == '{"NULL",NULL,"a\\"b\\\\c"}'
    assert bulk.array_literal([True, False]) == "{t,f}"
    with pytest.raises(ValueError):
        bulk.array_literal([datetime(2026, 1, 1)])  # noqa: DTZ001 - a naive time is refused, not guessed


COUNTER = Table("bulk_counter", META, Column("k", BigInteger, primary_key=True, autoincrement=False),
                Column("last", Integer, nullable=False))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_round_reserves_numbers_and_stores_rows_that_name_each_other(kind: str, tmp_path: Path) -> None:
    """One round numbers (counters, new ids), the next stores rows with those ids: what a batch of sends
    does. The reserved ids are new, increasing and never handed out twice."""
    url, cleanup = fresh_database(kind, tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        META.create_all(engine)
        with engine.begin() as conn:
            bulk.insert_rows(conn, COUNTER, [{"k": 1, "last": 0}, {"k": 2, "last": 5}])
            bulk.insert_rows(conn, PROBE, [{"label": "先有的"}])
            first = conn.execute(select(PROBE.c.id)).scalar_one()
        with engine.begin() as conn, bulk.Round(conn) as r:
            last = r.bump(COUNTER, "k", "last", {1: 3, 2: 1, 3: 2})  # row 3 does not exist: left out
            ids = r.reserve_ids(PROBE, 3)
            locked = r.lock(COUNTER, "k", [2, 1])
        assert last.value == {1: 3, 2: 6} and locked.value == {1, 2}
        assert ids.value == sorted(ids.value) and len(set(ids.value)) == 3 and min(ids.value) > first
        with engine.begin() as conn, bulk.Round(conn) as r:
            r.insert_columns(PROBE, {"id": ids.value, "n": [10, 20, 30], "label": ["一", "二", "三"]})
            r.update_rows(COUNTER, ("k",), [{"k": 1, "last": 100}])
            seen = r.rows(text("SELECT count(*) FROM bulk_probe"))
        assert seen.value[0][0] == 4, "a read in the round sees the writes before it"
        with engine.begin() as conn:
            bulk.insert_rows(conn, PROBE, [{"label": "之后"}])
            labels = dict(conn.execute(select(PROBE.c.id, PROBE.c.label)).all())
            after = [i for i, label in labels.items() if label == "之后"]
            counters = dict(conn.execute(select(COUNTER.c.k, COUNTER.c.last)).all())
        assert after[0] > max(ids.value), "an id a round reserved is never handed out again"
        assert [labels[i] for i in ids.value] == ["一", "二", "三"] and counters == {1: 100, 2: 6}
    finally:
        engine.dispose()
        cleanup()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_failed_round_raises_as_sqlalchemy_does_and_writes_nothing(kind: str, tmp_path: Path) -> None:
    """A clash inside a round is an IntegrityError naming the statement but not the values it carried,
    and the transaction it was in leaves nothing behind."""
    url, cleanup = fresh_database(kind, tmp_path)
    # hide_parameters as the product's engines have it (db.engine); the PostgreSQL round hides them itself
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), hide_parameters=True)
    secret = "110101199003077777"
    try:
        META.create_all(engine)
        with engine.begin() as conn:
            bulk.insert_rows(conn, PROBE, [{"label": "已有"}])
            taken = conn.execute(select(PROBE.c.id)).scalar_one()
        with pytest.raises(sa_exc.IntegrityError) as failed, engine.begin() as conn, bulk.Round(conn) as r:
            r.insert_columns(PROBE, {"id": [taken + 1], "body": [secret]})
            r.insert_columns(PROBE, {"id": [taken], "body": [secret]})  # the id is taken
        assert "bulk_probe" in str(failed.value) and secret not in str(failed.value)
        with engine.connect() as conn:
            assert conn.execute(select(PROBE.c.id)).scalars().all() == [taken]
    finally:
        engine.dispose()
        cleanup()


def _engine(url: str) -> object:
    from mixun.db.bulk import restore_on_checkin

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), hide_parameters=True)
    restore_on_checkin(engine)
    return engine


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_transaction_can_begin_and_commit_inside_its_rounds(kind: str, tmp_path: Path) -> None:
    """A send batch's first round carries its BEGIN and its last its COMMIT (two waits fewer on
    PostgreSQL): what the rounds and the session wrote in between is stored together, the pooled
    connection goes back to its usual (transactional) mode, and a failure in the last round stores
    nothing of the first."""
    from sqlalchemy.orm import Session

    url, cleanup = fresh_database(kind, tmp_path)
    engine = _engine(url)
    try:
        META.create_all(engine)
        with Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                r.insert_columns(PROBE, {"label": ["一"]})
            conn.execute(PROBE.insert().values(label="会话里的"))
            with bulk.Round(conn, commits=s) as r:
                r.insert_columns(PROBE, {"label": ["二"]})
            s.commit()
        with engine.connect() as conn:
            assert sorted(conn.execute(select(PROBE.c.label)).scalars()) == ["一", "二", "会话里的"]
            if kind == "postgresql":
                assert conn.connection.driver_connection.autocommit is False
                assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"

        with pytest.raises(sa_exc.IntegrityError), Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                r.insert_columns(PROBE, {"label": ["不该留下"]})
            taken = conn.execute(select(PROBE.c.id).limit(1)).scalar_one()
            with bulk.Round(conn, commits=s) as r:
                r.insert_columns(PROBE, {"id": [taken], "label": ["重复"]})
            s.commit()
        with engine.connect() as conn:
            assert "不该留下" not in conn.execute(select(PROBE.c.label)).scalars().all()
            if kind == "postgresql":
                raw = conn.connection.driver_connection
                assert raw.autocommit is False, "a connection whose rounds failed went back to the pool in autocommit"
    finally:
        engine.dispose()
        cleanup()


def test_a_commit_round_that_loses_its_connection_is_uncertain(tmp_path: Path) -> None:
    """The server ends the session before the round that commits: the caller learns the outcome is
    unknown (a send then looks its client_id up rather than writing again), never that it failed
    cleanly."""
    from sqlalchemy.orm import Session

    url, cleanup = fresh_database("postgresql", tmp_path)
    engine = _engine(url)
    try:
        META.create_all(engine)
        with pytest.raises(bulk.CommitUncertain), Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                pid = r.rows(text("SELECT pg_backend_pid()"))
                r.insert_columns(PROBE, {"label": ["未知"]})
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid.value[0][0]})
            with bulk.Round(conn, commits=s) as r:
                r.insert_columns(PROBE, {"label": ["二"]})
        with engine.connect() as conn:
            assert conn.execute(select(PROBE.c.label)).scalars().all() == []
    finally:
        engine.dispose()
        cleanup()


def test_a_commit_round_knows_a_rolled_back_transaction_and_a_cancelled_one(tmp_path: Path) -> None:
    """PostgreSQL answers a COMMIT in a transaction that already failed with ROLLBACK and no error: the
    round says so (nothing was stored, so the caller may retry). A statement cancelled by the server on
    a live connection stopped the round before its COMMIT: a plain error, not an uncertain one."""
    from sqlalchemy.orm import Session

    url, cleanup = fresh_database("postgresql", tmp_path)
    engine = _engine(url)
    try:
        META.create_all(engine)
        with pytest.raises(RuntimeError, match="ROLLBACK"), Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                r.insert_columns(PROBE, {"label": ["回滚的"]})
            raw = conn.connection.driver_connection
            with contextlib.suppress(Exception), raw.cursor() as cur:  # a failure someone swallowed
                cur.execute("SELECT 1/0")
            with bulk.Round(conn, commits=s):
                pass
        with pytest.raises(sa_exc.OperationalError) as cancelled, Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                r.run(text("SET LOCAL statement_timeout = 50"))
                r.insert_columns(PROBE, {"label": ["取消的"]})
            with bulk.Round(conn, commits=s) as r:
                r.run(text("SELECT pg_sleep(1)"))
        assert not isinstance(cancelled.value, bulk.CommitUncertain)
        with engine.connect() as conn:
            assert conn.execute(select(PROBE.c.label)).scalars().all() == []
            assert conn.connection.driver_connection.autocommit is False
    finally:
        engine.dispose()
        cleanup()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_round_that_commits_takes_the_sessions_changes_with_it(kind: str, tmp_path: Path) -> None:
    """What the ORM session holds goes in before the round that commits (it would otherwise be written
    after the COMMIT, outside the transaction); a change made during that round is refused."""
    from sqlalchemy.orm import Session, registry

    class Probe:
        def __init__(self, label: str) -> None:
            self.label = label

    registry().map_imperatively(Probe, PROBE)
    url, cleanup = fresh_database(kind, tmp_path)
    engine = _engine(url)
    try:
        META.create_all(engine)
        with Session(engine) as s:
            conn = s.connection()
            with bulk.Round(conn, begins=True) as r:
                r.insert_columns(PROBE, {"label": ["一"]})
            s.add(Probe("会话里的"))
            with bulk.Round(conn, commits=s) as r:
                r.insert_columns(PROBE, {"label": ["二"]})
            s.commit()
        with engine.connect() as conn:
            assert sorted(conn.execute(select(PROBE.c.label)).scalars()) == ["一", "二", "会话里的"]
        if kind == "postgresql":
            with pytest.raises(RuntimeError, match="during the round"), Session(engine) as s:
                conn = s.connection()
                with bulk.Round(conn, begins=True) as r:
                    r.insert_columns(PROBE, {"label": ["三"]})
                with bulk.Round(conn, commits=s) as r:
                    r.insert_columns(PROBE, {"label": ["四"]})
                    s.add(Probe("太晚的"))
            with engine.connect() as conn:
                assert sorted(conn.execute(select(PROBE.c.label)).scalars()) == ["一", "二", "会话里的"]
    finally:
        engine.dispose()
        cleanup()


def test_sqlite_bulk_rows_are_stored_as_sqlalchemys_insert_stores_them(tmp_path: Path) -> None:
    """SQLite's bulk insert goes to the driver with each column's bind processing done by hand: what it
    stores (read back raw, without SQLAlchemy's result processing) is byte for byte what SQLAlchemy's
    insert() stores for the same rows — timestamps, booleans, JSON, bytes, text."""
    engine = create_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    try:
        META.create_all(engine)
        rows = _rows()
        with engine.begin() as conn:
            bulk.insert_rows(conn, PROBE, rows)
            conn.execute(PROBE.insert(), rows)
            cols = ", ".join(c for c in rows[0])
            stored = conn.exec_driver_sql(f"SELECT {cols} FROM bulk_probe ORDER BY id").all()
        assert stored[: len(rows)] == stored[len(rows):]
        assert any(isinstance(v, str) for v in (r[5] for r in stored)), "the timestamps went in as text"
    finally:
        engine.dispose()


def test_sqlite_bulk_insert_applies_python_side_defaults_of_columns_left_out(tmp_path: Path) -> None:
    """A column with a Python-side default left out of the rows gets that default, as insert() gives it."""
    meta = MetaData()
    table = Table("bulk_defaults", meta, Column("id", Integer, primary_key=True),
                  Column("label", String(10)), Column("kind", String(10), default="普通"))
    engine = create_engine(f"sqlite:///{tmp_path / 'defaults.db'}")
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            bulk.insert_columns(conn, table, {"label": ["甲", "乙"]})
            got = conn.execute(select(table.c.label, table.c.kind).order_by(table.c.id)).all()
        assert [tuple(r) for r in got] == [("甲", "普通"), ("乙", "普通")]
    finally:
        engine.dispose()


def test_sqlite_bump_with_many_keys_and_counts(tmp_path: Path) -> None:
    """SQLite bumps every key of one count in one statement (the keys as a JSON array): each row moves
    by its own count, rows that do not exist are left out, and other rows are untouched."""
    engine = create_engine(f"sqlite:///{tmp_path / 'bump.db'}")
    try:
        META.create_all(engine)
        with engine.begin() as conn:
            bulk.insert_rows(conn, COUNTER, [{"k": k, "last": k * 10} for k in range(1, 1201)])
        counts = {k: 1 + k % 3 for k in range(1, 1001)} | {5000: 2}
        with engine.begin() as conn, bulk.Round(conn) as r:
            last = r.bump(COUNTER, "k", "last", counts)
        assert last.value == {k: k * 10 + 1 + k % 3 for k in range(1, 1001)}
        with engine.connect() as conn:
            stored = dict(conn.execute(select(COUNTER.c.k, COUNTER.c.last)).all())
        assert all(stored[k] == k * 10 for k in range(1001, 1201))
    finally:
        engine.dispose()
