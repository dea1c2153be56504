"""The standby's file mirror copies a file changed within the same second at the same size (the key ring
gains a data key in place): a standby without that key could not open the messages it sealed."""

from __future__ import annotations

import os
from pathlib import Path

from mixun.services.standby import mirror_files


def test_a_same_size_change_in_the_same_second_is_mirrored(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    ring = src / "keys" / "datakeys.db"
    ring.parent.mkdir(parents=True)
    ring.write_bytes(b"key-one-")
    second = 1_800_000_000
    os.utime(ring, ns=(second * 10**9, second * 10**9 + 100))
    assert mirror_files(src, dst).copied == 1
    ring.write_bytes(b"key-two-")  # same size, same whole second, a later nanosecond
    os.utime(ring, ns=(second * 10**9, second * 10**9 + 900))
    stats = mirror_files(src, dst)
    assert stats.copied == 1 and (dst / "keys" / "datakeys.db").read_bytes() == b"key-two-"
    assert mirror_files(src, dst).copied == 0  # unchanged: skipped


def test_a_period_key_destroyed_on_the_primary_is_destroyed_in_the_mirror(tmp_path: Path) -> None:
    """The standby mirrors the period keys (it must open the texts after a failover) but keeps none that
    retention destroyed on the primary; other files are never removed from the mirror."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "keys" / "periods").mkdir(parents=True)
    (src / "keys" / "periods" / "period-202611.key").write_bytes(b"k" * 32)
    (src / "keys" / "periods" / "period-202612.key").write_bytes(b"m" * 32)
    (src / "blobs").mkdir()
    (src / "blobs" / "a").write_bytes(b"blob")
    assert mirror_files(src, dst).copied == 3
    (src / "keys" / "periods" / "period-202611.key").unlink()
    (src / "blobs" / "a").unlink()
    stats = mirror_files(src, dst)
    assert stats.removed == 1
    assert not (dst / "keys" / "periods" / "period-202611.key").exists()
    assert (dst / "keys" / "periods" / "period-202612.key").read_bytes() == b"m" * 32
    assert (dst / "blobs" / "a").exists()


def test_a_leftover_temporary_of_a_period_key_does_not_outlive_it_in_the_mirror(tmp_path: Path) -> None:
    """H2: an interrupted mirror run leaves `.period-YYYYMM.key.part` in the mirror (the key's bytes): the
    next run removes it, so a month destroyed on the primary leaves no copy of its key on the standby."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "keys" / "periods").mkdir(parents=True)
    (src / "keys" / "periods" / "period-202612.key").write_bytes(b"m" * 32)
    assert mirror_files(src, dst).copied == 1
    part = dst / "keys" / "periods" / ".period-202611.key.part"
    part.write_bytes(b"k" * 32)  # the copy of a month since destroyed on the primary, interrupted
    stats = mirror_files(src, dst)
    assert not part.exists() and stats.removed == 1
    assert (dst / "keys" / "periods" / "period-202612.key").read_bytes() == b"m" * 32


def test_the_hosts_period_keys_are_mirrored_and_their_destruction_follows(tmp_path: Path) -> None:
    """Period keys live on the host, outside the data directory (ADR 0020): the mirror takes them from
    there into the replica's keys/periods, and drops one once retention destroyed it on the primary."""
    src, dst, host = tmp_path / "src", tmp_path / "dst", tmp_path / "host" / "ring-1"
    (src / "keys").mkdir(parents=True)
    (src / "keys" / "master.key").write_bytes(b"x" * 32)
    host.mkdir(parents=True)
    (host / "period-202611.key").write_bytes(b"k" * 32)
    (host / "period-202612.key").write_bytes(b"m" * 32)
    (host / ".probe-1").write_bytes(b"")
    assert mirror_files(src, dst, periods=host).copied == 3
    assert (dst / "keys" / "periods" / "period-202611.key").read_bytes() == b"k" * 32
    assert not (dst / "keys" / "periods" / ".probe-1").exists()
    (host / "period-202611.key").unlink()
    stats = mirror_files(src, dst, periods=host)
    assert stats.removed == 1 and not (dst / "keys" / "periods" / "period-202611.key").exists()
    assert (dst / "keys" / "periods" / "period-202612.key").exists() and (dst / "keys" / "master.key").exists()


def test_period_keys_left_in_the_key_directory_are_adopted_by_the_host_store(tmp_path: Path) -> None:
    """Keys in keys/periods (an older version, a promoted standby's mirror, an escrow restore) move into the
    host's store on first use and are shredded where they were; a month retention destroyed is never
    brought back that way."""
    import secrets

    from mixun.keystore import KeyStore, ensure_master_key

    key_file = tmp_path / "data" / "keys" / "master.key"
    ensure_master_key(key_file)
    store = KeyStore(key_file, periods_root=tmp_path / "host")
    ring = store.data_keys
    legacy = key_file.parent / "periods"
    legacy.mkdir()
    kept, gone = secrets.token_bytes(32), secrets.token_bytes(32)
    (legacy / "period-202611.key").write_bytes(kept)
    (legacy / "period-202501.key").write_bytes(gone)
    ring._db().execute("INSERT INTO destroyed_period_keys (grp, period, destroyed_at, reason) "
                       "VALUES ('', 202501, 'x', 'test')")
    where = ring.periods.dir
    assert where == (tmp_path / "host").resolve() / ring.ring_id()
    assert (where / "period-202611.key").read_bytes() == kept
    assert not (where / "period-202501.key").exists(), "a destroyed month is never adopted"
    assert not legacy.exists(), "nothing is left in the key directory"
    assert ring.periods.material(202611) == kept


def test_a_period_key_directory_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    import pytest

    from mixun.keystore import KeyStore, ensure_master_key

    key_file = tmp_path / "data" / "keys" / "master.key"
    ensure_master_key(key_file)
    ring = KeyStore(key_file, periods_root=tmp_path / "data" / "periods").data_keys
    with pytest.raises(RuntimeError, match="inside the data directory"):
        _ = ring.periods.dir


def test_a_file_removed_on_the_primary_during_a_pass_does_not_stop_it(tmp_path: Path) -> None:
    """Retention removes blobs and destroys period keys while the mirror runs: a file gone between the
    listing and its copy is skipped (no partial copy left), the rest of the pass goes on, and a destroyed
    period key was already swept from the mirror before any copy."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "blobs").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (src / "blobs" / name).write_bytes(name.encode() * 10)
    (dst / "keys" / "periods").mkdir(parents=True)
    (dst / "keys" / "periods" / "period-202501.key").write_bytes(b"k" * 32)  # destroyed on the primary
    calls: list[Path] = []

    def vanish(rel: Path) -> bool:  # the listing sees every blob; then two of them go
        calls.append(rel)
        if len(calls) == 3:
            for other in calls[:2]:
                (src / other).unlink()
        return False

    stats = mirror_files(src, dst, skip=vanish)
    assert stats.copied == 1 and stats.removed == 1
    assert not (dst / "keys" / "periods" / "period-202501.key").exists()
    assert sorted(p.name for p in (dst / "blobs").iterdir()) == [calls[2].name]
