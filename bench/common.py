"""Shared helpers: a server in its own process, bulk setup in-process, statistics, machine facts.

Every benchmark runs ``mixun serve`` as a separate OS process (the load generator never shares the
server's interpreter or GIL) on 127.0.0.1, on a fresh data directory and, for PostgreSQL, a fresh
database that is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
# The bus for runs with several server processes (each run has its own namespace: its database's).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def bus_for(workers: int) -> dict[str, str]:
    """Extra settings for a server of ``workers`` processes: one process keeps the in-process bus."""
    return {"MIXUN_BUS_URL": REDIS_URL} if workers > 1 else {}
PASSWORD = "Bench-pass-2024!"
UNITS = ["总行/信息科技部", "总行/风险管理部", "总行/公司金融部", "总行/零售金融部", "总行/运营管理部",
         "总行/财务会计部", "总行/人力资源部", "北京分行/营业部", "北京分行/个人金融部",
         "上海分行/营业部", "上海分行/公司业务部", "深圳分行/营业部"]
POSITIONS = ["客户经理", "柜员", "风险经理", "产品经理", "系统工程师", "会计", "部门经理", "副行长", "审计员",
             "理财经理"]


def log(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


# --- statistics -------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary_ms(values: list[float]) -> dict[str, float]:
    """values in seconds -> p50/p90/p95/p99/max in milliseconds."""
    s = sorted(values)
    return {"n": len(s), **{f"p{p}": round(pct(s, p) * 1000, 2) for p in (50, 90, 95, 99)},
            "max": round(s[-1] * 1000, 2) if s else float("nan")}


# --- machine ----------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(Exception):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    mem_kb = 0
    with contextlib.suppress(Exception):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_quiet(pid: int, below: float = 0.15, window: float = 0.5, limit: float = 60.0) -> float:
    """Wait until the process tree of ``pid`` uses less than ``below`` of a core over ``window`` seconds
    (a server still busy with what clients did on connecting, say: resumes, presence), at most
    ``limit`` seconds; the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        before = cpu_seconds(pid)
        time.sleep(window)
        if (cpu_seconds(pid) - before) / window < below:
            break
    return time.monotonic() - start


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (all its threads) and of its live descendants (the
    workers of `mixun serve --workers N`)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            p = int(stat.parent.name)
            children.setdefault(int(fields[1]), []).append(p)
            ticks[p] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo.extend(children.get(p, ()))
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of the process ``pid`` alone (not its children: `mixun serve`'s
    writer process, say)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def cpu_ticks() -> tuple[int, int]:
    """(stolen, all) CPU ticks of the whole machine since boot, from /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return fields[7], sum(fields[:8])
    return 0, 0


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time its hypervisor gave to others between two cpu_ticks()
    (a virtual machine's noisy neighbours: this machine's speed drifts)."""
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else 0.0


def load_average() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- environment and server -------------------------------------------------------------------------

