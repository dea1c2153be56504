"""Several nodes share one key ring (MIXUN_KEYRING_URL, a PostgreSQL database of its own): a text sealed
on one node opens on another that holds only the same master key, two nodes making the same
(conversation, month) key end up with one key, and a key destroyed on one node is gone for every node
that has not cached it. The search key is the same on every node (derived from the master key)."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mixun.keystore import KeyStore, ensure_master_key
from tests.conftest import _pg_available, _pg_exec, _pg_url, need


@pytest.fixture
def ring_url() -> Iterator[str]:
    need("PostgreSQL", _pg_available())
    name = f"mixun_ring_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _node(tmp: Path, name: str, master: Path, url: str | None) -> KeyStore:
    keys = tmp / name / "keys"
    keys.mkdir(parents=True)
    shutil.copy(master, keys / "master.key")  # as an operator distributes the deployment's master key
    store = KeyStore(keys / "master.key")
    store.ring_url = url
    return store


def test_nodes_share_keys_through_the_ring(tmp_path: Path, ring_url: str) -> None:
    master = tmp_path / "master.key"
    ensure_master_key(master)
    a = _node(tmp_path, "a", master, ring_url)
    b = _node(tmp_path, "b", master, ring_url)

    sealed = a.data_keys.seal("c:7", 202612, "季度授信额度：三千万元")
    assert "授信" not in sealed
    assert b.data_keys.open(sealed) == "季度授信额度：三千万元"
    assert a.search_key == b.search_key  # the same postings on every node

    # Both nodes asking for a new (conversation, month) key at once get the same one.
    results: list[str] = []

    def seal(store: KeyStore) -> None:
        results.append(store.data_keys.seal("c:8", 202612, "同时"))

    threads = [threading.Thread(target=seal, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(a.data_keys.scopes()) == 2
    for value in results:
        assert a.data_keys.open(value) == b.data_keys.open(value) == "同时"

    # Destroyed on node a: a third node (nothing cached) cannot open it, and says so (None, not an error).
    assert a.data_keys.destroy([("c:7", 202612)], "retention")
    c = _node(tmp_path, "c", master, ring_url)
    assert c.data_keys.open(sealed) is None
    assert len(c.data_keys.scopes()) == 1


def test_without_a_shared_ring_another_node_cannot_open(tmp_path: Path) -> None:
    """The default ring is the node's own file: why several nodes need MIXUN_KEYRING_URL."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    a = _node(tmp_path, "a", master, None)
    b = _node(tmp_path, "b", master, None)
    sealed = a.data_keys.seal("c:7", 202612, "只在本节点")
    assert a.data_keys.open(sealed) == "只在本节点"
    assert b.data_keys.open(sealed) is None


def test_a_shared_ring_keeps_period_keys_in_its_database_and_destroys_them(tmp_path: Path, ring_url: str) -> None:
    """With MIXUN_KEYRING_URL and no HSM, a month's period key is a row of the ring database's
    period_keys table (every node reads it; no node keeps a file); the dlp/notify scopes stay under the KEK
    alone; destroying the month's last conversation key lets the period key go (row deleted, vacuumed),
    and a node that had not cached the keys cannot open the month any more."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    a = _node(tmp_path, "a", master, ring_url)
    b = _node(tmp_path, "b", master, ring_url)
    sealed = a.data_keys.seal("c:7", 202611, "十一月的授信纪要")
    kept = a.data_keys.seal("dlp", 202611, "不属于会话的摘录")
    assert a.data_keys.periods.where == "ring"
    assert not (a.dir / "periods").exists() and not (b.dir / "periods").exists()
    assert b.data_keys.open(sealed) == "十一月的授信纪要"
    db = a.data_keys._db()
    assert [r[0] for r in db.execute("SELECT period FROM period_keys")] == [202611]
    flags = dict(db.execute("SELECT scope, period_wrapped FROM data_keys").fetchall())
    assert flags == {"c:7": 1, "dlp": 0}

    assert a.data_keys.destroy_spent_periods(202612, "retention") == [], "still wraps a conversation key"
    a.data_keys.destroy([("c:7", 202611)], "retention")
    assert a.data_keys.destroy_spent_periods(202612, "retention") == [("", 202611)]
    assert db.execute("SELECT count(*) FROM period_keys").fetchone()[0] == 0
    c = _node(tmp_path, "c", master, ring_url)
    assert c.data_keys.open(sealed) is None
    assert c.data_keys.open(kept) == "不属于会话的摘录"
    assert [p["state"] for p in c.data_keys.period_status()] == ["destroyed"]


def test_a_shared_ring_keeps_group_period_keys_and_migrates_a_month_only_table(tmp_path: Path, ring_url: str) -> None:
    """A shared ring made before groups (period_keys keyed by the month alone, a month-wide tombstone in
    destroyed_periods) migrates when a node opens it: its month-wide key still reads; a group's key of the
    same month is a row of its own; each goes when nothing wrapped under it is left; the old tombstone
    still refuses its month."""
    import psycopg

    from mixun.keystore import PeriodKeyGone

    master = tmp_path / "master.key"
    ensure_master_key(master)
    url = ring_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:  # the tables as the code before groups made them
        conn.execute("CREATE TABLE period_keys (period INTEGER PRIMARY KEY, material BYTEA NOT NULL, "
                     "created_at TEXT NOT NULL)")
        conn.execute("CREATE TABLE destroyed_periods (period INTEGER PRIMARY KEY, destroyed_at TEXT NOT NULL, "
                     "reason TEXT NOT NULL)")
        conn.execute("INSERT INTO destroyed_periods VALUES (201801, 'x', 'retention')")
    a = _node(tmp_path, "a", master, ring_url)
    b = _node(tmp_path, "b", master, ring_url)
    month_wide = a.data_keys.seal("c:1", 202611, "分组以前")
    grouped = a.data_keys.seal_many([("c:2", 202611, "单聊组")], group_of=lambda cids: {c: "kind:direct" for c in cids})[0]
    tag = a.data_keys.periods.tag("kind:direct")
    db = a.data_keys._db()
    assert sorted(tuple(r) for r in db.execute("SELECT grp, period FROM period_keys")) == [("", 202611), (tag, 202611)]
    assert b.data_keys.open(month_wide) == "分组以前" and b.data_keys.open(grouped) == "单聊组"
    assert ("", 201801) in b.data_keys.destroyed_periods()
    try:
        b.data_keys.keys_for([("c:3", 201801)])
        raise AssertionError("a month destroyed before groups is never made again")
    except PeriodKeyGone:
        pass
    a.data_keys.destroy([("c:2", 202611)], "retention")
    assert a.data_keys.destroy_spent_periods(202612, "retention") == [(tag, 202611)]
    c = _node(tmp_path, "c", master, ring_url)
    assert c.data_keys.open(grouped) is None and c.data_keys.open(month_wide) == "分组以前"
    st = {p["label"]: p for p in c.data_keys.period_status()}
    assert st[f"202611-{tag}"]["state"] == "destroyed" and st[f"202611-{tag}"]["group_name"] == "kind:direct"
    assert st["202611"]["state"] == "present"
