"""`mixun keys status | rotate | destroy`: a new key-encryption key, every data key rewrapped online, files,
two-factor secrets and DLP originals still readable, retired keys destroyable, SM4-GCM selectable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import Env, build_env, host_env

MIXUN = str(Path(sys.executable).with_name("mixun"))
ID_NUMBER = "11010519491231002X"


@pytest.fixture(params=["sqlite", "postgresql"])
def kenv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param, MIXUN_FILES_WITHOUT_SCANNER="allow")
    yield e
    close()


def cli(env: Env, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    full = host_env()
    full.update({"MIXUN_DATA_DIR": str(env.settings.data_dir), "MIXUN_DATABASE_URL": env.settings.database_url,
                 **extra})
    return subprocess.run([MIXUN, *args], env=full, capture_output=True, text=True, timeout=180)


def _content(env: Env) -> dict[str, object]:
    """A file, an image-less DLP-masked group message and a two-factor secret, all under the keys."""
    import pyotp

    from mixun.db.models import User

    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    h = env.h(ta)
    group = env.client.post("/api/v1/conversations", headers=h,
                            json={"kind": "group", "name": "项目组", "members": [b]}).json()["id"]
    f = env.client.post(f"/api/v1/conversations/{group}/files", headers=h,
                        files={"file": ("周报.txt", "本周工作：密钥轮换演练。".encode(), "text/plain")})
    assert f.status_code == 201, f.text
    att = f.json()["attachments"][0]["id"]
    masked = env.client.post(f"/api/v1/conversations/{group}/messages", headers=h, json={"text": f"身份证 {ID_NUMBER}"})
    assert masked.status_code == 201
    enrol = env.client.post("/api/v1/auth/totp/enroll", headers=h)
    assert enrol.status_code == 200, enrol.text
    secret = enrol.json()["secret"]
    ok = env.client.post("/api/v1/auth/totp/verify", headers=h, json={"otp": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200, ok.text
    with env.rt.db.read() as s:
        assert s.execute(select(User.totp_secret_enc).where(User.username == "zhangsan")).scalar_one()
    return {"h": h, "attachment": att, "message": masked.json()["id"], "secret": secret}


def _readable(env: Env, c: dict[str, object]) -> None:
    """Everything the keys protect reads back as written (in a fresh key store, no cached keys)."""
    from mixun.db.models import MessageVersion, User
    from mixun.keystore import keystore_from

    r = env.client.get(f"/api/v1/attachments/{c['attachment']}", headers=c["h"])  # type: ignore[arg-type]
    assert r.status_code == 200 and r.content.decode() == "本周工作：密钥轮换演练。"
    keys = keystore_from(env.settings)
    with env.rt.db.read() as s:
        enc = s.execute(select(MessageVersion.original_enc).where(MessageVersion.message_id == c["message"])).scalar_one()
        assert keys.decrypt_small(enc, "dlp-original").decode() == f"身份证 {ID_NUMBER}"
        totp = s.execute(select(User.totp_secret_enc).where(User.username == "zhangsan")).scalar_one()
        assert keys.decrypt_small(totp, "totp").decode() == c["secret"]


def _status(env: Env) -> dict:
    from mixun.services import keys

    return keys.status(env.rt)


def _ctx(env: Env):  # noqa: ANN202
    from mixun.services.runtime import Ctx

    return Ctx(rt=env.rt, ip="127.0.0.1", client="tests")


def test_rotate_rewraps_everything_and_retired_keys_can_be_destroyed(kenv: Env) -> None:
    from mixun.errors import MixunError
    from mixun.services import keys

    c = _content(kenv)
    before = _status(kenv)
    assert before["current"] == 1 and before["versions"][0]["protects"] == {
        "message_texts": 1, "attachments": 1, "totp_secrets": 1, "dlp_originals": 1}

    out = keys.rotate(_ctx(kenv))
    assert out["version"] == 2 and out["rewrapped"] == 4 and out["left"] == 0 and not out["interrupted"]
    st = _status(kenv)
    assert st["current"] == 2
    by = {v["version"]: v for v in st["versions"]}
    assert by[1]["total"] == 0 and by[2]["total"] == 4 and by[2]["current"]
    _readable(kenv, c)
    # The running server wraps new data keys with the new version at once (it re-reads the pointer).
    g = kenv.client.post("/api/v1/conversations", headers=c["h"], json={"kind": "group", "name": "二组",
                                                                        "members": [kenv.make_user("wangwu", "王五")]})
    f = kenv.client.post(f"/api/v1/conversations/{g.json()['id']}/files", headers=c["h"],
                         files={"file": ("a.txt", "新文件".encode(), "text/plain")})
    assert f.status_code == 201
    assert {v["version"]: v["protects"]["attachments"] for v in _status(kenv)["versions"]}[2] == 2

    for version in (1, 2):  # master.key (also the login-name hash key) and the current key are kept
        with pytest.raises(MixunError) as refused:
            keys.destroy(_ctx(kenv), version)
        assert refused.value.code == "key_in_use"
    assert keys.rotate(_ctx(kenv))["left"] == 0
    keys.destroy(_ctx(kenv), 2)
    assert not (kenv.settings.key_file.parent / "kek-000002.key").exists()
    _readable(kenv, c)
    from mixun.db.models import AuditLog
    from mixun.services.audit_checkpoints import verify

    with kenv.rt.db.read() as s:
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.action.like("keys.%")))]
    assert actions.count("keys.rotated") == 2 and "keys.destroyed" in actions
    report = verify(_ctx(kenv))
    assert report.ok, report.reason


def test_the_cli_shows_rotates_and_refuses(tmp_path: Path) -> None:
    """The commands an operator runs, in Chinese and English, with their exit codes."""
    env, close = build_env(tmp_path, "sqlite", MIXUN_FILES_WITHOUT_SCANNER="allow")
    try:
        c = _content(env)
        shown = cli(env, "keys", "status")
        assert shown.returncode == 0 and "KEK v1" in shown.stdout and "当前" in shown.stdout
        out = cli(env, "keys", "rotate")
        assert out.returncode == 0, out.stderr
        assert "v2" in out.stdout and "rewrapped 4" in out.stdout
        assert json.loads(cli(env, "keys", "status", "--json").stdout)["current"] == 2
        refused = cli(env, "keys", "destroy", "1")
        assert refused.returncode == 2 and "master.key" in refused.stderr
        _readable(env, c)
        verify = cli(env, "audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        close()


def test_an_interrupted_rotation_leaves_everything_readable_and_a_second_one_finishes(kenv: Env) -> None:
    from mixun.services import keys

    c = _content(kenv)
    ctx = _ctx(kenv)
    keys.BATCH, saved = 1, keys.BATCH
    try:
        out = keys.rotate(ctx, should_stop=lambda: True)
    finally:
        keys.BATCH = saved
    assert out["interrupted"] and out["rewrapped"] == 1 and out["left"] == 3  # the text key went first
    _readable(kenv, c)
    assert keys.rotate(ctx)["left"] == 0
    st = _status(kenv)
    assert [v["total"] for v in st["versions"] if v["version"] != st["current"]] == [0, 0]
    _readable(kenv, c)


def test_the_archive_stays_append_only_outside_the_rotation(kenv: Env) -> None:
    """The rotation's permit lets an UPDATE change the wrapped key of a DLP original and nothing else;
    without it message_versions refuses every UPDATE."""
    from mixun.db.models import MessageVersion
    from mixun.services.keys import _close_permit, _permit

    c = _content(kenv)
    where = MessageVersion.message_id == c["message"]
    with pytest.raises(DBAPIError), kenv.rt.db.write() as s:
        s.execute(update(MessageVersion).where(where).values(original_enc=b"x"))
    with pytest.raises(DBAPIError), kenv.rt.db.write() as s:
        _permit(s)
        s.execute(update(MessageVersion).where(where).values(text="改写的证据"))
    with kenv.rt.db.write() as s:
        _permit(s)
        old = s.execute(select(MessageVersion.original_enc).where(where)).scalar_one()
        s.execute(update(MessageVersion).where(where).values(original_enc=kenv.rt.keys.rewrap_small(old, 1)))
        _close_permit(s)
    with pytest.raises(DBAPIError), kenv.rt.db.write() as s:  # the permit ended with its transaction
        s.execute(text("UPDATE message_versions SET original_enc = original_enc"))
    _readable(kenv, c)


def test_sm4_gcm_is_selectable_and_recorded_in_every_ciphertext(tmp_path: Path) -> None:
    from mixun.db.models import Attachment
    from mixun.keystore import KeyStore

    env, close = build_env(tmp_path, "sqlite", MIXUN_FILES_WITHOUT_SCANNER="allow", MIXUN_CIPHER="sm4-gcm")
    try:
        c = _content(env)
        _readable(env, c)
        with env.rt.db.read() as s:
            att = s.get(Attachment, c["attachment"])
            assert att is not None and att.data_key_wrapped[5] == 2, "the wrapped key records SM4"
            blob = env.settings.blob_dir / att.blob_key[:2] / att.blob_key
        assert KeyStore.sealed_algorithm(blob.read_bytes()) == "sm4-gcm", "the file's ciphertext records SM4"
        from mixun.services import keys

        assert _status(env)["cipher"] == "sm4-gcm"
        assert keys.rotate(_ctx(env))["left"] == 0
        _readable(env, c)
    finally:
        close()


@pytest.fixture
def softhsm(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A SoftHSM token of its own (PKCS#11), its PIN in a file, for one test."""
    import shutil

    from tests.conftest import need

    module = Path("/usr/lib/softhsm/libsofthsm2.so")
    need("SoftHSM (Debian softhsm2)", bool(shutil.which("softhsm2-util")) and module.exists())
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    pin = tmp_path / "hsm.pin"
    pin.write_text("246810\n")
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "mixun-test", "--pin", "246810",
                    "--so-pin", "13579"], check=True, capture_output=True)
    try:
        yield {"MIXUN_KEK_PROVIDER": "pkcs11", "MIXUN_PKCS11_MODULE": str(module), "MIXUN_PKCS11_TOKEN": "mixun-test",
               "MIXUN_PKCS11_PIN_FILE": str(pin)}
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved


