"""db.bulk writes many rows in one statement; on PostgreSQL the columns travel as array literals built by
hand. Whatever a value holds (quotes, backslashes, braces, commas, the word NULL, newlines, Chinese,
bytes, timestamps, JSON), it must come back exactly as written, on both databases."""

from __future__ import annotations

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
)

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
            ids = bulk.insert_rows(conn, PROBE, rows, returning_ids=True)
        assert len(ids) == len(rows) and ids == sorted(ids)
        with engine.connect() as conn:
            got = {r.id: r._asdict() for r in conn.execute(select(PROBE))}
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
