"""Message text at rest (issue 20 items 7 and 10): after sending, editing, forwarding, drafting and
searching, neither the database (SQLite file and WAL; PostgreSQL's table contents via pg_dump), nor the
blob store, nor a backup (decrypted with its own key) holds any of the texts in the clear, while every
reader (history, search, the archive) still shows them."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.archive.conftest import officer
from tests.conftest import Env
from tests.helpers import group, send

SENT = "跨境汇款核查暗号青龙七号"
ASCII = "PurpleElephant42 wire to Zurich"
EDITED = "编辑以后的机密文本白虎八号"
DRAFT = "草稿里的秘密朱雀九号"
NOTICE = "群公告：玄武十号项目周五封版"
NOTICE_SMS = "【密讯】麒麟十一号核查通知请回电"  # a notification waiting in the outbox
ID_NUMBER = "11010519491231002X"  # masked by DLP in a group; its masked excerpt is 110105********002X
EXCERPT = "110105********002X"
PHRASES = [SENT, ASCII, EDITED, DRAFT, "青龙七号", "白虎八号", "朱雀九号", "PurpleElephant42", "玄武十号",
           NOTICE_SMS, "麒麟十一号", ID_NUMBER, EXCERPT]
S = "/api/v1/compliance/archive/search"
AML = {"category": "internal_investigation", "reason": "反洗钱专项检查，核对相关人员往来记录"}


def _leaks(data: bytes) -> list[str]:
    found = []
    for phrase in PHRASES:
        for enc in ("utf-8", "utf-16-le"):
            if phrase.encode(enc) in data:
                found.append(f"{phrase} ({enc})")
    return found


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _backup_members(env: Env, tmp: Path) -> dict[str, bytes]:
    """Every file inside a fresh backup, decrypted with the backup's own key."""
    from mixun.services import backup, backup_crypto

    key, _created = backup_crypto.key_from_file(tmp / "backup.key", create=True)
    out = tmp / "b.tgz"
    backup.backup(env.settings, out, key)
    plain = io.BytesIO()
    with out.open("rb") as fh:
        header = backup_crypto.read_header(fh)
        backup_crypto.decrypt_to(fh, header, backup_crypto.open_key(header, tmp / "backup.key", None), plain)
    plain.seek(0)
    members = {}
    with tarfile.open(fileobj=plain, mode="r:gz") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            if f is not None:
                members[m.name] = f.read()
    assert any(n.startswith("keys/") for n in members) and len(members) > 2
    return members


