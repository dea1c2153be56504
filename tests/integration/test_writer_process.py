"""`mixun serve` writes sends in a writer process of its own (sendpath/transport.py): the sends it
writes are delivered, checked and answered exactly as the in-process writer's; a writer that dies loses
no acknowledged send, leaves no request waiting and is replaced; it never outlives its server."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from tests.conftest import PASSWORD, fresh_database, host_env
from tests.helpers import Server, add_people

ID_NUMBER = "11010519491231002X"
PEOPLE = (("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五"))


def _writer_pids(parent: int) -> list[int]:
    """The pids of ``parent``'s children that run the send writer."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"mixun.sendpath.transport" in cmdline:
            pids.append(int(entry))
    return pids


def _writer_of(server: Server, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _writer_pids(server.proc.pid)
        if pids:
            assert len(pids) == 1, pids
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"no send writer process: {server.output()}")


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited; its parent has not reaped it yet
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """(data dir, database url, ids by username) of an initialised database with three employees."""
    from mixun.config import load_settings

    data = tmp_path / "data"
    env = {"MIXUN_DATA_DIR": str(data)}
    cleanup: Any = lambda: None  # noqa: E731
    if request.param == "postgresql":
        url, cleanup = fresh_database("postgresql", tmp_path)
        env["MIXUN_DATABASE_URL"] = url
    settings = load_settings(env)
    ids = add_people(settings, PEOPLE)
    yield data, env.get("MIXUN_DATABASE_URL"), ids, settings.database_url
    cleanup()


