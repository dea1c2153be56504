"""The host's store of period keys (ADR 0020, "Restore on the same host") as a hostile insider sees it:
a store directory planted by someone else, a store that stops being writable once in use, two processes
adopting the key directory's leftovers at once."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from mixun import keystore
from mixun.keystore import KeyStore, ensure_master_key


def _ring(tmp_path: Path) -> keystore.DataKeyRing:
    key_file = tmp_path / "data" / "keys" / "master.key"
    ensure_master_key(key_file)
    return KeyStore(key_file, periods_root=tmp_path / "host").data_keys


def test_a_symlink_planted_as_the_rings_store_is_refused(tmp_path: Path) -> None:
    """Whoever can write the host directory (a shared MIXUN_PERIOD_KEYS_DIR) and knows the ring id (it is
    in every backup) plants ``<root>/<ring id>`` as a link to a directory of theirs: the period keys would be
    written where they read them, and shredded where they keep copies. Refused, never followed."""
    ring = _ring(tmp_path)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / ring.ring_id()).symlink_to(theirs)
    with pytest.raises(RuntimeError, match="not a directory of this account"):
        _ = ring.periods.dir
    assert not any(theirs.iterdir())


def test_a_store_in_use_that_stops_being_writable_is_not_swapped_for_the_key_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback to keys/periods is for a host that never had a usable store. Once the store holds keys,
    a process that finds it unwritable (a full or read-only mount, a directory made someone else's) must
    not quietly switch: it would read every month as missing, and make a second key for a new month that
    the other processes make in the store (a split month: whichever key loses, its texts are lost)."""
    ring = _ring(tmp_path)
    ring.periods.ensure(202612)
    kept = ring.periods.material(202612)
    real = keystore._write_new

    def read_only(path: Path, data: bytes) -> None:
        if path.name.startswith(".probe-"):
            raise OSError(30, "Read-only file system")
        real(path, data)

    monkeypatch.setattr(keystore, "_write_new", read_only)
    again = KeyStore(ring.keys.path, periods_root=tmp_path / "host").data_keys
    with pytest.raises(RuntimeError, match="not usable"):
        _ = again.periods.dir
    monkeypatch.setattr(keystore, "_write_new", real)
    assert KeyStore(ring.keys.path, periods_root=tmp_path / "host").data_keys.periods.material(202612) == kept


def test_a_key_adopted_by_another_process_meanwhile_does_not_stop_adoption(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process of a deployment upgraded together adopts keys/periods on first use: a file another
    process adopted (and shredded) between this one's listing and its read is skipped, not an error that
    fails the first read or send of this process."""
    ring = _ring(tmp_path)
    legacy = ring.keys.dir / "periods"
    legacy.mkdir()
    kept = secrets.token_bytes(32)
    (legacy / "period-202611.key").write_bytes(kept)
    listed = Path.iterdir

    def with_a_ghost(self: Path):  # type: ignore[no-untyped-def]
        items = list(listed(self))
        if self == legacy:
            items.insert(0, legacy / "period-202610.key")  # adopted by the other process since the listing
        return iter(items)

    monkeypatch.setattr(Path, "iterdir", with_a_ghost)
    where = ring.periods.dir
    assert (where / "period-202611.key").read_bytes() == kept


@pytest.mark.parametrize("planted", ["/etc", "../../x", "..", "0123456789abcdef/../../x"])
def test_a_ring_id_written_by_hand_never_names_another_directory(tmp_path: Path, planted: str) -> None:
    """The ring id is a path component under the host's period key directory. Whoever can write the ring
    (the shared ring's database administrator, a shell on the server) must not turn it into another
    directory, which every process would make, chmod 0700 and fill with key files (as root: "/etc")."""
    ring = _ring(tmp_path)
    ring._db().execute("UPDATE ring_meta SET value = ? WHERE name = 'ring_id'", (planted,))
    with pytest.raises(RuntimeError, match="ring's id"):
        _ = ring.periods.dir
    assert not (tmp_path / "x").exists()


def test_the_store_the_ring_recorded_wins_over_another_accounts_default(tmp_path: Path, monkeypatch) -> None:
    """A process without MIXUN_PERIOD_KEYS_DIR (sudo, cron as another account, su without -) uses the store
    the ring recorded, not its own home's: a month is never split between two stores."""
    from mixun.keystore import KeyStore, ensure_master_key

    key_file = tmp_path / "data" / "keys" / "master.key"
    ensure_master_key(key_file)
    first = KeyStore(key_file, periods_root=tmp_path / "service-home" / "period-keys").data_keys
    where = first.periods.dir
    first.periods.ensure(202612)
    monkeypatch.delenv("MIXUN_PERIOD_KEYS_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "root-home"))
    other = KeyStore(key_file).data_keys  # no explicit setting: another account's home
    assert other.periods.dir == where
    assert other.periods.material(202612) == first.periods.material(202612)
    assert not (tmp_path / "root-home" / ".mixun").exists()
    moved = KeyStore(key_file, periods_root=tmp_path / "moved").data_keys  # an explicit setting wins
    assert moved.periods.dir == (tmp_path / "moved").resolve() / first.ring_id()
