"""Matrix Synapse on this machine, from its own virtual environment, on the same PostgreSQL.

Two layouts:
- ``single``: one ``synapse.app.homeserver`` process (the monolith);
- ``workers``: the main process, one event persister (``stream_writers: events``) and synchrotrons
  (``/sync``) as ``synapse.app.generic_worker`` processes, replication over Redis and the main's
  replication listener (``instance_map``), no federation listener and no remote server to send to: the
  federation-free worker layout of Synapse's "Scaling synapse via workers" page. The load generator
  sends ``/sync`` for a user always to the same synchrotron (what the docs' reverse proxy does,
  sticky by user) and everything else to the main process.

Synapse is installed into a separate virtual environment, never the project's (its dependencies
would pin the project's): ``python3.11 -m venv /work/peers-venv &&
/work/peers-venv/bin/pip install "matrix-synapse[postgres,redis]"`` (BENCH_SYNAPSE_VENV overrides
the path). Rate limits are lifted and bcrypt rounds lowered to 4 (registration of the bench users
only; no request of the measured load hashes a password); presence is off (as matrix.org runs it
for large rooms), which favours Synapse.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench import common

VENV = Path(os.environ.get("BENCH_SYNAPSE_VENV", "/work/peers-venv"))
SERVER_NAME = "bench.mixun.test"
_BIG = {"per_second": 100000, "burst_count": 1000000}


def available() -> bool:
    return (VENV / "bin" / "python").exists()


def version() -> str:
    out = subprocess.run([str(VENV / "bin" / "python"), "-c",
                          "import synapse; print(synapse.__version__)"], capture_output=True, text=True)
    return out.stdout.strip()


def _yaml(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1)  # JSON is YAML


def _log_config(path: Path, logfile: Path) -> None:
    path.write_text(_yaml({
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(logfile),
                              "formatter": "precise", "level": "WARNING"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }))


class Synapse:
    """A Synapse deployment in a temporary directory, on a fresh PostgreSQL database (dropped after)."""

    def __init__(self, layout: str = "workers", synchrotrons: int = 2) -> None:
        assert layout in ("single", "workers")
        self.layout = layout
        self.synchrotrons = synchrotrons if layout == "workers" else 0
        self.dir = Path(tempfile.mkdtemp(prefix=f"synapse-bench-{layout}-"))
        self.db = f"synapse_bench_{layout}_{os.getpid()}"
        self.secret = secrets.token_hex(16)
        self.main_port = common.free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.sync_ports: list[int] = []

    # --- configuration ---------------------------------------------------------------------------
    def _write_config(self) -> Path:
        d = self.dir
        (d / "media").mkdir()
        _log_config(d / "log.yaml", d / "homeserver.log")
        listeners: list[dict[str, Any]] = [
            {"port": self.main_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
             "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}]
        cfg: dict[str, Any] = {
            "server_name": SERVER_NAME, "pid_file": str(d / "homeserver.pid"), "listeners": listeners,
            "database": {"name": "psycopg2", "args": {
                "user": "postgres", "host": "127.0.0.1", "port": 5432, "database": self.db,
                "cp_min": 5, "cp_max": 10}},
            "log_config": str(d / "log.yaml"), "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"), "report_stats": False,
            "registration_shared_secret": self.secret, "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16), "enable_registration": False, "bcrypt_rounds": 4,
            "trusted_key_servers": [], "suppress_key_server_warning": True,
            "federation_domain_whitelist": [], "presence": {"enabled": False},
            "enable_metrics": False, "url_preview_enabled": False,
            "rc_message": _BIG, "rc_registration": _BIG, "rc_joins": {"local": _BIG, "remote": _BIG},
            "rc_login": {"address": _BIG, "account": _BIG, "failed_attempts": _BIG},
            "rc_admin_redaction": _BIG, "rc_invites": {"per_room": _BIG, "per_user": _BIG, "per_issuer": _BIG},
            "rc_joins_per_room": _BIG, "rc_presence": {"per_user": _BIG},
            "rc_room_creation": _BIG,
            "room_list_publication_rules": [{"action": "allow"}],
        }
        if self.layout == "workers":
            repl = common.free_port()
            listeners.append({"port": repl, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["replication"]}]})
            persister = common.free_port()
            cfg["redis"] = {"enabled": True, "host": "127.0.0.1", "port": 6379}
            cfg["instance_map"] = {"main": {"host": "127.0.0.1", "port": repl},
                                   "event_persister1": {"host": "127.0.0.1", "port": persister}}
            cfg["stream_writers"] = {"events": ["event_persister1"]}
            self._worker("event_persister1", [{"type": "http", "port": persister, "bind_addresses": ["127.0.0.1"],
                                               "resources": [{"names": ["replication"]}]}])
            for i in range(self.synchrotrons):
                port = common.free_port()
                self.sync_ports.append(port)
                self._worker(f"synchrotron{i + 1}", [{"type": "http", "port": port,
                                                      "bind_addresses": ["127.0.0.1"],
                                                      "resources": [{"names": ["client"], "compress": False}]}])
        path = d / "homeserver.yaml"
        path.write_text(_yaml(cfg))
        return path

    def _worker(self, name: str, listeners: list[dict[str, Any]]) -> None:
        _log_config(self.dir / f"{name}.log.yaml", self.dir / f"{name}.log")
        (self.dir / f"{name}.yaml").write_text(_yaml({
            "worker_app": "synapse.app.generic_worker", "worker_name": name, "worker_listeners": listeners,
            "worker_log_config": str(self.dir / f"{name}.log.yaml")}))

    # --- processes -------------------------------------------------------------------------------
    def start(self) -> Synapse:
        import psycopg

        with psycopg.connect(f"{common.PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')  # type: ignore[arg-type]
            conn.execute(f"CREATE DATABASE \"{self.db}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "  # type: ignore[arg-type]
                         "TEMPLATE template0")
        cfg = self._write_config()
        py = str(VENV / "bin" / "python")
        subprocess.run([py, "-m", "synapse.app.homeserver", "-c", str(cfg), "--generate-keys"],
                       check=True, capture_output=True, cwd=self.dir)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["SYNAPSE_ASYNC_IO_REACTOR"] = "0"
        self.procs["main"] = subprocess.Popen(
            [py, "-m", "synapse.app.homeserver", "-c", str(cfg)], cwd=self.dir, env=env,
            stdout=(self.dir / "main.out").open("wb"), stderr=subprocess.STDOUT)
        self._wait(self.main_port, "main")  # the main process creates the schema first
        for name in sorted(p.stem for p in self.dir.glob("*.yaml")
                           if p.stem.startswith(("event_persister", "synchrotron")) and ".log" not in p.name):
            self.procs[name] = subprocess.Popen(
                [py, "-m", "synapse.app.generic_worker", "-c", str(cfg), "-c", str(self.dir / f"{name}.yaml")],
                cwd=self.dir, env=env, stdout=(self.dir / f"{name}.out").open("wb"), stderr=subprocess.STDOUT)
        for i, port in enumerate(self.sync_ports):
            self._wait(port, f"synchrotron{i + 1}")
        time.sleep(1.0)
        return self

    def _wait(self, port: int, name: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"synapse {name} exited: {self.tail(name)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"synapse {name} did not start: {self.tail(name)}")

    def tail(self, name: str) -> str:
        text = ""
        for p in (self.dir / f"{name}.out", self.dir / ("homeserver.log" if name == "main" else f"{name}.log")):
            with contextlib.suppress(OSError):
                text += p.read_text(errors="replace")[-1500:]
        return text

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        import psycopg

        with contextlib.suppress(Exception), psycopg.connect(f"{common.PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')  # type: ignore[arg-type]

    def errors_in_logs(self) -> int:
        n = 0
        for p in self.dir.glob("*.log"):
            with contextlib.suppress(OSError):
                n += p.read_text(errors="replace").count("Traceback")
        return n

    def __enter__(self) -> Synapse:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- set-up through the client and admin APIs --------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.main_port}"

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read() or b"{}")

    def register(self, username: str, admin: bool = False) -> tuple[str, str]:
        """A user through the admin shared-secret registration; (user id, access token)."""
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        password = "Bench-pass-2024!"
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), username.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        out = self.call("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": username, "password": password, "admin": admin,
            "mac": mac.hexdigest()})
        return out["user_id"], out["access_token"]