def test_no_message_text_in_the_clear_at_rest(env: Env, tmp_path: Path) -> None:
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = group(env, ta, "专项小组", [b])
    first = send(env, ta, conv, SENT).json()
    masked = send(env, ta, conv, f"身份证 {ID_NUMBER}").json()
    assert masked["dlp"]["action"] == "mask" and [f["masked"] for f in masked["dlp"]["findings"]] == [EXCERPT]
    send(env, ta, conv, ASCII)
    r = env.client.patch(f"/api/v1/messages/{first['id']}", headers=env.h(ta), json={"text": EDITED})
    assert r.status_code == 200, r.text
    assert env.client.put(f"/api/v1/drafts/{conv}", headers=env.h(tb), json={"text": DRAFT}).status_code == 204
    r = env.client.put(f"/api/v1/conversations/{conv}/notice", headers=env.h(ta), json={"text": NOTICE})
    assert r.status_code == 200 and r.json()["notice"]["text"] == NOTICE, r.text
    r = env.client.post("/api/v1/messages/forward", headers=env.h(tb),
                        json={"message_ids": [first["id"]], "conversation_id": conv, "merged": True})
    assert r.status_code == 201, r.text
    bundle = env.client.get(f"/api/v1/messages/{r.json()['messages'][0]['id']}/bundle", headers=env.h(ta))
    assert bundle.status_code == 200, bundle.text
    assert [i["text"] for i in bundle.json()["items"]] == [EDITED]

    # Every reader still sees the texts.
    hist = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
    texts = [m["text"] for m in hist]
    assert EDITED in texts and ASCII in texts and any(EDITED in t for t in texts if t.startswith("张三"))
    assert env.client.get("/api/v1/drafts", headers=env.h(tb)).json()["drafts"] == {str(conv): DRAFT}
    convs = env.client.get("/api/v1/conversations", headers=env.h(tb)).json()["conversations"]
    assert [c["notice"]["text"] for c in convs if c["id"] == conv] == [NOTICE]  # the group notice, opened
    own = env.client.get("/api/v1/search/messages", headers=env.h(tb), params={"q": "白虎"})
    assert own.status_code == 200, own.text
    assert EDITED in [x["text"] for x in own.json()["results"]]
    one = env.client.get("/api/v1/search/messages", headers=env.h(ta), params={"q": "虎"}).json()["results"]
    assert EDITED in [x["text"] for x in one], "a one-character query still finds it (hashed prefix range)"
    _, tok = officer(env)
    found = env.client.get(S, headers=env.h(tok), params={"q": "青龙七号", **AML})
    assert found.status_code == 200, found.text
    assert SENT in [x["text"] for x in found.json()["results"]]
    assert env.client.get(S, headers=env.h(tok), params={"q": "Elephant42", **AML}).json()["results"]
    from mixun.services import events

    with env.rt.db.read() as s:  # the event log (replayed to a reconnecting client) holds them sealed
        assert any(ASCII in body for _seq, body in events.read_events(s, b, 0))

    # DLP's masked excerpt: the sender's view and the DLP console (secadmin) show it as before.
    from tests.helpers import staff

    mine = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta)).json()["messages"]
    assert [f["masked"] for m in mine if m["id"] == masked["id"] for f in m["dlp"]["findings"]] == [EXCERPT]
    _sec, tsec = staff(env, "sec1", "安全员", "secadmin")
    hits = env.client.get("/api/v1/dlp/hits", headers=env.h(tsec))
    assert hits.status_code == 200 and [h["masked"] for h in hits.json()["hits"]] == [EXCERPT], hits.text
    _aud, taud = staff(env, "aud1", "审计员", "auditor")  # the audit trail's dlp.hit record, opened
    trail = env.client.get("/api/v1/admin/audit", headers=env.h(taud), params={"action": "dlp.hit"})
    assert trail.status_code == 200, trail.text
    assert [f["masked"] for r in trail.json()["records"] for f in r["details"]["findings"]] == [EXCERPT]
    from mixun.services import audit_checkpoints
    from mixun.services.runtime import Ctx

    report = audit_checkpoints.verify(Ctx(rt=env.rt))  # the chain hashes the excerpt as stored (sealed)
    assert report.ok, report
    # A notification waiting in the outbox: the outbox's reader (a gateway) and the sender get its text.
    from mixun.services import notifications

    sent: list[str] = []

    class Recorder:  # a channel like SMS or e-mail: what the dispatcher hands it is what goes out
        name = "sms"

        def wants(self, n: object) -> bool:
            return True

        def deliver(self, n: object) -> None:
            sent.append(n.text)  # type: ignore[attr-defined]

    env.rt.notifier.channels.append(Recorder())
    try:
        env.rt.notifier.send(b, "13800138000", NOTICE_SMS, subject="密讯")
        assert env.rt.notifier.idle(20)
    finally:
        env.rt.notifier.channels.pop()
    assert sent == [NOTICE_SMS]
    assert [x["text"] for x in notifications.outbox(env.rt) if x["user_id"] == b] == [NOTICE_SMS]
    outbox = env.settings.data_dir / "outbox"
    assert not {n: _leaks(d) for n, d in _files(outbox).items() if _leaks(d)}

    # Nothing at rest holds them in the clear.
    from sqlalchemy import text

    with env.rt.db.read_engine.connect() as c:  # raw values, past the columns' opening
        stored = [r[0] for r in c.execute(text("SELECT text FROM messages UNION ALL SELECT text FROM message_versions "
                                               "UNION ALL SELECT text FROM drafts UNION ALL SELECT notice FROM conversations")) if r[0]]
    assert stored and all(v.startswith("\x1fm1") for v in stored), stored
    with env.rt.db.read_engine.connect() as c:  # DLP's excerpts: the hit and the message's findings, sealed
        excerpts = [str(r[0]) for r in c.execute(text(
            "SELECT masked FROM dlp_hits UNION ALL SELECT CAST(dlp_findings AS TEXT) FROM messages "
            "WHERE dlp_action IS NOT NULL"))]
        tables = env.rt.db.read_engine.dialect.get_table_names(c)  # the audit trail's too
        cells = [str(v) for t in tables for row in c.execute(text(f'SELECT * FROM "{t}"')) for v in row  # noqa: S608
                 if v is not None]
    sealed_forms = ("\x1fm1", '"\\u001fm1')  # a text column's, a JSON column's (a JSON string)
    assert len(excerpts) == 2 and all(v.startswith(sealed_forms) and EXCERPT not in v for v in excerpts), excerpts
    assert not [v for v in cells if EXCERPT in v]
    blobs = env.settings.data_dir / "blobs"
    if blobs.exists():
        assert not {n: _leaks(d) for n, d in _files(blobs).items() if _leaks(d)}
    if env.rt.db.is_sqlite:
        env.client.get("/api/v1/drafts", headers=env.h(tb))
        path = Path(str(make_url(env.settings.database_url).database))
        files = {p: p.read_bytes() for p in path.parent.glob(path.name + "*")}
        assert any(str(p).endswith("-wal") for p in files), "the WAL is checked too"
        assert not {str(p): _leaks(d) for p, d in files.items() if _leaks(d)}
    else:
        url = make_url(env.settings.database_url)
        dump = subprocess.run(["pg_dump", "--data-only", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                               "-U", url.username or "postgres", url.database or ""],
                              capture_output=True, timeout=120, env={**os.environ, "PGPASSWORD": url.password or ""})
        assert dump.returncode == 0, dump.stderr
        assert b"message_versions" in dump.stdout
        assert not _leaks(dump.stdout)
    keys = _files(env.settings.key_file.parent)
    assert not {n: _leaks(d) for n, d in keys.items() if _leaks(d)}
    members = _backup_members(env, tmp_path)
    assert not {n: _leaks(d) for n, d in members.items() if _leaks(d)}