class _Client:
    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.tokens: dict[str, str] = {}

    def login(self, username: str) -> dict[str, str]:
        r = self.http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def conversation(self, h: dict[str, str], **body: Any) -> int:
        r = self.http.post("/api/v1/conversations", headers=h, json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def _next_event(ws: Any, type_: str, timeout: float = 10) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        if frame.get("type") == type_:
            return frame


def test_sends_are_written_by_the_writer_process(served: Any) -> None:
    """Under `mixun serve` a child process writes the sends: they are delivered live, their DLP verdicts
    (taken in the server) and the writer's own refusals come back as from the in-process writer."""
    from websockets.sync.client import connect as ws_connect

    from mixun.db.models import MessageVersion
    from mixun.db.models_archive import PendingVersion, SearchTerm
    from mixun.db.models_dlp import DlpHit

    data, url, ids, db_url = served
    server = Server(data, url).wait()
    try:
        writer = _writer_of(server)
        c = _Client(server)
        ha, hb, hc = c.login("zhangsan"), c.login("lisi"), c.login("wangwu")
        direct = c.conversation(ha, kind="direct", members=[ids["lisi"]])
        group = c.conversation(ha, kind="group", name="授信审批组", members=[ids["lisi"]])
        with ws_connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={c.tokens['lisi']}") as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "hello"
            r = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=ha,
                            json={"text": "下午三点开会", "client_id": "c-1"})
            assert r.status_code == 201, r.text
            got = _next_event(ws, "message.created")
            assert got["message"]["id"] == r.json()["id"] and got["message"]["text"] == "下午三点开会"
            assert got["event_seq"] > hello["last_event_seq"]
            # The same client_id again: the first message, not a second one.
            again = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=ha,
                                json={"text": "下午三点开会", "client_id": "c-1"})
            assert again.status_code == 201 and again.json()["id"] == r.json()["id"]
            # DLP, judged in the server: blocked, confirmation required, masked (the original stored
            # encrypted by the writer, the hit recorded).
            blocked = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=ha,
                                  json={"text": "机密★5年 关于授信额度的批复"})
            assert blocked.status_code == 422 and blocked.json()["error"]["code"] == "dlp_blocked"
            confirm = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=ha,
                                  json={"text": f"客户身份证号 {ID_NUMBER}"})
            assert confirm.json()["error"]["code"] == "dlp_confirm_required"
            masked = c.http.post(f"/api/v1/conversations/{group}/messages", headers=ha,
                                 json={"text": f"身份证 {ID_NUMBER}"})
            assert masked.status_code == 201, masked.text
            assert ID_NUMBER not in masked.text and "110105" in masked.json()["text"]
            got = _next_event(ws, "message.created")
            assert got["message"]["id"] == masked.json()["id"] and ID_NUMBER not in json.dumps(got)
            # Refusals the writer decides (not a member: nothing revealed), in the documented format.
            outsider = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=hc, json={"text": "你好"})
            assert outsider.status_code in (403, 404) and outsider.json()["error"]["code"]
            reply = c.http.post(f"/api/v1/conversations/{group}/messages", headers=ha,
                                json={"text": "回复", "reply_to": r.json()["id"]})  # a message of another chat
            assert 400 <= reply.status_code < 500 and reply.json()["error"]["code"], reply.text
            # An urgent send (written in the server itself) and a plain one after it, in order.
            urgent = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=ha,
                                 json={"text": "请立即回电", "urgent": True})
            assert urgent.status_code == 201, urgent.text
            last = c.http.post(f"/api/v1/conversations/{direct}/messages", headers=hb, json={"text": "好的"})
            assert last.status_code == 201
            assert [r.json()["seq"], urgent.json()["seq"], last.json()["seq"]] == [1, 2, 3]
        assert _writer_pids(server.proc.pid) == [writer], "one writer throughout"
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                enc = conn.execute(select(MessageVersion.original_enc)
                                   .where(MessageVersion.message_id == masked.json()["id"])).scalar_one()
                assert enc and ID_NUMBER.encode() not in enc
                hits = conn.execute(select(DlpHit.action).where(DlpHit.user_id == ids["zhangsan"])).scalars().all()
                assert "mask" in hits and "block" in hits
            # The writer keeps the archive's search index current too: nothing is left waiting.
            deadline = time.monotonic() + 15
            while True:
                with engine.connect() as conn:
                    waiting = conn.execute(select(func.count()).select_from(PendingVersion)).scalar_one()
                    indexed = conn.execute(select(func.count()).select_from(SearchTerm)).scalar_one()
                if waiting == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert waiting == 0 and indexed > 0
        finally:
            engine.dispose()
    finally:
        server.stop()
    assert _gone(writer), "the writer stops with its server"
    # A clean shutdown (uvicorn ends by re-raising the SIGTERM it handled), not a crash.
    assert server.proc.returncode in (0, -signal.SIGTERM), server.output()
    assert "Traceback" not in server.output() and "ERROR" not in server.output(), server.output()