def test_key_encryption_keys_in_an_hsm(tmp_path: Path, softhsm: dict[str, str]) -> None:
    """With MIXUN_KEK_PROVIDER=pkcs11 a rotation makes its KEK inside the HSM (no key file; not
    extractable), data keys are wrapped by the token, and a retired HSM key is destroyed in the token."""
    from pkcs11 import Attribute

    from mixun.keystore import KeyMissing, KeyStore
    from mixun.services import keys

    env, close = build_env(tmp_path, "sqlite", MIXUN_FILES_WITHOUT_SCANNER="allow", **softhsm)
    try:
        c = _content(env)
        out = keys.rotate(_ctx(env))
        assert out["left"] == 0 and out["rewrapped"] == 4
        assert not (env.settings.key_file.parent / "kek-000002.key").exists(), "the KEK never touches the disk"
        st = _status(env)
        assert st["provider"] == "pkcs11"
        assert {v["version"]: v["where"] for v in st["versions"]} == {1: "file", 2: "hsm"}
        assert env.rt.keys.hsm._key(2)[Attribute.EXTRACTABLE] is False
        assert env.rt.keys.hsm._key(2)[Attribute.COPYABLE] is False  # no copy outlives its destruction
        assert env.rt.keys.hsm._key(2)[Attribute.MODIFIABLE] is False  # nor a relabelled one
        _readable(env, c)
        # Whoever copies the data directory (keys included) without the HSM cannot unwrap anything.
        from mixun.db.models import Attachment

        with env.rt.db.read() as s:
            wrapped = s.get(Attachment, c["attachment"]).data_key_wrapped
        with pytest.raises(KeyMissing):
            KeyStore(env.settings.key_file).unwrap(wrapped)
        # The server keeps working through a rotation; the retired HSM key is destroyed in the token.
        assert keys.rotate(_ctx(env))["left"] == 0
        keys.destroy(_ctx(env), 2)
        assert 2 not in env.rt.keys.hsm.versions() and 3 in env.rt.keys.hsm.versions()
        shown = cli(env, "keys", "status", **softhsm)
        assert shown.returncode == 0 and "HSM (PKCS#11)" in shown.stdout, shown.stderr
        _readable(env, c)
    finally:
        close()


