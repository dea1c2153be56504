"""`mixun announce --all` (issue 21 item 7): in a long outage sysadmin sends one notice to everyone from
the shell, with no web tier running: stored as a bank-wide announcement, audited, and sent at once
through the configured SMS gateway (a real HTTP server here) and the outbox, on both databases."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import fresh_database, host_env
from tests.helpers import MIXUN


class Gateway:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                gateway.requests.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_outage_notice_reaches_everyone_without_the_web_tier(tmp_path: Path, db: str) -> None:
    from mixun.api.app import build_runtime
    from mixun.config import load_settings
    from mixun.db.models import AuditLog
    from mixun.db.models_people import Announcement, AnnouncementReceipt
    from mixun.services import users
    from mixun.services.runtime import Ctx
    from mixun.services.setup import initialise

    url, cleanup = fresh_database(db, tmp_path)
    gateway = Gateway()
    env = host_env() | {
        "MIXUN_DATA_DIR": str(tmp_path / "data"), "MIXUN_DATABASE_URL": url, "MIXUN_SMS_URL": gateway.url,
        "MIXUN_EMAIL_ADDRESS": "{username}@bank.test", "MIXUN_SMTP_HOST": ""}
    try:
        settings = load_settings(env)
        initialise(settings, create_admins=True)
        rt = build_runtime(settings)
        try:
            ctx = Ctx(rt=rt, ip="127.0.0.1", client="tests")
            for i in range(5):
                users.create_user(ctx, username=f"staff{i}", name=f"员工{i}", unit="总行/信息科技部",
                                  password="Tr0ub4dor&3-horse", roles=["employee"], phone=f"1380013800{i}" if i < 3 else None)
        finally:
            rt.db.dispose()
        out = subprocess.run([MIXUN, "announce", "--all", "--title", "核心系统停机", "--body",
                              "今晚 22:00 至次日 2:00 密讯停机维护，紧急事务请电话联系。"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "published to 5 people" in out.stdout and "3 with a phone number" in out.stdout
        assert len(gateway.requests) == 3
        assert all("核心系统停机" in r["text"] and r["to"].startswith("138") for r in gateway.requests)
        outbox = (tmp_path / "data" / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(outbox) == 5
        rt = build_runtime(settings)
        try:
            with rt.db.read() as s:
                a = s.execute(select(Announcement)).scalar_one()
                assert a.to_all and a.title == "核心系统停机" and a.pinned
                assert len(list(s.execute(select(AnnouncementReceipt.user_id).where(
                    AnnouncementReceipt.announcement_id == a.id)).scalars())) == 5
                actions = list(s.execute(select(AuditLog.action)).scalars())
                assert "announcement.published" in actions and "announcement.broadcast" in actions
        finally:
            rt.db.dispose()
        bad = subprocess.run([MIXUN, "announce", "--all", "--title", "x", "--body", "y", "--author", "staff1"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and "system administrator" in bad.stderr
    finally:
        gateway.close()
        cleanup()