def test_a_killed_writer_loses_no_acknowledged_send(served: Any) -> None:
    """kill -9 of the writer process in the middle of a stream of sends: every request is answered,
    every 201 is stored with its seq, the sends with a client_id (as the web client's) all succeed
    (those the lost writer held are written by the next one, once), the others get a 201 or a 500 in
    the documented format, and the next sends are written by a new writer."""
    data, url, ids, _db_url = served
    server = Server(data, url, MIXUN_SEND_RATE_PER_MINUTE="100000", MIXUN_SEND_BURST="100000").wait()
    try:
        writer = _writer_of(server)
        c = _Client(server)
        heads = {u: c.login(u) for u in ("zhangsan", "lisi", "wangwu")}
        conv = c.conversation(heads["zhangsan"], kind="group", name="压力测试组",
                              members=[ids["lisi"], ids["wangwu"]])
        answers: dict[str, httpx.Response | BaseException] = {}
        acked = threading.Event()

        def sender(who: str, n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for i in range(n):
                    key = f"{who}-{i}"
                    body = {"text": f"{who} 第{i}条"} | ({"client_id": key} if who != "wangwu" else {})
                    try:
                        answers[key] = http.post(f"/api/v1/conversations/{conv}/messages", headers=heads[who],
                                                 json=body)
                    except httpx.HTTPError as exc:
                        answers[key] = exc
                    if i == 15:
                        acked.set()

        threads = [threading.Thread(target=sender, args=(who, 60)) for who in ("zhangsan", "lisi", "wangwu")]
        for t in threads:
            t.start()
        assert acked.wait(30)
        os.kill(writer, signal.SIGKILL)
        for t in threads:
            t.join(90)
            assert not t.is_alive(), "a send was left waiting"
        assert len(answers) == 180
        for key, r in answers.items():
            assert isinstance(r, httpx.Response), (key, r)
            if key.startswith("wangwu"):  # no client_id: an unknown outcome is an error, said as one
                assert r.status_code == 201 or (r.status_code == 500 and r.json()["error"]["code"]), r.text
            else:
                assert r.status_code == 201, (key, r.text)
        ok = {key: (r.json()["id"], r.json()["seq"]) for key, r in answers.items()
              if isinstance(r, httpx.Response) and r.status_code == 201}
        new_writer = _writer_of(server)
        assert new_writer != writer
        # Every client_id send again, as a client that did not hear back would: the same message.
        for key in sorted(k for k in answers if not k.startswith("wangwu")):
            who, i = key.split("-")
            r = c.http.post(f"/api/v1/conversations/{conv}/messages", headers=heads[who],
                            json={"text": f"{who} 第{i}条", "client_id": key})
            assert r.status_code == 201 and (r.json()["id"], r.json()["seq"]) == ok[key], r.text
        history = c.http.get(f"/api/v1/conversations/{conv}/messages?limit=200", headers=heads["lisi"]).json()
        got = history["messages"]
        assert [m["seq"] for m in got] == list(range(1, len(got) + 1)), "no gap"
        assert {(m["id"], m["seq"]) for m in got} >= set(ok.values()), "every 201 is stored"
        texts = [m["text"] for m in got]
        assert len(texts) == len(set(texts)), "nothing written twice"
        assert len(got) <= 180
        assert _writer_pids(server.proc.pid) == [new_writer]
        # The new writer serves on.
        r = c.http.post(f"/api/v1/conversations/{conv}/messages", headers=heads["wangwu"], json={"text": "恢复"})
        assert r.status_code == 201 and r.json()["seq"] == len(got) + 1
    finally:
        server.stop()


def test_the_writer_never_outlives_its_server(served: Any) -> None:
    """A server killed with -9 leaves no writer behind (it ends when its parent's end of the pipe does),
    and a server started after it serves the acknowledged history."""
    data, url, ids, _db_url = served
    first = Server(data, url).wait()
    second = None
    try:
        writer = _writer_of(first)
        c = _Client(first)
        h = c.login("zhangsan")
        conv = c.conversation(h, kind="direct", members=[ids["lisi"]])
        sent = [c.http.post(f"/api/v1/conversations/{conv}/messages", headers=h, json={"text": f"第{i}条"}).json()["id"]
                for i in range(5)]
        first.kill9()
        assert _gone(writer), "the writer exits once its server is gone"
        second = Server(data, url).wait()
        c2 = _Client(second)
        history = c2.http.get(f"/api/v1/conversations/{conv}/messages", headers=c2.login("lisi")).json()
        assert [m["id"] for m in history["messages"]] == sent
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()


def test_send_writer_setting(tmp_path: Path) -> None:
    """MIXUN_SEND_WRITER=thread keeps the writer in the server; a wrong value is a configuration error."""
    import subprocess

    from mixun.config import load_settings
    from tests.helpers import MIXUN

    data = tmp_path / "data"
    add_people(load_settings({"MIXUN_DATA_DIR": str(data)}), PEOPLE[:2])
    server = Server(data, None, MIXUN_SEND_WRITER="thread").wait()
    try:
        c = _Client(server)
        h = c.login("zhangsan")
        conv = c.conversation(h, kind="group", name="测试组", members=[])
        assert c.http.post(f"/api/v1/conversations/{conv}/messages", headers=h, json={"text": "你好"}).status_code == 201
        assert _writer_pids(server.proc.pid) == []
    finally:
        server.stop()
    env = host_env()
    bad = subprocess.run([MIXUN, "serve", "--port", "1"], env={**env, "MIXUN_DATA_DIR": str(data),
                                                               "MIXUN_SEND_WRITER": "fork"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "MIXUN_SEND_WRITER" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
@pytest.mark.parametrize("failure", ["exits_at_start", "cannot_be_started"])
def test_a_writer_that_cannot_start_does_not_stop_sending(tmp_path: Path, db: str, failure: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A writer process that dies before it is ready, or that cannot be started at all: every send is
    written in the server instead (none lost, none written twice, no error to the sender), and the
    server says why in its log."""
    import sys

    from mixun.sendpath import transport
    from tests.conftest import build_env

    command = ([sys.executable, "-c", "import sys; sys.exit(3)"] if failure == "exits_at_start"
               else ["/nonexistent/mixun-writer"])
    monkeypatch.setattr(transport, "_command", lambda fd: command)
    caplog.set_level("ERROR", logger="mixun.writer")
    env, close = build_env(tmp_path, db, MIXUN_SEND_WRITER="process")
    try:
        assert isinstance(env.rt.send_queue.writer, transport.ProcessWriter)
        _a, ta = env.person("zhangsan", "张三")
        b, tb = env.person("lisi", "李四")
        r = env.client.post("/api/v1/conversations", headers=env.h(ta), json={"kind": "direct", "members": [b]})
        conv = r.json()["id"]
        sent = []
        for i in range(6):
            body = {"text": f"第{i}条"} | ({"client_id": f"c{i}"} if i % 2 else {})
            r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json=body)
            assert r.status_code == 201, r.text
            sent.append((r.json()["id"], r.json()["seq"], f"第{i}条"))
        history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(tb)).json()["messages"]
        assert [(m["id"], m["seq"], m["text"]) for m in history] == sent
        assert [s for _i, s, _t in sent] == list(range(1, 7))
        assert env.rt.send_queue.writer.pid is None
        said = " ".join(rec.getMessage() for rec in caplog.records)
        assert ("ended before it was ready" in said) if failure == "exits_at_start" else ("could not be started" in said)
    finally:
        close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_the_server_takes_connections_once_its_writer_is_ready(tmp_path: Path, db: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's start-up waits for its writer process to be ready (a worker of `mixun serve --workers N`
    shares the listening socket: started earlier, it took connections whose sends waited for a writer
    still importing): a writer slow to start delays the start-up, and is ready when it ends."""
    import sys

    from mixun.sendpath import transport
    from tests.conftest import build_env

    slow = ("import time; time.sleep(1.5); " + transport._LAUNCH)
    monkeypatch.setattr(transport, "_command", lambda fd: [sys.executable, "-P", "-c", slow, str(fd)])
    started = time.monotonic()
    env, close = build_env(tmp_path, db, MIXUN_SEND_WRITER="process")
    try:
        queue = env.rt.send_queue.writer
        assert isinstance(queue, transport.ProcessWriter)
        assert time.monotonic() - started >= 1.5
        assert queue.wait_ready(0) and queue.pid is not None
        _a, ta = env.person("zhangsan", "张三")
        b, _tb = env.person("lisi", "李四")
        conv = env.client.post("/api/v1/conversations", headers=env.h(ta),
                               json={"kind": "direct", "members": [b]}).json()["id"]
        r = env.client.post(f"/api/v1/conversations/{conv}/messages", headers=env.h(ta), json={"text": "你好"})
        assert r.status_code == 201, r.text
        assert queue.pid is not None  # written by that writer, not by a replacement or here
    finally:
        close()