def test_rotation_under_load_rewraps_message_text_keys_and_loses_nothing(kenv: Env) -> None:
    """Messages keep being sent (new conversations, so new data keys) while `keys rotate` rewraps the
    message-text data keys in batches: afterwards every key is under the new KEK, `keys status` counts
    them there, and every message sent before, during and after reads back as sent, through a fresh key
    store with no cached keys."""
    import threading

    from mixun.keystore import keystore_from
    from mixun.sendpath import batch
    from mixun.sendpath.request import SendRequest
    from mixun.services import keys
    from mixun.services.runtime import Ctx

    env = kenv
    a, _ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    convs = [env.client.post("/api/v1/conversations", headers=env.h(tb),
                             json={"kind": "group", "name": f"组{i}", "members": [a]}).json()["id"] for i in range(12)]
    ring = env.rt.keys.data_keys
    ring.keys_for([(f"c:{c}", p) for c in convs for p in range(202001, 202013)]
                  + [(f"c:{9_000_000 + i}", 202101) for i in range(1100)])  # old months: > 2 batches of 500
    from mixun.db.models import User
    from mixun.services.auth import _principal

    with env.rt.db.read() as s:
        ctx = Ctx(rt=env.rt, principal=_principal(s.get(User, b), None, False), ip="127.0.0.1", client="tests")
    sent: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def load() -> None:
        i = 0
        while not stop.is_set() or i < 20:
            t = f"轮换期间的消息 {i} 号"
            try:
                batch.send(SendRequest(ctx, convs[i % len(convs)], t)).unwrap()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            sent.append(t)
            i += 1

    before = env.rt.keys.current_version()
    worker = threading.Thread(target=load)
    worker.start()
    out = keys.rotate(Ctx(rt=env.rt, ip="127.0.0.1", client="mixun-cli (tests)"))
    stop.set()
    worker.join(60)
    assert not errors, errors
    assert out["version"] == before + 1 and out["left"] == 0 and not out["interrupted"]
    assert out["rewrapped"] >= 1100 + 12 * 12
    assert ring.pending(out["version"]) == 0
    st = keys.status(env.rt)
    row = next(v for v in st["versions"] if v["version"] == out["version"])
    assert row["protects"]["message_texts"] == len(ring.scopes())
    assert all(v["protects"]["message_texts"] == 0 for v in st["versions"] if v["version"] != out["version"])
    fresh = keystore_from(env.settings)  # no cached keys: every one unwraps under the new KEK
    for _kid, scope, period in ring.scopes()[:50]:
        fresh.data_keys.keys_for([(scope, period)])
    with env.rt.db.read_engine.connect() as c:
        raw = [r[0] for r in c.execute(text("SELECT text FROM messages"))]  # as stored, not opened
    assert raw and all(v.startswith("\x1fm1") for v in raw)
    opened = [fresh.data_keys.open(v) for v in raw]
    assert sorted(t for t in opened if t and "轮换期间" in t) == sorted(sent) and len(sent) >= 20


