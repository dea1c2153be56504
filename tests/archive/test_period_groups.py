"""Period keys per (retention group, month) (ADR 0020, "Groups"): a conversation retention destroys before
the rest of its month (a shorter policy for its kind) has its period key destroyed with its group's
month, so an OLD backup restored elsewhere with its own ring no longer reads it while its month-mates
under a longer policy read as written. Month-wide keys from before groups still read and are destroyed
as before; the escrow carries groups; an escrow import racing retention never brings a destroyed key
back; a process never keeps the bytes of a period key another process destroyed."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mixun.keystore import KeyStore, PeriodKeyGone, PeriodKeys, ensure_master_key, period_label, period_of
from mixun.services import backup, backup_crypto, keys, period_escrow, retention
from tests.archive.conftest import cli_ctx, group, officer
from tests.archive.test_crypto_shredding import (
    _history,
    _old_message,
    _opened_by_own_keys,
    _restore_with_own_keys,
)
from tests.conftest import Env
from tests.helpers import direct

DIRECT_SECRET = "两个月前的单聊：白虎五号的授信底价"
GROUP_TEXT = "两个月前的群聊：授信例会纪要（长期保存）"


def test_a_conversation_destroyed_before_its_month_mates_is_unreadable_in_an_old_backup(env: Env,
                                                                                        tmp_path: Path) -> None:
    """Direct chats are kept 30 days, everything else five years. A direct chat and a group chat of the
    same month: retention destroys the direct chat's messages, its data key and its group's period key of
    that month, while the group chat's (default group) stays. The OLD backup restored elsewhere with its
    own ring, its backup key and today's escrow reads the direct chat as destroyed, the group chat as
    written."""
    retention.set_policy(cli_ctx(env), "kind:direct", 30, 30)
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv_direct = direct(env, ta, b)
    conv_group = group(env, ta, [b], name="授信例会群")
    at = datetime.now(UTC) - timedelta(days=70)
    at = at.replace(day=min(at.day, 27))  # both in the same (closed) month
    _old_message(env, conv_direct, a, at, DIRECT_SECRET)
    _old_message(env, conv_group, a, at, GROUP_TEXT)
    month = period_of(at)
    ring = env.rt.keys.data_keys
    direct_key = ring.period_key_of(f"c:{conv_direct}", month)
    group_key = ring.period_key_of(f"c:{conv_group}", month)
    assert direct_key == (ring.periods.tag("kind:direct"), month)
    assert group_key == (ring.periods.tag("default"), month)
    assert ring.group_names()[direct_key[0]] == "kind:direct"
    # The group's name never shows where the key is kept: an opaque tag of 12 hex digits.
    assert ring.periods.path(month, direct_key[0]).name == f"period-{month}-{direct_key[0]}.key"
    assert "direct" not in ring.periods.path(month, direct_key[0]).name

    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    backup.backup(env.settings, tmp_path / "old.tgz", key)
    result = retention.run(cli_ctx(env), now=datetime.now(UTC))
    assert result["counts"]["messages"] == 1 and result["data_keys_destroyed"] == 1
    assert not ring.periods.path(month, direct_key[0]).exists(), "the direct chats' key of the month is destroyed"
    assert ring.periods.path(month, group_key[0]).exists(), "the month-mates' key stays"
    st = {p["label"]: p for p in keys.status(env.rt)["periods"]}
    assert st[period_label(*direct_key[::-1])]["state"] == "destroyed"
    assert st[period_label(*direct_key[::-1])]["group_label"] == "单聊"
    assert st[period_label(*group_key[::-1])]["state"] == "present"
    keys.export_periods(cli_ctx(env), tmp_path / "escrow-after.bin", key)

    settings, restored = _restore_with_own_keys(env, tmp_path / "old.tgz", tmp_path / "backup.key",
                                                tmp_path / "escrow-after.bin", tmp_path, "elsewhere")
    assert restored["periods_missing"] == [period_label(month, direct_key[0])]
    old, kept, raw_text = _history(settings, conv_direct, conv_group)
    assert len(old) == 1 and old[0]["content_destroyed"] is True
    assert [m["text"] for m in kept] == [GROUP_TEXT] and kept[0].get("content_destroyed") is not True
    assert DIRECT_SECRET not in raw_text
    assert _opened_by_own_keys(settings, conv_direct) == [None]
    assert _opened_by_own_keys(settings, conv_group) == [GROUP_TEXT]


def test_a_held_conversation_has_a_group_of_its_own(env: Env) -> None:
    """A conversation a legal hold names moves its keys under ``hold:<id>`` when the hold is placed (and
    gets new ones there): kept, it keeps no neighbour's period key alive - the neighbours' month goes
    when they do, the held conversation still reads."""
    from mixun.services import texts
    from mixun.services.retention_groups import key_groups

    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    held = group(env, ta, [b], name="被保全的群")
    free = group(env, ta, [b], name="普通群")
    at = datetime.now(UTC) - timedelta(days=40)
    month = period_of(at)
    kept = texts.seal(env.rt, held, at, "保全中的授信记录")
    texts.seal(env.rt, free, at, "不在保全中")
    ring = env.rt.keys.data_keys
    default = ring.periods.tag("default")
    assert ring.period_key_of(f"c:{held}", month) == (default, month)  # before the hold: the default group

    _hc, th = officer(env)
    r = env.client.post("/api/v1/compliance/holds", headers=env.h(th),
                        json={"reason": "监管调查需要保全", "conversation_id": held})
    assert r.status_code in (200, 201), r.text
    with env.rt.db.read() as s:
        assert key_groups(s, [held, free]) == {held: f"hold:{held}", free: "default"}
    hold_tag = ring.periods.tag(f"hold:{held}")
    assert ring.period_key_of(f"c:{held}", month) == (hold_tag, month), "moved under the hold's own key"
    assert KeyStore(env.settings.key_file).data_keys.open(kept) == "保全中的授信记录"

    ring.destroy([(f"c:{free}", month)], "retention")  # the neighbour's month expires
    gone = ring.destroy_spent_periods(period_of(datetime.now(UTC) - timedelta(days=1)), "retention")
    assert (default, month) in gone and (hold_tag, month) not in gone
    assert KeyStore(env.settings.key_file).data_keys.open(kept) == "保全中的授信记录"
    assert any(p["group_label"] == f"保全 会话 {held}" for p in keys.status(env.rt)["periods"])


def _store(tmp: Path, name: str, master: Path) -> KeyStore:
    d = tmp / name / "keys"
    d.mkdir(parents=True)
    (d / "master.key").write_bytes(master.read_bytes())
    return KeyStore(d / "master.key")


def _groups(name: str):  # noqa: ANN202
    return lambda cids: {c: name for c in cids}


def test_month_wide_keys_still_read_and_are_destroyed_beside_group_keys(tmp_path: Path) -> None:
    """A ring from before groups: its tombstones carry over, its month-wide keys read, and each key (the
    month-wide one, each group's) is destroyed once nothing wrapped under it is left."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    store = _store(tmp_path, "a", master)
    ring = store.data_keys
    old = ring.seal("c:1", 202601, "分组以前的月度密钥")  # no group named: the month-wide key
    assert ring.periods.path(202601).exists()
    # A tombstone written by the code before groups (the old table only) still refuses its month.
    db = sqlite3.connect(ring.path)
    db.execute("INSERT INTO destroyed_periods (period, destroyed_at, reason) VALUES (201801, 'x', 'retention')")
    db.commit()
    db.close()
    other = KeyStore(store.path).data_keys  # another process opens the ring: the tombstone is carried
    assert ("", 201801) in other.destroyed_periods()
    grouped = other.seal_many([("c:2", 202601, "单聊组的密钥")], group_of=_groups("kind:direct"))[0]
    tag = other.periods.tag("kind:direct")
    assert other.period_key_of("c:2", 202601) == (tag, 202601)
    assert other.open(old) == "分组以前的月度密钥" and other.open(grouped) == "单聊组的密钥"

    other.destroy([("c:2", 202601)], "retention")
    assert other.destroy_spent_periods(202603, "retention") == [(tag, 202601)]
    assert other.periods.path(202601).exists() and not other.periods.path(202601, tag).exists()
    assert KeyStore(store.path).data_keys.open(old) == "分组以前的月度密钥"
    other.destroy([("c:1", 202601)], "retention")
    assert other.destroy_spent_periods(202603, "retention") == [("", 202601)]
    assert KeyStore(store.path).data_keys.open(old) is None
    try:
        other.keys_for([("c:3", 202601)], group_of=_groups("kind:direct"))
        raise AssertionError("a destroyed group's month is never made again")
    except PeriodKeyGone:
        pass


def test_the_escrow_carries_group_keys(tmp_path: Path) -> None:
    """An escrow names each key ``YYYYMM`` or ``YYYYMM-<tag>``; an import puts them back and the texts read."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    store = _store(tmp_path, "a", master)
    ring = store.data_keys
    unit = "unit:总行/信息科技部"
    sealed = ring.seal_many([("c:5", 202605, "单位组的授信")], group_of=_groups(unit))[0]
    month_wide = ring.seal("c:6", 202605, "月度")
    tag = ring.periods.tag(unit)
    assert "总行" not in str(ring.periods.path(202605, tag))
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    out = period_escrow.write(store, tmp_path / "escrow.bin", key)
    assert out["periods"] == ["202605", f"202605-{tag}"]
    read = period_escrow.read(tmp_path / "escrow.bin", tmp_path / "backup.key")
    assert set(read) == {("", 202605), (tag, 202605)}
    for group_, p in ring.periods.present():
        ring.periods.path(p, group_).unlink()
    fresh = KeyStore(store.path).data_keys
    assert fresh.open(sealed) is None
    loaded = period_escrow.load(KeyStore(store.path), read)
    assert loaded["loaded"] == ["202605", f"202605-{tag}"]
    again = KeyStore(store.path).data_keys
    assert again.open(sealed) == "单位组的授信" and again.open(month_wide) == "月度"
    assert {p["label"]: p["group_name"] for p in again.period_status()}[f"202605-{tag}"] == unit


def test_an_escrow_import_racing_retention_never_brings_a_destroyed_key_back(tmp_path: Path) -> None:
    """The import reads the tombstones under the ring's write lock: a retention run (another process)
    destroying the key while the import is under way either tombstones it first (the import skips it) or
    waits and destroys what the import wrote. A key never lives beside its tombstone."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    store = _store(tmp_path, "a", master)
    ring = store.data_keys
    ring.seal_many([("c:9", 202607, "将被销毁")], group_of=_groups("kind:direct"))
    tag = ring.periods.tag("kind:direct")
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    period_escrow.write(store, tmp_path / "escrow.bin", key)
    escrow = period_escrow.read(tmp_path / "escrow.bin", tmp_path / "backup.key")
    ring.destroy([("c:9", 202607)], "retention")  # its key is spent: the next retention run destroys it
    ring.periods._material.clear()

    retention_node = KeyStore(store.path).data_keys
    runner = threading.Thread(target=retention_node.destroy_spent_periods, args=(202609, "retention"))
    real = ring.periods.material

    def material_then_retention(period: int, group: str = "") -> bytes:
        if not runner.is_alive() and runner.ident is None:
            runner.start()  # retention runs in another process while the import checks its entries
            runner.join(5)  # without the lock it finishes here; with it, it waits for the import
        return real(period, group)

    ring.periods.material = material_then_retention  # type: ignore[method-assign]
    try:
        period_escrow.load(store, escrow)
    finally:
        del ring.periods.material
    runner.join()
    here = ring.periods.path(202607, tag).exists()
    tombstoned = (tag, 202607) in KeyStore(store.path).data_keys.destroyed_periods()
    assert not (here and tombstoned), "a destroyed key was brought back beside its tombstone"


def test_a_process_forgets_a_period_key_another_process_destroyed(tmp_path: Path) -> None:
    """The bytes of a period key a process read are dropped once another process destroys the key: no
    wrap, no unwrap and no escrow from memory afterwards."""
    master = tmp_path / "master.key"
    ensure_master_key(master)
    store = _store(tmp_path, "a", master)
    reader = store.data_keys
    reader.seal_many([("c:11", 202608, "缓存")], group_of=_groups("kind:group"))
    tag = reader.periods.tag("kind:group")
    assert reader.periods.material(202608, tag)  # cached in this process
    other = KeyStore(store.path).data_keys
    other.destroy([("c:11", 202608)], "retention")
    assert other.destroy_spent_periods(202610, "retention") == [(tag, 202608)]
    try:
        reader.periods.material(202608, tag)
        raise AssertionError("the destroyed key's bytes were still served from the cache")
    except PeriodKeyGone:
        pass
    assert (tag, 202608) not in reader.periods._material


def test_restore_writes_group_keys_under_their_file_names(tmp_path: Path) -> None:
    assert PeriodKeys.file_name(202601) == "period-202601.key"
    assert PeriodKeys.file_name(202601, "0123456789ab") == "period-202601-0123456789ab.key"


def test_a_conversation_made_in_the_same_transaction_gets_its_own_group(env: Env) -> None:
    """A direct chat's first key is made while it is created (its creation event is sealed in the same
    transaction): the group is read inside that transaction, so it is the direct chats' group, not the
    default."""
    retention.set_policy(cli_ctx(env), "kind:direct", 30, 30)
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = direct(env, ta, b)
    ring = env.rt.keys.data_keys
    assert ring.period_key_of(f"c:{conv}", period_of(datetime.now(UTC))) == (
        ring.periods.tag("kind:direct"), period_of(datetime.now(UTC)))
