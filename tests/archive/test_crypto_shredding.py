"""Crypto-shredding (issue 20 item 10): when retention destroys a conversation-month's messages, its data
key is destroyed (audited), so a backup taken before, restored elsewhere with the current key store,
shows those messages as destroyed - clearly, with a 200, never the text and never a 500."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mixun.config import load_settings
from mixun.db.sealed import DESTROYED_TEXT
from mixun.keystore import PeriodKeys, period_label
from mixun.services import backup, backup_crypto, retention
from tests.archive.conftest import cli_ctx, group, send
from tests.conftest import PASSWORD, Env, fresh_database

LATER = datetime.now(UTC) + timedelta(days=6 * 365)
SECRET = "授信额度调整方案玄武十号"


def _restore_elsewhere(env: Env, archive: Path, key_file: Path, tmp: Path) -> object:
    """The backup restored into a new data dir and database, then given the CURRENT key store."""
    kind = "sqlite" if env.rt.db.is_sqlite else "postgresql"
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/elsewhere/mixun.db"
    else:
        url = fresh_database(kind, tmp / "elsewhere-db")[0]
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    settings = load_settings({"MIXUN_DATA_DIR": str(tmp / "elsewhere"), "MIXUN_DATABASE_URL": url})
    backup.restore(settings, archive, key_file=key_file)
    keys = settings.key_file.parent
    shutil.rmtree(keys)
    shutil.copytree(env.settings.key_file.parent, keys)  # today's keys, not the backup's
    return settings


def test_retention_destroys_the_data_key_and_old_backups_cannot_show_the_text(env: Env, tmp_path: Path) -> None:
    from mixun.api.app import create_app

    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    send(env, ta, conv, SECRET)
    masked = send(env, ta, conv, "身份证 11010519491231002X")  # DLP masks it; its hit keeps the excerpt
    assert masked["dlp"]["action"] == "mask", masked
    assert env.rt.keys.data_keys.scopes(), "a data key was made for the conversation's month"
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    backup.backup(env.settings, tmp_path / "old.tgz", key)

    result = retention.run(cli_ctx(env), now=LATER)
    assert result["counts"]["messages"] == 2
    assert result["data_keys_destroyed"] >= 1
    assert not [s for _k, s, _p in env.rt.keys.data_keys.scopes() if s == f"c:{conv}"]
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_log WHERE action = 'keys.data_keys_destroyed'")).all()
    assert rows, "the destruction is audited"
    from tests.helpers import staff

    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")  # the DLP console keeps the hit, not its excerpt
    hits = env.client.get("/api/v1/dlp/hits", headers=env.h(tsec)).json()["hits"]
    assert [(h["detector"], h["masked"]) for h in hits] == [("cn_id_card", DESTROYED_TEXT)]

    settings = _restore_elsewhere(env, tmp_path / "old.tgz", tmp_path / "backup.key", tmp_path)
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40001)) as client:
        rt = app.state.runtime
        with rt.db.read_engine.connect() as c:  # the old backup still holds the sealed rows ...
            assert c.execute(text("SELECT count(*) FROM messages WHERE conversation_id = :c"), {"c": conv}).scalar() == 2
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        r = client.get(f"/api/v1/conversations/{conv}/messages", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 200, r.text
        shown = [m for m in r.json()["messages"] if m["kind"] == "text"]
        assert len(shown) == 2  # ... but the texts cannot be read, and say so
        assert all(m["content_destroyed"] is True and m["text"] == DESTROYED_TEXT for m in shown)
        assert all(m["dlp"]["findings"] == [] for m in shown if "dlp" in m)  # nor the masked excerpt
        assert SECRET not in r.text
        rt.db.dispose()


OLD_SECRET = "六年前的授信批复：青龙三号额度八千万"
NOW_TEXT = "本月的授信例会纪要"


def _old_message(env: Env, conv: int, sender: int, at: datetime, body: str) -> None:
    """A message written at ``at`` (history from years ago): sealed under its month's key, as the send
    path sealed it then."""
    from mixun.db.models import Message, MessageVersion
    from mixun.services import texts

    with env.rt.db.write() as s:
        m = Message(conversation_id=conv, seq=1000, sender_id=sender, kind="text",
                    text=texts.seal(env.rt, conv, at, body), created_at=at)
        s.add(m)
        s.flush()
        s.add(MessageVersion(message_id=m.id, conversation_id=conv, version=1, kind="created", sender_id=sender,
                             actor_id=sender, text=texts.seal(env.rt, conv, at, body), created_at=at))


def _restore_with_own_keys(env: Env, archive: Path, key_file: Path, escrow: Path | None, tmp: Path,
                           name: str, other_host: bool = True) -> tuple[object, dict]:
    """The backup restored into a new data dir and database with ITS OWN key directory and ring (nothing
    of today's key store), the period keys from ``escrow``; on another host (a period key directory of its
    own, empty) unless ``other_host`` is false (then this host's period keys, as a restore on the machine
    that made the backup finds them)."""
    kind = "sqlite" if env.rt.db.is_sqlite else "postgresql"
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/{name}/mixun.db"
    else:
        url = fresh_database(kind, tmp / f"{name}-db")[0]
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    given = {"MIXUN_DATA_DIR": str(tmp / name), "MIXUN_DATABASE_URL": url}
    if other_host:
        given["MIXUN_PERIOD_KEYS_DIR"] = str(tmp / f"{name}-host-period-keys")
    settings = load_settings(given)
    manifest = backup.restore(settings, archive, key_file=key_file, periods=escrow)
    return settings, manifest


def _history(settings: object, conv_old: int, conv_now: int) -> tuple[list[dict], list[dict], str]:
    from mixun.api.app import create_app

    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40002)) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {tok}"}
        old = client.get(f"/api/v1/conversations/{conv_old}/messages", headers=h)
        now = client.get(f"/api/v1/conversations/{conv_now}/messages", headers=h)
        assert old.status_code == 200 and now.status_code == 200, (old.text, now.text)
        app.state.runtime.db.dispose()
        return ([m for m in old.json()["messages"] if m["kind"] == "text"],
                [m for m in now.json()["messages"] if m["kind"] == "text"], old.text + now.text)


def _opened_by_own_keys(settings: object, conv: int) -> list[str | None]:
    """The texts of ``conv``'s messages as stored in the restored database, opened with nothing but the
    restored key directory (this process also holds the other tests' rings, which the API's reads try)."""
    from mixun.keystore import keystore_from

    eng = create_engine(settings.database_url)  # type: ignore[attr-defined]
    with eng.connect() as c:
        values = [r[0] for r in c.execute(text("SELECT text FROM messages WHERE conversation_id = :c AND kind = 'text' "
                                               "ORDER BY seq"), {"c": conv})]
    eng.dispose()
    ring = keystore_from(settings).data_keys
    return [ring.open(v) for v in values]


def test_an_old_backup_restored_with_its_own_ring_cannot_show_a_destroyed_month(env: Env, tmp_path: Path) -> None:
    """Issue 20 item 10's test (ADR 0020): a backup taken before retention destroys a month, restored
    elsewhere with its OWN key directory and ring (and its backup key) plus the period keys' escrow the
    operator keeps, shows the destroyed month's messages as destroyed and the others as they were. The
    month's period key is destroyed (audited); it was never in any backup."""
    from mixun.keystore import period_of
    from mixun.services import keys

    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv_old = group(env, ta, [b], name="旧授信群")
    conv_now = group(env, ta, [b], name="本月例会群")
    old_at = datetime.now(UTC) - timedelta(days=6 * 365)  # beyond the default five years
    _old_message(env, conv_old, a, old_at, OLD_SECRET)
    send(env, ta, conv_now, NOW_TEXT)
    old_period = period_of(old_at)
    ring = env.rt.keys.data_keys
    old_key = ring.period_key_of(f"c:{conv_old}", old_period)
    assert old_key is not None and old_key[0] == ring.periods.tag("default"), "a group conversation under the default"
    old_label = period_label(old_period, old_key[0])
    assert ring.periods.path(old_period, old_key[0]).exists(), "the period key is kept in keys/periods"
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    keys.export_periods(cli_ctx(env), tmp_path / "escrow-before.bin", key)
    manifest = backup.backup(env.settings, tmp_path / "old.tgz", key)
    assert old_label in manifest["period_keys"]["needed"]
    assert not [n for n in manifest["files"] if "periods" in n], "no period key is in the backup"

    result = retention.run(cli_ctx(env), now=datetime.now(UTC))
    assert result["counts"]["messages"] == 1 and result["data_keys_destroyed"] == 1
    assert not ring.periods.path(old_period, old_key[0]).exists(), "the period key is destroyed"
    st = {p["label"]: p for p in keys.status(env.rt)["periods"]}
    assert st[old_label]["state"] == "destroyed" and st[old_label]["group_label"] == "默认"
    assert st[period_label(period_of(datetime.now(UTC)), old_key[0])]["state"] == "present"
    with env.rt.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_log WHERE action = 'keys.period_keys_destroyed'")).all()
    assert len(rows) == 1 and old_label in str(rows[0][0])
    keys.export_periods(cli_ctx(env), tmp_path / "escrow-after.bin", key)  # the escrow the operator keeps

    # The OLD backup restored on THIS host (a new data directory, its own ring and keys, no escrow): this
    # host's period keys read the current month; the destroyed month is gone here too.
    settings, restored = _restore_with_own_keys(env, tmp_path / "old.tgz", tmp_path / "backup.key", None,
                                                tmp_path, "samehost", other_host=False)
    assert restored["periods_missing"] == [old_label]
    old, now, raw_text = _history(settings, conv_old, conv_now)
    assert len(old) == 1 and old[0]["content_destroyed"] is True and old[0]["text"] == DESTROYED_TEXT
    assert [m["text"] for m in now] == [NOW_TEXT] and OLD_SECRET not in raw_text
    assert _opened_by_own_keys(settings, conv_old) == [None]

    # The OLD backup on ANOTHER host, its own ring and keys, today's escrow: the destroyed month reads as
    # destroyed.
    settings, restored = _restore_with_own_keys(env, tmp_path / "old.tgz", tmp_path / "backup.key",
                                                tmp_path / "escrow-after.bin", tmp_path, "elsewhere")
    assert restored["periods_missing"] == [old_label]
    assert not (settings.key_file.parent / "periods" / PeriodKeys.file_name(old_period, old_key[0])).exists()
    old, now, raw_text = _history(settings, conv_old, conv_now)
    assert len(old) == 1 and old[0]["content_destroyed"] is True and old[0]["text"] == DESTROYED_TEXT
    assert [m["text"] for m in now] == [NOW_TEXT] and now[0].get("content_destroyed") is not True
    assert OLD_SECRET not in raw_text
    assert _opened_by_own_keys(settings, conv_old) == [None]
    assert _opened_by_own_keys(settings, conv_now) == [NOW_TEXT]
    # Its own ring still holds the month's data key, wrapped, but nothing can open it.
    from mixun.keystore import keystore_from

    own = keystore_from(settings).data_keys
    assert any(scope == f"c:{conv_old}" and period == old_period for _k, scope, period in own.scopes())