def test_encrypt_existing_seals_plain_rows_resumably_and_they_read_as_before(kenv: Env) -> None:
    """Rows from before message-text encryption (plain) read as before; `keys encrypt-existing` seals
    them in batches, can stop between batches (everything still readable), and a second run finishes;
    the archive's append-only rule lets it replace a plain version text by a sealed one and nothing else."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from mixun.db.models import EventPayload, MessageVersion
    from mixun.db.models_dlp import DlpHit
    from mixun.services import keys
    from tests.helpers import staff

    env = kenv
    findings = [{"detector": "prohibited", "start": 0, "end": 4, "masked": "旧摘录己***", "action": "mask",
                 "category": None}]
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = env.client.post("/api/v1/conversations", headers=env.h(ta),
                           json={"kind": "group", "name": "旧群", "members": [b]}).json()["id"]
    empty = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json={"text": "空"}).json()
    m = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json={"text": "新消息"}).json()
    assert env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(tb), json={"text": "新草稿"}).status_code == 204
    old, old_draft = "升级以前的旧消息甲", "升级以前的旧草稿乙"
    with env.rt.db.write() as s:  # what a database from before this change holds: plain text
        s.execute(text("UPDATE messages SET text = :t WHERE id = :i"), {"t": old, "i": m["id"]})
        s.execute(text("UPDATE drafts SET text = :t WHERE conversation_id = :c"), {"t": old_draft, "c": conv})
        s.execute(text("UPDATE messages SET text = '' WHERE id = :i"), {"i": empty["id"]})  # nothing to seal
        s.execute(text("UPDATE conversations SET notice = :t, notice_version = 1, notice_at = :at WHERE id = :c"),
                  {"t": "升级以前的群公告丙", "at": datetime.now(UTC), "c": conv})
        s.execute(insert(MessageVersion.__table__).values(
            message_id=m["id"], conversation_id=conv, version=2, kind="edited", sender_id=a, actor_id=a, text=old,
            created_at=datetime.now(UTC)))
        s.execute(insert(EventPayload.__table__).values(
            type="message.created", body=json.dumps({"type": "message.created", "conversation_id": conv,
                                                     "message": {"text": old}}, ensure_ascii=False),
            created_at=datetime.now(UTC)))
        # DLP's masked excerpts as stored before: the message's findings and two hits (one outside any
        # conversation, sealed under the ring's dlp scope).
        s.execute(text("UPDATE messages SET dlp_action = 'mask', dlp_findings = :f WHERE id = :i"),
                  {"f": json.dumps(findings, ensure_ascii=False), "i": m["id"]})
        for target, masked in ((f"conversation:{conv}", "旧摘录丁****"), ("announcement", "旧摘录戊****")):
            s.execute(insert(DlpHit.__table__).values(user_id=a, detector="prohibited", action="mask",
                                                      channel="group", target=target, masked=masked,
                                                      created_at=datetime.now(UTC)))
    plain = keys.plain_counts(env.rt)
    assert plain["messages"] == 1 and plain["message_versions"] == 1 and plain["drafts"] == 1
    assert plain["event_payloads"] == 1 and plain["group_notices"] == 1
    assert plain["dlp_findings"] == 1 and plain["dlp_hits"] == 2

    def shown() -> tuple[str, str]:
        hist = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
        return hist[-1]["text"], env.client.get("/api/v1/drafts", headers=env.h(tb)).json()["drafts"][str(conv)]

    assert shown() == (old, old_draft)
    keys.BATCH, saved = 1, keys.BATCH
    try:
        out = keys.encrypt_existing(_ctx(env), should_stop=lambda: True)
    finally:
        keys.BATCH = saved
    assert out["interrupted"] and out["sealed"] == 1 and out["left"] == 7
    assert shown() == (old, old_draft)
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")

    def excerpts() -> tuple[list[object], list[str]]:
        mine = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta)).json()["messages"]
        hits = env.client.get("/api/v1/dlp/hits", headers=env.h(tsec)).json()["hits"]
        return [x["dlp"]["findings"] for x in mine if x["id"] == m["id"]], sorted(h["masked"] for h in hits)

    before = excerpts()
    assert before == ([findings], ["旧摘录丁****", "旧摘录戊****"])
    out = keys.encrypt_existing(_ctx(env))
    assert out["left"] == 0 and out["sealed"] == 7 and not out["interrupted"]
    assert sum(keys.plain_counts(env.rt).values()) == 0
    assert shown() == (old, old_draft)
    assert excerpts() == before  # the sender and the DLP console see what they saw
    with env.rt.db.read_engine.connect() as c:
        stored = [str(r[0]) for r in c.execute(text("SELECT masked FROM dlp_hits UNION ALL "
                                                    "SELECT CAST(dlp_findings AS TEXT) FROM messages WHERE id = :i"),
                                               {"i": m["id"]})]
    assert len(stored) == 3 and not [v for v in stored if "旧摘录" in v or "\\u65e7" in v], stored
    scopes = {scope for _k, scope, _p in env.rt.keys.data_keys.scopes()}
    assert "dlp" in scopes and f"c:{conv}" in scopes
    with env.rt.db.read_engine.connect() as c:
        raw = [r[0] for r in c.execute(text("SELECT text FROM messages UNION ALL SELECT text FROM message_versions "
                                            "UNION ALL SELECT text FROM drafts UNION ALL SELECT body FROM event_payloads "
                                            "UNION ALL SELECT notice FROM conversations"))]
    assert not [v for v in raw if old in v or old_draft in v or "群公告丙" in v]
    convs = env.client.get("/api/v1/conversations", headers=env.h(tb)).json()["conversations"]
    assert [c["notice"]["text"] for c in convs if c["id"] == conv] == ["升级以前的群公告丙"]
    with pytest.raises(DBAPIError), env.rt.db.write() as s:  # the archive still refuses a rewrite, permit or not
        keys._permit(s)
        s.execute(update(MessageVersion).where(MessageVersion.message_id == m["id"]).values(text="改写"))
    out = cli(env, "keys", "encrypt-existing")
    assert out.returncode == 0 and "plain left 0" in out.stdout, out.stdout + out.stderr


def _conversation_text(env: Env, body: str) -> tuple[int, str]:
    """A group message; (conversation id, the sealed value stored)."""
    _a, ta = env.person("wangwu", "王五")
    b, _tb = env.person("zhaoliu", "赵六")
    h = env.h(ta)
    conv = env.client.post("/api/v1/conversations", headers=h,
                           json={"kind": "group", "name": "期间密钥", "members": [b]}).json()["id"]
    r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=h, json={"text": body})
    assert r.status_code == 201, r.text
    with env.rt.db.read_engine.connect() as c:
        stored = c.execute(text("SELECT text FROM messages WHERE id = :i"), {"i": r.json()["id"]}).scalar_one()
    assert str(stored).startswith("\x1fm1") and body not in str(stored)  # as stored: sealed
    return int(conv), str(stored)


def test_rotation_wraps_old_ring_entries_under_period_keys_and_keeps_the_period_layer(kenv: Env) -> None:
    """A ring from before period keys (a conversation's data key under the KEK alone) reads as before; the
    next rotation wraps it under its month's period key too (online, compare-and-set), `keys status` counts
    it before and after, and from then on it opens only with the period key. A later rotation rewraps the
    KEK layer and leaves the period layer as it is."""
    import shutil
    from datetime import UTC, datetime

    from mixun.keystore import KeyStore, period_of
    from mixun.services import keys

    body = "旧格式密钥环中的授信记录"
    conv, stored = _conversation_text(kenv, body)
    ring = kenv.rt.keys.data_keys
    period = period_of(datetime.now(UTC))
    key_id = next(k for k, s, p in ring.scopes() if s == f"c:{conv}" and p == period)
    dek = ring.dek(key_id)
    assert dek is not None
    db = ring._db()
    (before,) = db.execute("SELECT wrapped FROM data_keys WHERE id = ?", (key_id,)).fetchone()
    # Made as the code before period keys made it: the data key under the current KEK alone.
    db.execute("UPDATE data_keys SET wrapped = ?, period_wrapped = 0 WHERE id = ?",
               (kenv.rt.keys.wrap(dek, kenv.rt.keys.current_version()), key_id))
    assert KeyStore(kenv.settings.key_file).data_keys.open(stored) == body  # the old form still reads
    st = {p["label"]: p for p in _status(kenv)["periods"]}
    assert st[str(period)]["legacy"] >= 1  # counted on the month-wide key, which the rotation wraps it under

    out = keys.rotate(_ctx(kenv))
    assert out["left"] == 0
    (pw, wrapped) = db.execute("SELECT period_wrapped, wrapped FROM data_keys WHERE id = ?", (key_id,)).fetchone()
    assert pw == 1 and bytes(wrapped) != bytes(before)
    st = {p["label"]: p for p in _status(kenv)["periods"]}
    month = st[str(period)]
    assert month["legacy"] == 0 and month["protects"] >= 1 and month["where"] == "file"
    assert KeyStore(kenv.settings.key_file).data_keys.open(stored) == body
    # It now needs the period key: without the file nothing opens it (and it says so: None, not an error).
    pfile = ring.periods.path(period)
    shutil.move(pfile, pfile.with_suffix(".aside"))
    try:
        assert KeyStore(kenv.settings.key_file).data_keys.open(stored) is None
    finally:
        shutil.move(pfile.with_suffix(".aside"), pfile)
    inner = kenv.rt.keys.unwrap(bytes(wrapped))
    assert keys.rotate(_ctx(kenv))["left"] == 0  # the KEK layer rewrapped, the period layer unchanged
    (again,) = db.execute("SELECT wrapped FROM data_keys WHERE id = ?", (key_id,)).fetchone()
    assert kenv.rt.keys.wrapped_version(bytes(again)) == out["version"] + 1
    assert kenv.rt.keys.unwrap(bytes(again)) == inner
    assert KeyStore(kenv.settings.key_file).data_keys.open(stored) == body
    shown = cli(kenv, "keys", "status")
    assert shown.returncode == 0 and f"{period}" in shown.stdout and "期间密钥 period keys" in shown.stdout, shown.stderr


def test_period_keys_in_an_hsm(tmp_path: Path, softhsm: dict[str, str]) -> None:
    """With MIXUN_KEK_PROVIDER=pkcs11 a month's period key is made inside the token (never extractable,
    no file), a copy of the key directory cannot open the texts, the escrow names it without holding it,
    and retention's destruction destroys it in the token."""
    from datetime import UTC, datetime

    from pkcs11 import Attribute

    from mixun.keystore import KeyStore, period_label, period_of
    from mixun.services import backup_crypto, keys, period_escrow

    env, close = build_env(tmp_path, "sqlite", MIXUN_FILES_WITHOUT_SCANNER="allow", **softhsm)
    try:
        body = "HSM 保护的月度授信纪要"
        conv, stored = _conversation_text(env, body)
        period = period_of(datetime.now(UTC))
        hsm = env.rt.keys.hsm
        ring = env.rt.keys.data_keys
        pid = ring.period_key_of(f"c:{conv}", period)
        assert pid is not None and pid[0] == ring.periods.tag("default"), "the group's key of the month"
        tag = pid[0]
        label = period_label(period, tag)
        assert pid in hsm.periods()
        assert hsm._period_key(period, tag)[Attribute.EXTRACTABLE] is False
        assert hsm._period_key(period, tag)[Attribute.COPYABLE] is False
        assert hsm._period_key(period, tag)[Attribute.MODIFIABLE] is False
        assert hsm._period_key(period, tag).label == f"mixun-period-{label}", "an opaque tag in the label"
        assert not ring.periods.path(period, tag).exists(), "the period key never touches the disk"
        assert ring.open(stored) == body
        assert KeyStore(env.settings.key_file).data_keys.open(stored) is None  # the key directory alone
        key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
        out = keys.export_periods(_ctx(env), tmp_path / "escrow.bin", key)
        assert label in out["in_hsm"] and label not in out["periods"]
        assert pid not in period_escrow.read(tmp_path / "escrow.bin", tmp_path / "backup.key")
        st = {p["label"]: p for p in _status(env)["periods"]}
        assert st[label]["where"] == "hsm" and st[label]["protects"] >= 1 and st[label]["group_label"] == "默认"
        # Retention destroyed every conversation's key of the month: the period key goes, in the token
        # (with the month-wide key the export made ahead, which wraps nothing).
        ring.destroy([(s, p) for _k, s, p in ring.scopes() if p == period and s.startswith("c:")], "retention")
        # (The token is shared by this session's tests: other tests' groups of the month may go too.)
        assert {pid, ("", period)} <= set(ring.destroy_spent_periods(period + 1, "retention"))
        assert pid not in hsm.periods()
        st = {p["label"]: p for p in _status(env)["periods"]}
        assert st[label]["state"] == "destroyed"
        assert keystore_ring(env).open(stored) is None
    finally:
        close()


