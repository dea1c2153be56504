"""A revocation made by another process (the CLI) reaches a running `mixun serve` at once, over HTTP and
the WebSocket, on SQLite and PostgreSQL (issue 24 item 7)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, REDIS_URL, fresh_database, host_env, need, redis_available
from tests.helpers import MIXUN, Server, add_people


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("db", "workers"), [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)])
def test_cli_password_reset_ends_sessions_of_a_running_server_at_once(tmp_path: Path, db: str, workers: int) -> None:
    """`mixun user reset-password` ends the person's sessions in the running server within two seconds
    (its session cache used to keep them working for up to a minute): 401 over HTTP, 4001 on the socket.
    With --workers 2 every request is a new connection, so both workers' caches are warmed and both
    must let the session go."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    from mixun.config import load_settings

    data = tmp_path / "data"
    env = {"MIXUN_DATA_DIR": str(data)}
    cleanup = None
    if db == "postgresql":
        url, cleanup = fresh_database("postgresql", tmp_path)
        env["MIXUN_DATABASE_URL"] = url
    add_people(load_settings(env))
    server = None
    try:
        if workers > 1:
            need("Redis", redis_available())
            server = Server(data, env.get("MIXUN_DATABASE_URL"), REDIS_URL, ("--workers", str(workers))).wait(60)
        else:
            server = Server(data, env.get("MIXUN_DATABASE_URL")).wait()
        r = httpx.post(server.url + "/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD})
        token = r.json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        for _ in range(6 * workers):  # the session is in the server's cache (each worker's) now
            assert httpx.get(server.url + "/api/v1/conversations", headers=h).status_code == 200
        with ws_connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            cli_env = host_env() | env
            out = subprocess.run([MIXUN, "user", "reset-password", "zhangsan"], env=cli_env, capture_output=True,
                                 text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            done = time.monotonic()
            code = None
            while time.monotonic() - done < 2.0:
                code = httpx.get(server.url + "/api/v1/conversations", headers=h).status_code
                if code == 401:
                    break
                time.sleep(0.1)
            assert code == 401, server.output()
            codes = {httpx.get(server.url + "/api/v1/conversations", headers=h).status_code for _ in range(6 * workers)}
            assert codes == {401}, codes  # in every worker
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    finally:
        if server is not None:
            server.stop()
        if cleanup is not None:
            cleanup()
