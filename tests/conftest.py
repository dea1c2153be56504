"""Shared fixtures: a real database per test (SQLite and PostgreSQL), the app, and personas.

Each database comes from a migrated template (a copied SQLite file, or PostgreSQL's CREATE DATABASE
... TEMPLATE), so every test starts from `mixun init` state without paying for migrations each time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mixun.config import load_settings
from mixun.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("MIXUN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MIXUN_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE = os.environ.get("MIXUN_REQUIRE_SERVICES") == "1"
PASSWORD = "Str0ng!Pass#2026"
# Cheaper argon2id parameters for the suite (and every server it starts); production keeps the standard ones.
os.environ.setdefault("MIXUN_ARGON2_PROFILE", "fast")
# Period keys live on the host, outside every data directory (ADR 0020): the suite's own host directory
# (each test's key ring has its own sub-directory), not the account's ~/.mixun. A test that plays "another
# host" gives its restore and server a directory of their own.
if "MIXUN_PERIOD_KEYS_DIR" not in os.environ:
    import atexit
    import tempfile

    _PERIOD_ROOT = tempfile.mkdtemp(prefix="mixun-test-period-keys-")
    os.environ["MIXUN_PERIOD_KEYS_DIR"] = _PERIOD_ROOT
    atexit.register(shutil.rmtree, _PERIOD_ROOT, True)
_TEMPLATES: dict[str, str] = {}
# Settings of the host rather than of one deployment: kept when a test clears Mixun's settings for a
# process it starts (that process runs on the same host).
HOST_SETTINGS = ("MIXUN_PERIOD_KEYS_DIR",)


def host_env() -> dict[str, str]:
    """This process's environment without Mixun's settings, except the host's own (``HOST_SETTINGS``)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MIXUN_") or k in HOST_SETTINGS}


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def need(service: str, ok: bool) -> None:
    if not ok:
        if REQUIRE:
            pytest.fail(f"{service} is required in CI (MIXUN_REQUIRE_SERVICES=1) but not reachable")
        pytest.skip(f"{service} is not running on this machine")


def _pg_exec(sql: str) -> None:
    eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(sql))
    eng.dispose()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def fresh_database(kind: str, tmp: Path) -> tuple[str, Any]:
    """(url, cleanup) of a migrated, empty database."""
    if kind == "sqlite":
        if "sqlite" not in _TEMPLATES:
            tpl = Path(os.environ.get("PYTEST_TMPDIR_ROOT", "/tmp")) / f"mixun-tpl-{os.getpid()}.db"
            tpl.unlink(missing_ok=True)
            upgrade(f"sqlite:///{tpl}")
            _TEMPLATES["sqlite"] = str(tpl)
        target = tmp / "mixun.db"
        shutil.copy(_TEMPLATES["sqlite"], target)
        return f"sqlite:///{target}", lambda: None
    need("PostgreSQL", _pg_available())
    if "pg" not in _TEMPLATES:
        tpl = f"mixun_tpl_{os.getpid()}"
        _pg_exec(f'DROP DATABASE IF EXISTS "{tpl}"')
        _pg_exec(f'CREATE DATABASE "{tpl}"')
        upgrade(_pg_url(tpl))
        _TEMPLATES["pg"] = tpl
    name = f"mixun_t_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATES["pg"]}"')
    return _pg_url(name), lambda: _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if "pg" in _TEMPLATES:
        with contextlib.suppress(Exception):
            _pg_exec(f'DROP DATABASE IF EXISTS "{_TEMPLATES["pg"]}" WITH (FORCE)')


@dataclass
class Env:
    """A running Mixun (in-process) on one database, with helpers to act as people."""

    settings: Any
    app: Any
    client: TestClient
    rt: Any
    admin_passwords: dict[str, str] = field(default_factory=dict)

    def make_user(self, username: str, name: str, *, roles: list[str] | None = None, unit: str = "总行/信息科技部",
                  phone: str | None = None, position: str = "工程师", must_change: bool = False,
                  password: str = PASSWORD) -> int:
        from mixun.services import users
        from mixun.services.runtime import Ctx

        u = users.create_user(Ctx(rt=self.rt, ip="127.0.0.1", client="tests"), username=username, name=name,
                              unit=unit, password=password, phone=phone, position=position,
                              roles=roles or ["employee"], must_change_password=must_change,
                              allow_reserved_roles=True)
        return u.id

    def login(self, username: str, password: str = PASSWORD, **extra: Any) -> str:
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def person(self, username: str, name: str, **kw: Any) -> tuple[int, str]:
        uid = self.make_user(username, name, **kw)
        return uid, self.login(username)


def build_env(tmp: Path, db: str, **overrides: str) -> tuple[Env, Any]:
    from mixun.api.app import create_app
    from mixun.services.setup import initialise

    url, cleanup = fresh_database(db, tmp)
    env = {"MIXUN_DATA_DIR": str(tmp / "data"), "MIXUN_DATABASE_URL": url, **overrides}
    settings = load_settings(env)
    created = dict(initialise(settings))
    app = create_app(settings)
    client = TestClient(app, client=("127.0.0.1", 40000))
    client.__enter__()
    e = Env(settings=settings, app=app, client=client, rt=app.state.runtime, admin_passwords=created)

    def close() -> None:
        client.__exit__(None, None, None)
        cleanup()

    return e, close


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    e, close = build_env(tmp_path, request.param)
    yield e
    close()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    e, close = build_env(tmp_path, "sqlite")
    yield e
    close()


# ---- ClamAV ---------------------------------------------------------------------------------------
# Signature downloads are not reachable here, so the tests start clamd with a database holding one
# signature: the EICAR test file's.
CLAMD = shutil.which("clamd") or ("/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None)
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The socket of a real clamd started for this test session."""
    from mixun.files.antivirus import ClamdScanner

    if CLAMD is None:
        if REQUIRE:
            pytest.fail("clamd is required in CI (MIXUN_REQUIRE_SERVICES=1): apt-get install clamav-daemon")
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    d = tmp_path_factory.mktemp("clamd")
    db = d / "db"
    db.mkdir()
    # An .ndb body signature: name:target(0 = any file):offset(* = anywhere):hex.
    (db / "eicar.ndb").write_text(f"Mixun.Test.EICAR:0:*:{EICAR.hex()}\n")
    sock = d / "clamd.sock"
    conf = d / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {d / 'clamd.log'}\n"
        f"PidFile {d / 'clamd.pid'}\nTemporaryDirectory {d}\nStreamMaxLength 10M\nLogVerbose no\n"
    )
    proc = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scanner = ClamdScanner(str(sock), timeout=10)
    deadline = time.monotonic() + 60
    while not scanner.available():
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            log = (d / "clamd.log").read_text(errors="replace") if (d / "clamd.log").exists() else ""
            pytest.fail(f"clamd exited with {proc.returncode}: {err}\n{log}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("clamd did not answer PING within 60 s")
        time.sleep(0.2)
    yield str(sock)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