def keystore_ring(env: Env):  # noqa: ANN201
    from mixun.keystore import keystore_from

    return keystore_from(env.settings).data_keys


# ---- the period keys' hostile review (ADR 0020, "What a missing, a destroyed and a planted key do") ----

def _legacy(ring, scope: str, period: int) -> int:  # noqa: ANN001
    """A conversation-month key as the code before period keys made it: under the KEK alone."""
    import secrets

    key_id = secrets.randbits(62) + 1
    wrapped = ring.keys.wrap(secrets.token_bytes(32), ring.keys.current_version())
    ring._db().execute("INSERT INTO data_keys (id, scope, period, wrapped, kek_version, created_at, period_wrapped) "
                       "VALUES (?, ?, ?, ?, ?, ?, 0)", (key_id, scope, period, wrapped, ring.keys.current_version(),
                                                         "2019-01-01T00:00:00+00:00"))
    return key_id


def test_a_missing_period_key_is_never_replaced_by_a_new_one(kenv: Env, tmp_path: Path) -> None:
    """D1: the month's key is missing while the ring holds keys wrapped under it (a restore without the
    escrow): a send into a new conversation of that month is a 503, not a fresh key; the escrow then goes
    back in and every conversation of the month reads and writes again."""
    from datetime import UTC, datetime

    import pytest

    from mixun.keystore import KeyStore, PeriodKeyGone, period_label, period_of
    from mixun.services import backup_crypto, keys, period_escrow

    body = "恢复后缺少期间密钥的旧会话"
    conv, stored = _conversation_text(kenv, body)
    ring = kenv.rt.keys.data_keys
    period = period_of(datetime.now(UTC))
    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    keys.export_periods(_ctx(kenv), tmp_path / "escrow.bin", key)
    pid = ring.period_key_of(f"c:{conv}", period)
    assert pid is not None and pid[0]
    tag = pid[0]
    pfile = ring.periods.path(period, tag)
    pfile.unlink()
    ring.periods._material.clear()
    ring._by_scope.clear()
    ring._by_id.clear()
    ring._aeads.clear()
    with pytest.raises(PeriodKeyGone):
        ring.keys_for([("c:987654", period)], group_of=lambda cids: {c: "default" for c in cids})
    assert not pfile.exists(), "no fresh key for a month whose key is missing"
    _a, ta = kenv.person("qianqi", "钱七")
    c, _tc = kenv.person("sunba", "孙八")
    h = kenv.h(ta)
    made = kenv.client.post("/api/v1/conversations", headers=h,
                            json={"kind": "group", "name": "新会话", "members": [c]})
    assert made.status_code == 503 and made.json()["error"]["code"] == "period_key_missing", made.text
    assert not pfile.exists()
    out = keys.import_periods(_ctx(kenv), tmp_path / "escrow.bin", key_file=tmp_path / "backup.key")
    assert period_label(period, tag) in out["loaded"]
    assert KeyStore(kenv.settings.key_file).data_keys.open(stored) == body
    other = kenv.client.post("/api/v1/conversations", headers=h,
                             json={"kind": "group", "name": "新会话", "members": [c]}).json()["id"]
    r = kenv.client.post(f"/api/v1/conversations/{other}/messages", headers=h, json={"text": "本月新会话"})
    assert r.status_code == 201, r.text
    assert conv != other and ring.periods.material(period, tag) == period_escrow.read(
        tmp_path / "escrow.bin", tmp_path / "backup.key")[pid]


