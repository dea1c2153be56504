"""Support for the end-to-end tests: a real `mixun serve` in a temp data dir, and browser helpers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DIST = ROOT / "src" / "mixun" / "web" / "dist" / "index.html"
MIXUN = ROOT / ".venv" / "bin" / "mixun"
if not MIXUN.exists():
    MIXUN = Path(shutil.which("mixun") or MIXUN)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "Init#Pass2026"  # what `mixun user add` sets (must be changed at first login)
READY_PASSWORD = "Ready#Pass2026"  # what the fixtures change it to


def _skip_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not DIST.exists():
        return "the web client is not built (cd web && npm ci && npm run build)"
    if not MIXUN.exists():
        return "the mixun command is not installed (make install)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MixunServer:
    """`mixun init` + `mixun serve` on a temp data dir; can be stopped and started again on the same port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MIXUN_DATA_DIR": str(data_dir), **(env or {})}
        self.env.pop("MIXUN_DATABASE_URL", None)
        self.env.pop("MIXUN_BUS_URL", None)
        self.proc: subprocess.Popen | None = None
        self.admins: dict[str, str] = {}
        self.log = open(data_dir / "serve.log", "ab")  # noqa: SIM115
        out = self.cli("init")
        for m in re.finditer(r"administrator\s+(\S+):\s+one-time password\s+(\S+)", out):
            self.admins[m.group(1)] = m.group(2)

    def cli(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([str(MIXUN), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"mixun {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout + r.stderr

    def start(self, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(
            [str(MIXUN), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mixun serve exited with {self.proc.returncode}; see {self.data_dir / 'serve.log'}"
                )
            try:
                if httpx.get(self.base + "/api/v1/client-config", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("mixun serve did not answer in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    # ------------------------------------------------------------------ API helpers
    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base + "/api/v1", headers=headers, timeout=15)

    def login(self, username: str, password: str) -> str:
        with self.client() as c:
            r = c.post("/auth/login", json={"username": username, "password": password})
            r.raise_for_status()
            return r.json()["token"]

    def add_user(
        self,
        name: str,
        *,
        username: str | None = None,
        ready: bool = True,
        unit: str = "总行/信息技术部",
        phone: str | None = None,
        position: str | None = "客户经理",
    ) -> dict:
        """Creates an employee; with ready=True the first-login password change is done through the API."""
        username = username or "u" + uuid.uuid4().hex[:8]
        args = ["user", "add", "--username", username, "--name", name, "--unit", unit, "--password", PASSWORD]
        if phone:
            args += ["--phone", phone]
        if position:
            args += ["--position", position]
        self.cli(*args)
        user = {"username": username, "name": name, "password": PASSWORD}
        if ready:
            token = self.login(username, PASSWORD)
            with self.client(token) as c:
                r = c.post("/auth/password", json={"old_password": PASSWORD, "new_password": READY_PASSWORD})
                assert r.status_code == 204, r.text
            user["password"] = READY_PASSWORD
            user["token"] = self.login(username, READY_PASSWORD)
            with self.client(user["token"]) as c:
                user["id"] = c.get("/me").json()["id"]
        return user


def login(page, username: str, password: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_test_id("login-username").wait_for()
    except PlaywrightTimeout:  # say what the page showed instead, for the next one who reads a CI log
        body = page.evaluate("() => document.body ? document.body.innerText.slice(0, 500) : '(no body)'")
        raise AssertionError(f"no login form at {page.url}: errors {getattr(page, 'errors', [])}, "
                             f"page text {body!r}") from None
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def login_ready(page, user: dict) -> None:
    login(page, user["username"], user["password"])
    page.get_by_test_id("app-shell").wait_for()


def open_direct(page, name: str) -> None:
    page.get_by_test_id("directory-search").fill(name)
    page.get_by_test_id("directory-result").filter(has_text=name).first.click()
    page.get_by_test_id("composer").wait_for()
