"""Notification adapters (issue 22 item 9): e-mail to a real SMTP server (aiosmtpd) and SMS to a local
HTTP gateway, with retries and the dead-letter list; an urgent message to an offline person goes
through both."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mixun import notify
from tests.conftest import Env, build_env
from tests.helpers import direct, free_port, send


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class Gateway:
    """A local SMS gateway: answers the first ``fail_first`` requests with ``fail_status``."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first, self.fail_status = fail_first, fail_status
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                gateway.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = gateway.fail_status if len(gateway.requests) <= gateway.fail_first else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _settings(smtp_port: int, gateway: Gateway, **more: str) -> dict[str, str]:
    return {"MIXUN_SMTP_HOST": "127.0.0.1", "MIXUN_SMTP_PORT": str(smtp_port), "MIXUN_SMTP_FROM": "im@bank.test",
            "MIXUN_SMS_URL": gateway.url, "MIXUN_SMS_HEADERS": "X-Api-Key: k-123",
            "MIXUN_SMS_BODY": '{"mobile": "{phone}", "content": "{text}", "sign": "密讯"}',
            "MIXUN_NOTIFY_RETRY_SECONDS": "0.05", "MIXUN_EMAIL_ADDRESS": "{username}@bank.test", **more}


def test_urgent_message_to_offline_person_by_email_and_sms(tmp_path: Path, smtp: tuple[Inbox, int],
                                                           request: pytest.FixtureRequest) -> None:
    inbox, port = smtp
    gateway = Gateway(fail_first=1)  # the first try fails (503): retried
    request.addfinalizer(gateway.close)
    for db in ("sqlite", "postgresql"):
        inbox.messages.clear()
        gateway.requests.clear()
        (tmp_path / db).mkdir()
        e, close = build_env(tmp_path / db, db, **_settings(port, gateway))
        try:
            _a, ta = e.person("zhangsan", "张三")
            b, _tb = e.person("lisi", "李四", phone="13800138000")
            conv = direct(e, ta, b)
            assert send(e, ta, conv, "核心系统故障,请回电", urgent=True).status_code == 201
            assert e.rt.notifier.idle(20)
            (rcpts, mail), = inbox.messages
            assert rcpts == ["lisi@bank.test"] and mail["From"] == "im@bank.test"
            body = mail.get_payload(decode=True).decode(mail.get_content_charset())
            assert "张三" in body and "核心系统故障" not in body  # never the message itself
            assert "紧急" in str(make_header(decode_header(mail["Subject"])))
            assert len(gateway.requests) == 2  # the first answered 503, retried
            last = json.loads(gateway.requests[-1]["body"])
            assert last["mobile"] == "13800138000" and "张三" in last["content"] and last["sign"] == "密讯"
            assert gateway.requests[-1]["headers"]["X-Api-Key"] == "k-123"
            assert notify.read_dead_letters(e.settings.data_dir) == []
            # The outbox keeps its line as before.
            line = json.loads((e.settings.data_dir / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()[-1])
            assert line["user_id"] == b and line["phone"] == "13800138000" and line["email"] == "lisi@bank.test"
        finally:
            close()


def test_failures_end_in_the_dead_letter_list(tmp_path: Path, smtp: tuple[Inbox, int],
                                              request: pytest.FixtureRequest) -> None:
    inbox, port = smtp
    inbox.refuse.add("wangwu@bank.test")
    down = Gateway(fail_first=100, fail_status=502)  # never recovers: retried, then given up
    request.addfinalizer(down.close)
    dispatcher = notify.from_settings(tmp_path, _settings(port, down, MIXUN_NOTIFY_RETRIES="2"))
    dispatcher.send(7, "13900000000", "告警:数据库不可用", email="wangwu@bank.test", subject="告警")
    assert dispatcher.idle(20)
    assert len(down.requests) == 3  # the first try and two retries
    dead = {d["channel"]: d for d in notify.read_dead_letters(tmp_path)}
    assert dead["sms"]["attempts"] == 3 and "502" in dead["sms"]["error"] and dead["sms"]["to"] == "13900000000"
    assert dead["email"]["attempts"] == 1 and "refused" in dead["email"]["error"]  # a 550 is final
    assert notify.count_dead_letters(tmp_path) == 2
    refused = Gateway(fail_first=100, fail_status=400)  # a 4xx is not retried
    request.addfinalizer(refused.close)
    d2 = notify.from_settings(tmp_path / "b", _settings(port, refused))
    d2.send(8, "13900000001", "x")
    assert d2.idle(20) and len(refused.requests) == 1
    assert notify.read_dead_letters(tmp_path / "b")[0]["attempts"] == 1


def test_smtp_unreachable_is_retried_then_dead(tmp_path: Path) -> None:
    dispatcher = notify.from_settings(tmp_path, {"MIXUN_SMTP_HOST": "127.0.0.1", "MIXUN_SMTP_PORT": str(free_port()),
                                                 "MIXUN_NOTIFY_RETRIES": "1", "MIXUN_NOTIFY_RETRY_SECONDS": "0.05"})
    dispatcher.send(1, None, "hello", email="a@bank.test")
    assert dispatcher.idle(20)
    (dead,) = notify.read_dead_letters(tmp_path)
    assert dead["channel"] == "email" and dead["attempts"] == 2 and "ConnectionRefused" in dead["error"]


def test_dead_letters_in_the_console(env: Env) -> None:
    from mixun.services import notifications
    from tests.helpers import staff

    down = notify.Dispatcher(env.settings.data_dir, [notify.SmsHttpChannel(notify.SmsConfig(
        f"http://127.0.0.1:{free_port()}/"))], retries=0, seal=notifications.sealer(env.rt))
    down.send(3, "13900000002", "告警：核心库不可用")
    assert down.idle(20)
    at_rest = (env.settings.data_dir / "outbox").glob("*.jsonl")
    assert not [p for p in at_rest if "核心库".encode() in p.read_bytes()]  # outbox and dead letters sealed
    _s, sys_token = staff(env, "sys1", "系统员", "sysadmin")
    r = env.client.get("/api/v1/admin/ops/dead-letters", headers=env.h(sys_token))
    assert r.status_code == 200 and r.json()["total"] == 1 and r.json()["dead_letters"][0]["to"] == "13900000002"
    assert r.json()["dead_letters"][0]["text"] == "告警：核心库不可用"  # opened for the console
    _e, emp = env.person("zhangsan", "张三")
    assert env.client.get("/api/v1/admin/ops/dead-letters", headers=env.h(emp)).status_code == 403