def test_a_month_with_keys_under_the_kek_alone_keeps_its_period_key_and_a_destroyed_month_stays_so(
        kenv: Env) -> None:
    """D2: a closed month whose only conversation key is still under the KEK alone (from before period
    keys, a held conversation) keeps its period key. A destroyed month's key is never made again: a new
    key of it is refused, and a rotation leaves such a month's keys under the KEK alone."""
    import pytest

    from mixun.keystore import PeriodKeyGone
    from mixun.services import keys

    ring = kenv.rt.keys.data_keys
    kept, gone = 201902, 201901
    ring.keys_for([("c:900001", kept)])
    ring._db().execute("DELETE FROM data_keys WHERE scope = 'c:900001'")
    _legacy(ring, "c:900001", kept)  # the month's period key exists, its conversation key is KEK only
    ring.keys_for([("c:900002", gone)])
    ring.destroy([("c:900002", gone)], "retention")
    assert ring.destroy_spent_periods(201903, "retention") == [("", gone)]
    assert ring.periods.path(kept).exists(), "a KEK-only conversation key of the month keeps its period key"
    with pytest.raises(PeriodKeyGone):
        ring.keys_for([("c:900003", gone)])
    assert not ring.periods.path(gone).exists()
    stale = _legacy(ring, "c:900004", gone)  # as a ring from before the tombstone would hold it
    assert keys.rotate(_ctx(kenv))["left"] == 0
    (pw,) = ring._db().execute("SELECT period_wrapped FROM data_keys WHERE id = ?", (stale,)).fetchone()
    assert pw == 0 and not ring.periods.path(gone).exists() and ("", gone) in ring.destroyed_periods()
    (pw,) = ring._db().execute("SELECT period_wrapped FROM data_keys WHERE scope = 'c:900001'").fetchone()
    assert pw == 1  # the kept month's old key is wrapped under its (still present) period key


