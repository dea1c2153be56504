"""Small helpers shared by the API, integration and CLI tests (no fixtures here)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from tests.conftest import PASSWORD, Env, host_env

ROOT = Path(__file__).resolve().parent.parent
MIXUN = str(ROOT / ".venv" / "bin" / "mixun")


def staff(env: Env, username: str, name: str, role: str, **kw: Any) -> tuple[int, str]:
    """A person holding ``role``, logged in; roles that require two-factor get it switched on directly
    (enrolling through the API is covered in test_auth.py and costs a dozen argon2 hashes)."""
    uid = env.make_user(username, name, roles=[role], **kw)
    token = env.login(username)
    enable_totp(env, uid)
    return uid, token


def enable_totp(env: Env, uid: int) -> None:
    """Mark two-factor as enrolled for roles that require it (the next login then needs a code)."""
    from mixun.db.models import User
    from mixun.domain.roles import TOTP_REQUIRED_ROLES

    with env.rt.db.write() as s:
        user = s.get(User, uid)
        assert user is not None
        if any(r in TOTP_REQUIRED_ROLES for r in user.roles):
            s.execute(update(User).where(User.id == uid).values(totp_enabled=True))


def send(env: Env, token: str, conv_id: int, text: str, **extra: Any) -> httpx.Response:
    return env.client.post(f"/api/v1/conversations/{conv_id}/messages", headers=env.h(token),
                           json={"text": text, **extra})


def direct(env: Env, token: str, other: int) -> int:
    r = env.client.post("/api/v1/conversations", headers=env.h(token), json={"kind": "direct", "members": [other]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def group(env: Env, token: str, name: str, members: list[int]) -> int:
    r = env.client.post("/api/v1/conversations", headers=env.h(token),
                        json={"kind": "group", "name": name, "members": members})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` in a thread of its own: the browser tests' session-wide Playwright (sync API)
    keeps an event loop running in the main thread, where ``asyncio.run`` refuses to start, so a test
    that runs after any browser test in the same session must not call it there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real `mixun serve` subprocess; always stop() it in a finally."""

    def __init__(self, data_dir: Path, database_url: str | None = None, bus_url: str | None = None,
                 serve_args: tuple[str, ...] = (), **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = host_env()
        env["MIXUN_DATA_DIR"] = str(data_dir)
        if database_url:
            env["MIXUN_DATABASE_URL"] = database_url
        if bus_url:
            env["MIXUN_BUS_URL"] = bus_url
        env.update(extra_env)
        self.log = data_dir.parent / f"serve-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen([MIXUN, "serve", "--port", str(self.port), *serve_args], env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 90) -> Server:
        # Not a timing check: how long to wait for a start that is going to succeed. Under load (the suite
        # beside other work on 2 cores, load average 25) `--workers 2` - two serving processes, each
        # waiting for its own writer process to import and open the database - took over 30 s.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mixun serve exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"mixun serve did not become healthy: {self.output()}")

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._out.close()


def add_people(settings: Any, people: tuple[tuple[str, str], ...] = (("zhangsan", "张三"), ("lisi", "李四"))
               ) -> dict[str, int]:
    """Initialise the database of ``settings`` and create these employees (username, name) with
    PASSWORD, for tests that then start real server processes on it; their ids by username."""
    from mixun.api.app import build_runtime
    from mixun.services import users
    from mixun.services.runtime import Ctx
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = build_runtime(settings)
    try:
        return {username: users.create_user(Ctx(rt=rt, ip="127.0.0.1", client="tests"), username=username,
                                            name=name, unit="总行/信息科技部", password=PASSWORD,
                                            roles=["employee"], must_change_password=False).id
                for username, name in people}
    finally:
        rt.db.dispose()