@dataclass
class Env:
    backend: str  # sqlite | postgres
    data_dir: Path
    database_url: str
    pg_db: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MIXUN_")}
        env.update({
            "MIXUN_DATA_DIR": str(self.data_dir),
            "MIXUN_DATABASE_URL": self.database_url,
            "MIXUN_BUS_URL": "memory://",
            "MIXUN_SEND_RATE_PER_MINUTE": "10000000",
            "MIXUN_SEND_BURST": "1000000",
            "MIXUN_DIRECTORY_RATE_PER_MINUTE": "10000000",  # the benchmarks page through the directory on purpose
            "MIXUN_DIRECTORY_CARD_RATE_PER_MINUTE": "10000000",
            "MIXUN_SESSION_IDLE_MINUTES": "600",
            "MIXUN_WORK_HOURS": "0-24",
            "MIXUN_WS_QUEUE_LIMIT": "100000",
        })
        env.update(self.extra)
        # BENCH_SERVER_ENV="MIXUN_X=1 MIXUN_Y=2": settings for the measured server only (bench.compare's
        # --previous-env runs one side of a comparison with them).
        env.update(dict(pair.split("=", 1) for pair in os.environ.get("BENCH_SERVER_ENV", "").split() if "=" in pair))
        return env

    def settings(self) -> Any:
        from mixun.config import load_settings

        return load_settings(self.environ())


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@contextlib.contextmanager
def environment(backend: str, name: str, **extra: str) -> Iterator[Env]:
    """A fresh, initialised data dir (and PostgreSQL database); removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"mixun-bench-{name}-"))
    pg_db = None
    if backend == "postgres":
        pg_db = f"mixun_bench_{name}_{os.getpid()}"
        url = f"{PG_BASE}/{pg_db}"
    else:
        url = f"sqlite:///{data_dir / 'mixun.db'}"
    env = Env(backend, data_dir, url, pg_db, dict(extra))
    try:
        from mixun.services.setup import initialise

        initialise(env.settings(), create_admins=False)
        yield env
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if pg_db:
            with contextlib.suppress(Exception):
                _pg_admin(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


class Server:
    """``mixun serve`` in its own process."""

    def __init__(self, env: Env, port: int | None = None, workers: int = 1) -> None:
        self.env = env
        self.port = port or free_port()
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = env.data_dir / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "mixun"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             *(["--workers", str(self.workers)] if self.workers > 1 else [])],
            env=self.env.environ(), stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))
        # BENCH_START_TIMEOUT: on a crowded host `--workers N` (N processes, each with its writer) can
        # take longer than a minute to come up.
        deadline = time.monotonic() + float(os.environ.get("BENCH_START_TIMEOUT", "60"))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/v1/openapi.json", timeout=1):
                    self._maybe_profile()
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def _maybe_profile(self) -> None:
        """BENCH_PYSPY=/path/prefix: sample the server with py-spy (collapsed stacks) while it runs."""
        prefix = os.environ.get("BENCH_PYSPY")
        # BENCH_PYSPY_BIN: a py-spy unpacked outside the project's environment (never installed into it).
        spy = Path(os.environ.get("BENCH_PYSPY_BIN") or VENV_BIN / "py-spy")
        if prefix and spy.exists():
            extra = os.environ.get("BENCH_PYSPY_ARGS", "").split()
            # --native (where a thread waits: the interpreter lock, a socket) needs the process paused.
            mode = [] if "--native" in extra else ["--nonblocking"]
            self.spy = subprocess.Popen(
                [str(spy), "record", "-p", str(self.pid), "-r", "50", *mode, *extra, "-f", "raw",
                 "-o", f"{prefix}-{self.env.backend}-{self.port}.txt"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        spy = getattr(self, "spy", None)
        if spy is not None and spy.poll() is None:
            spy.send_signal(2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(20)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def errors_in_log(self) -> int:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace").count("Traceback")
        return 0

    def __enter__(self) -> Server:
        try:
            return self.start()
        except BaseException:
            self.stop()  # a server that came up too slowly is not left running (__exit__ will not run)
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- bulk setup in-process --------------------------------------------------------------------------

_HASH: str | None = None


def shared_hash() -> str:
    global _HASH
    if _HASH is None:
        from argon2 import PasswordHasher

        _HASH = PasswordHasher().hash(PASSWORD)
    return _HASH


def runtime(env: Env) -> Any:
    from mixun.api.app import build_runtime

    return build_runtime(env.settings())


def bulk_users(rt: Any, count: int, prefix: str = "u", names: list[str] | None = None,
               batch: int = 2000) -> list[int]:
    """Insert ``count`` employees the way create_user_txn does (user row, search keys, event counter),
    with one shared argon2 hash and without the per-row audit record; returns their ids."""
    from sqlalchemy import insert, select

    from mixun.db.models import EventCounter, SearchKey, Unit, User
    from mixun.domain.names import pinyin_keys, search_keys
    from mixun.services.runtime import Ctx
    from mixun.services.users import ensure_unit_path

    pw = shared_hash()
    now = datetime.now(UTC)
    with rt.db.write() as s:
        for path in UNITS:
            ensure_unit_path(s, path)
    with rt.db.read() as s:
        unit_ids = {p: i for p, i in s.execute(select(Unit.path, Unit.id)).all()}
    _ = Ctx(rt=rt)
    ids: list[int] = []
    for start in range(0, count, batch):
        rows = []
        for i in range(start, min(count, start + batch)):
            name = names[i] if names else f"测试{i}"
            full, initials = pinyin_keys(name)
            rows.append({"username": f"{prefix}{i:06d}", "name": name, "name_pinyin": full,
                         "name_initials": initials, "employee_no": f"B{prefix.upper()}{i:07d}",
                         "phone": f"138{i:08d}", "unit_id": unit_ids[UNITS[i % len(UNITS)]],
                         "position": POSITIONS[(i * 7) % len(POSITIONS)], "roles": ["employee"],
                         "password_hash": pw, "must_change_password": False, "password_changed_at": now,
                         "work_status": "available", "created_at": now})
        with rt.db.write() as s:
            new_ids = list(s.execute(insert(User).returning(User.id, sort_by_parameter_order=True),
                                     rows).scalars())
            keys = []
            for uid, row in zip(new_ids, rows, strict=True):
                for k, r in search_keys(row["name"], row["username"], row["employee_no"], row["position"]):
                    keys.append({"user_id": uid, "key": k, "rank": r})
            s.execute(insert(SearchKey), keys)
            s.execute(insert(EventCounter), [{"user_id": uid, "last_seq": 0} for uid in new_ids])
        ids.extend(new_ids)
    return ids


def bulk_sessions(rt: Any, user_ids: list[int]) -> list[str]:
    """One live session per user, stored as auth.login stores it (sha256 of the token); returns tokens."""
    from sqlalchemy import insert

    from mixun.db.models import Session as DbSession

    now = datetime.now(UTC)
    tokens = [secrets.token_urlsafe(32) for _ in user_ids]
    rows = [{"user_id": uid, "token_hash": hashlib.sha256(t.encode()).hexdigest(), "created_at": now,
             "last_seen_at": now, "expires_at": now + timedelta(hours=12), "ip": "127.0.0.1",
             "user_agent": "mixun-bench"} for uid, t in zip(user_ids, tokens, strict=True)]
    with rt.db.write() as s:
        for i in range(0, len(rows), 2000):
            s.execute(insert(DbSession), rows[i:i + 2000])
    return tokens


def principal_ctx(rt: Any, user_id: int) -> Any:
    from mixun.db.models import User
    from mixun.services.auth import _principal
    from mixun.services.runtime import Ctx

    with rt.db.read() as s:
        u = s.get(User, user_id)
        p = _principal(u, None, False)
    return Ctx(rt=rt, principal=p, ip="127.0.0.1", client="mixun-bench")


def make_groups(rt: Any, user_ids: list[int], size: int) -> list[tuple[int, list[int]]]:
    """Groups of ``size`` consecutive users, created through the conversation service by their first member."""
    from mixun.services.conversations import create_conversation

    groups = []
    for g in range(len(user_ids) // size):
        members = user_ids[g * size:(g + 1) * size]
        view = create_conversation(principal_ctx(rt, members[0]), "group", members[1:], f"压测群{g}")
        groups.append((int(view["id"]), members))
    return groups


# --- a lean HTTP/1.1 client for the load generators --------------------------------------------------
# Pre-encoded requests on keep-alive asyncio streams, status line and Content-Length parsed, nothing
# else: the generators share 2 cores with the server, so their own cost per request must stay small
# (httpx costs about a millisecond of CPU per request, enough to become the bottleneck it measures).

async def post_json(reader: Any, writer: Any, path: str, token: str, body: bytes) -> tuple[str, bytes]:
    """POST ``body`` on an open keep-alive connection; (status code, response body); ("eof", b"") when
    the server closed the connection."""
    writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    status_line = await reader.readline()
    if not status_line:
        return "eof", b""
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    data = await reader.readexactly(length) if length else b""
    return status_line.split(b" ", 2)[1].decode(), data