def test_a_bad_escrow_entry_refuses_the_whole_import_and_a_partial_one_is_audited(kenv: Env, tmp_path: Path) -> None:
    """D4: every entry is checked before any is written: a later month with a different key (or not 32
    bytes) leaves the earlier months unwritten. A write failing part way is audited with what it wrote."""
    import secrets

    import pytest

    from mixun.services import backup_crypto, keys, period_escrow

    ring = kenv.rt.keys.data_keys
    ring.keys_for([("c:910001", 202001)])
    have = ring.periods.material(202001)
    for bad in ({("", 201801): secrets.token_bytes(32), ("", 202001): secrets.token_bytes(32)},
                {("", 201801): secrets.token_bytes(32), ("", 201802): b"short"}):
        with pytest.raises(ValueError):
            period_escrow.load(kenv.rt.keys, bad)
        assert not ring.periods.path(201801).exists(), "nothing written when one entry is refused"
    assert ring.periods.material(202001) == have

    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    escrow = tmp_path / "escrow.bin"
    keys.export_periods(_ctx(kenv), escrow, key)
    for group, p in ring.periods.present():
        ring.periods.path(p, group).unlink()
    ring.periods._material.clear()
    real, calls = ring.periods.load, []

    def failing(period: int, material: bytes, group: str = "") -> bool:
        calls.append(period)
        if len(calls) > 1:
            raise OSError("disk full")
        return real(period, material, group)

    ring.periods.load = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError):
            keys.import_periods(_ctx(kenv), escrow, key_file=tmp_path / "backup.key")
    finally:
        del ring.periods.load
    with kenv.rt.db.read_engine.connect() as c:
        rows = c.execute(text("SELECT details FROM audit_log WHERE action = 'keys.period_keys_imported'")).all()
    assert rows and str(calls[0]) in str(rows[-1][0]), rows