def test_disaster_recovery_restores_a_backup_with_the_period_escrow(env: Env, tmp_path: Path) -> None:
    """A backup restores whole with the escrow taken beside it (every text readable), and says which
    months it could not restore when the escrow is missing (their texts read as destroyed, never a 500).
    An escrow taken BEFORE a destruction still holds the destroyed month: it is kept under its own short
    retention (docs/keys.md) - this test shows why."""
    from mixun.keystore import period_of
    from mixun.services import keys

    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv_old = group(env, ta, [b], name="旧授信群")
    conv_now = group(env, ta, [b], name="本月例会群")
    old_at = datetime.now(UTC) - timedelta(days=6 * 365)
    _old_message(env, conv_old, a, old_at, OLD_SECRET)
    send(env, ta, conv_now, NOW_TEXT)
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    backup.backup(env.settings, tmp_path / "b.tgz", key)
    keys.export_periods(cli_ctx(env), tmp_path / "escrow.bin", key)

    settings, restored = _restore_with_own_keys(env, tmp_path / "b.tgz", tmp_path / "backup.key",
                                                tmp_path / "escrow.bin", tmp_path, "dr")
    assert restored["periods_missing"] == []
    old, now, _raw = _history(settings, conv_old, conv_now)
    assert [m["text"] for m in old] == [OLD_SECRET] and [m["text"] for m in now] == [NOW_TEXT]
    assert _opened_by_own_keys(settings, conv_old) == [OLD_SECRET]
    assert _opened_by_own_keys(settings, conv_now) == [NOW_TEXT]

    # On the host that made the backup, no escrow is needed: "restore into an empty data dir" (INTERFACE.md)
    # brings back database, files and keys, and every text reads - the period keys stayed on the host.
    settings_here, here = _restore_with_own_keys(env, tmp_path / "b.tgz", tmp_path / "backup.key", None, tmp_path,
                                                 "here", other_host=False)
    assert here["periods_missing"] == [] and here["periods_restored"] == []
    tag = env.rt.keys.data_keys.periods.tag("default")  # both group conversations: the default policy's group
    assert sorted(here["periods_on_host"]) == sorted({period_label(period_of(old_at), tag),
                                                      period_label(period_of(datetime.now(UTC)), tag)})
    old, now, _raw = _history(settings_here, conv_old, conv_now)
    assert [m["text"] for m in old] == [OLD_SECRET] and [m["text"] for m in now] == [NOW_TEXT]

    # On another host without the escrow: nothing of the texts, said plainly; the escrow imported afterwards
    # restores them.
    settings2, bare = _restore_with_own_keys(env, tmp_path / "b.tgz", tmp_path / "backup.key", None, tmp_path,
                                             "bare")
    assert sorted(bare["periods_missing"]) == sorted({period_label(period_of(old_at), tag),
                                                      period_label(period_of(datetime.now(UTC)), tag)})
    assert _opened_by_own_keys(settings2, conv_old) == [None]  # read as destroyed, not an error
    assert _opened_by_own_keys(settings2, conv_now) == [None]
    from mixun.api.app import create_app

    app = create_app(settings2)  # writing into a month whose period key is missing: a clear error, not a 500
    with TestClient(app, client=("127.0.0.1", 40003)) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        r = client.post(f"/api/v1/conversations/{conv_now}/messages", headers={"Authorization": f"Bearer {tok}"},
                        json={"text": "恢复后的第一条"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "period_key_missing", r.text
        app.state.runtime.db.dispose()
    from mixun.keystore import keystore_from
    from mixun.services import period_escrow

    loaded = period_escrow.load(keystore_from(settings2), period_escrow.read(tmp_path / "escrow.bin",
                                                                                 tmp_path / "backup.key"))
    assert set(bare["periods_missing"]) < set(loaded["loaded"])  # and next month's, made ahead by the export
    assert _opened_by_own_keys(settings2, conv_old) == [OLD_SECRET]
    assert _opened_by_own_keys(settings2, conv_now) == [NOW_TEXT]


def test_a_restore_beside_the_running_original_gets_a_store_of_its_own(env: Env, tmp_path: Path) -> None:
    """ADR 0020, "A restore's own store": a backup restored on the same host while the deployment it came
    from still runs (a drill, a second copy) reads everything, but under a ring id and a period key store
    of its own, copied from the original's. What the copy destroys (its ring is older: no later holds) never
    touches the original; what the original's retention destroys is destroyed in the copy too."""
    from mixun.keystore import ORIGIN, keystore_from, period_of

    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv_old = group(env, ta, [b], name="旧授信群")
    conv_now = group(env, ta, [b], name="本月例会群")
    old_at = datetime.now(UTC) - timedelta(days=6 * 365)
    _old_message(env, conv_old, a, old_at, OLD_SECRET)
    send(env, ta, conv_now, NOW_TEXT)
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    backup.backup(env.settings, tmp_path / "b.tgz", key)
    live = env.rt.keys.data_keys
    settings, restored = _restore_with_own_keys(env, tmp_path / "b.tgz", tmp_path / "backup.key", None, tmp_path,
                                                "drill", other_host=False)
    assert restored["periods_missing"] == []
    copy = keystore_from(settings).data_keys
    assert copy.ring_id() != live.ring_id()
    assert (copy.periods.dir / ORIGIN).read_text() == live.ring_id()
    assert _opened_by_own_keys(settings, conv_old) == [OLD_SECRET]
    assert _opened_by_own_keys(settings, conv_now) == [NOW_TEXT]

    # The copy destroys its old month's key: the original still reads the month.
    old_pid = next(pid for pid in copy.periods.present() if pid[1] == period_of(old_at))
    copy.periods.destroy(old_pid[1], old_pid[0])
    assert _opened_by_own_keys(settings, conv_old) == [None]
    assert live.periods.path(old_pid[1], old_pid[0]).exists()
    original = env.client.get(f"/api/v1/conversations/{conv_old}/messages", headers=env.h(ta)).json()["messages"]
    assert [m["text"] for m in original if m["kind"] == "text"] == [OLD_SECRET]

    # A second copy; then the original's retention destroys the old month: gone from both copies' stores too.
    settings2, _r = _restore_with_own_keys(env, tmp_path / "b.tgz", tmp_path / "backup.key", None, tmp_path,
                                           "drill2", other_host=False)
    assert _opened_by_own_keys(settings2, conv_old) == [OLD_SECRET]
    result = retention.run(cli_ctx(env), now=datetime.now(UTC))
    assert result["counts"]["messages"] == 1
    assert not live.periods.path(old_pid[1], old_pid[0]).exists()
    copy2 = keystore_from(settings2).data_keys
    assert not copy2.periods.path(old_pid[1], old_pid[0]).exists(), "the original's destruction reached the copy"
    assert _opened_by_own_keys(settings2, conv_old) == [None]
    assert _opened_by_own_keys(settings2, conv_now) == [NOW_TEXT]