def test_a_destroyed_month_never_looks_merely_missing(kenv: Env) -> None:
    """H1: the tombstone is committed before the key is destroyed: a commit that fails leaves the key
    where it was; a destruction that fails after the tombstone is finished by the next run. H2: a leftover
    temporary of the key file goes with it."""
    import pytest

    ring = kenv.rt.keys.data_keys
    ring.keys_for([("c:920001", 201905)])
    ring.destroy([("c:920001", 201905)], "retention")
    db = ring._db()
    leftover = ring.periods.dir / ".period-201905.4242.abcd1234"
    leftover.write_bytes(ring.periods.material(201905))

    def no_commit() -> None:
        raise RuntimeError("the ring's disk went away")

    db.commit = no_commit  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            ring.destroy_spent_periods(201906, "retention")
    finally:
        del db.commit
    assert ring.periods.path(201905).exists() and ("", 201905) not in ring.destroyed_periods()

    real = ring.periods.destroy

    def broken(period: int, group: str = "") -> None:
        raise OSError("I/O error")

    ring.periods.destroy = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError):
            ring.destroy_spent_periods(201906, "retention")
    finally:
        ring.periods.destroy = real  # type: ignore[method-assign]
    assert ("", 201905) in ring.destroyed_periods()  # tombstoned: an escrow import refuses it from now on
    st = {p["period"]: p for p in ring.period_status()}
    assert st[201905]["state"] == "present"
    assert ring.destroy_spent_periods(201906, "retention") == [("", 201905)]
    assert not ring.periods.path(201905).exists() and not leftover.exists()
    assert {p["period"]: p for p in ring.period_status()}[201905]["state"] == "destroyed"


def test_the_escrow_is_never_written_into_the_data_or_key_directory_and_never_unaudited(
        kenv: Env, tmp_path: Path) -> None:
    """H6/H7/H8: `--out` inside the data directory or the key directory is refused (the next backup would
    carry it); the file is owner-only; an audit that fails leaves no escrow and no temporary behind."""
    import pytest

    from mixun.services import backup_crypto, keys, period_escrow

    key, _ = backup_crypto.key_from_file(tmp_path / "backup.key", create=True)
    for inside in (kenv.settings.data_dir / "escrow.bin", kenv.rt.keys.dir / "periods" / "escrow.bin"):
        with pytest.raises(period_escrow.EscrowPathRefused):
            keys.export_periods(_ctx(kenv), inside, key)
        assert not inside.exists()
    out = tmp_path / "esc" / "escrow.bin"

    def audit_fails(_result: dict) -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        period_escrow.write(kenv.rt.keys, out, key, record=audit_fails)
    assert list(out.parent.iterdir()) == [], "no escrow without its audit, no temporary left"
    keys.export_periods(_ctx(kenv), out, key)
    assert out.stat().st_mode & 0o077 == 0 and [p.name for p in out.parent.iterdir()] == ["escrow.bin"]
    refused = cli(kenv, "keys", "export-periods", "--out", str(kenv.settings.data_dir / "e.bin"),
                  MIXUN_BACKUP_KEY_FILE=str(tmp_path / "backup.key"))
    assert refused.returncode == 2 and "escrow must not be written inside" in refused.stderr, refused.stderr


def test_a_planted_period_key_file_is_never_used_with_an_hsm(tmp_path: Path, softhsm: dict[str, str]) -> None:
    """D3: with an HSM, a key file for a month with no data key yet (planted by someone with a shell) is
    ignored: the month's key is made in the token, texts are wrapped there, and `keys status` flags the
    file."""
    import secrets

    env, close = build_env(tmp_path, "sqlite", MIXUN_FILES_WITHOUT_SCANNER="allow", **softhsm)
    try:
        ring = env.rt.keys.data_keys
        planted = 203001
        ring.periods.dir.mkdir(parents=True, exist_ok=True)
        ring.periods.path(planted).write_bytes(secrets.token_bytes(32))
        st = {p["period"]: p for p in _status(env)["periods"]}
        assert st[planted]["stray_file"] is True
        sealed = ring.seal("c:930001", planted, "下月的授信计划")
        assert ("", planted) in env.rt.keys.hsm.periods()
        ring.periods.path(planted).unlink()  # the file was never what wrapped it
        ring.periods._material.clear()
        ring._by_id.clear()
        ring._aeads.clear()
        assert ring.open(sealed) == "下月的授信计划"
        ring.periods.path(planted).write_bytes(secrets.token_bytes(32))
        assert {p["period"]: p for p in _status(env)["periods"]}[planted]["stray_file"] is True  # the token has it
        # (The command runs in a process of its own, which a test's SoftHSM may not share: a month with no
        # data key at all is flagged without asking the token.)
        ring.periods.path(planted + 1).write_bytes(secrets.token_bytes(32))
        shown = cli(env, "keys", "status", **softhsm)
        assert shown.returncode == 0 and "WARNING: a period key file for 203002" in shown.stdout, shown.stdout
    finally:
        close()
