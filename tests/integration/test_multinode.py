"""Several Mixun nodes behind nginx on one PostgreSQL and one bus (issue 23 item 5; docs/multinode.md).

Each node is a real `mixun serve` process (with its own send-writer process) on a port of its own and
a data directory of its own (the master key copied in, as an operator distributes it), as separate
machines would be; nginx from Debian runs as a child process on a free port with the configuration
docs/multinode.md gives (round robin, WebSocket upgrade). Small sizes: these run in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, REDIS_URL, _pg_exec, _pg_url, fresh_database, need, redis_available
from tests.helpers import Server, add_people, free_port, run_async

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = [pytest.mark.postgres]


def _nats_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


def _need_bus(bus: str) -> str:
    if bus == "redis":
        need("Redis", redis_available())
        return REDIS_URL
    need("NATS", _nats_available())
    return "nats://127.0.0.1:4222"


NGINX_CONF = """\
# Written by tests/integration/test_multinode.py: the load balancer of docs/multinode.md, without TLS.
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream mixun {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location /api/v1/ws {{
            proxy_pass http://mixun;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 3600s;
            add_header X-Mixun-Node $upstream_addr always;
        }}
        location / {{
            proxy_pass http://mixun;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Mixun-Node $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    """nginx as a child process in front of ``ports``; always stop() it in a finally."""

    def __init__(self, tmp: Path, ports: list[int]) -> None:
        need("nginx (make install-browser installs Debian's nginx-light)", os.access(NGINX, os.X_OK))
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in ports)
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port, servers=servers))
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.errors()}")
            try:
                httpx.get(self.url + "/api/v1/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"nginx did not start: {self.errors()}")

    def errors(self) -> str:
        log = self.tmp / "error.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Cluster:
    nodes: list[Server]
    lb: Nginx
    ids: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def node_of(self, port: int) -> int:
        return next(i for i, n in enumerate(self.nodes) if n.port == port)


def _people(n: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"staff{i:02d}", f"员工{i:02d}") for i in range(n))


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Any]:
    """Starts ``nodes`` nodes on one fresh PostgreSQL database and ``bus``, with nginx in front."""
    from mixun.config import load_settings

    made: list[tuple[Cluster, Any]] = []

    def make(bus: str, nodes: int = 2, people: int = 4) -> Cluster:
        bus_url = _need_bus(bus)
        url, drop_db = fresh_database("postgresql", tmp_path)
        # The nodes' one key ring (message text's data keys): a PostgreSQL database of its own, never the
        # content database (docs/keys.md); without it a node could not open what another node sealed.
        ring = f"mixun_ring_{uuid.uuid4().hex[:10]}"
        _pg_exec(f'CREATE DATABASE "{ring}"')

        def cleanup() -> None:
            drop_db()
            _pg_exec(f'DROP DATABASE IF EXISTS "{ring}" WITH (FORCE)')

        first = tmp_path / "node0"
        ids = add_people(load_settings({"MIXUN_DATA_DIR": str(first), "MIXUN_DATABASE_URL": url,
                                        "MIXUN_KEYRING_URL": _pg_url(ring)}), _people(people))
        servers: list[Server] = []
        lb: Nginx | None = None
        try:
            for i in range(nodes):
                data = tmp_path / f"node{i}"
                if i:  # another machine: its own data directory, the deployment's master key copied in
                    (data / "keys").mkdir(parents=True, exist_ok=True)
                    shutil.copy2(first / "keys" / "master.key", data / "keys" / "master.key")
                servers.append(Server(data, url, bus_url, MIXUN_TRUSTED_PROXIES="127.0.0.1/32",
                                      MIXUN_ARGON2_PROFILE="fast", MIXUN_KEYRING_URL=_pg_url(ring)))
            for s in servers:
                s.wait(60)
            lb = Nginx(tmp_path / "nginx", [s.port for s in servers])
        except BaseException:
            for s in servers:
                s.stop()
            if lb is not None:
                lb.stop()
            cleanup()
            raise
        cluster = Cluster(servers, lb, ids)
        made.append((cluster, cleanup))
        return cluster

    yield make
    for cluster, cleanup in made:
        cluster.lb.stop()
        for s in cluster.nodes:
            s.stop()
        cleanup()


def login(base: str, username: str) -> str:
    r = httpx.post(base + "/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def make_group(base: str, token: str, members: list[int]) -> int:
    r = httpx.post(base + "/api/v1/conversations", headers={"Authorization": f"Bearer {token}"},
                   json={"kind": "group", "name": "多节点", "members": members}, timeout=30)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


class Reader:
    """One WebSocket client that keeps every event it is pushed, in order. ``resume``: like the web
    client, on every hello it asks for everything after the last event it has (and so reconnects after
    a drop with no gap); without it, it relies on the server pushing every event after hello's
    ``last_event_seq`` (INTERFACE.md)."""

    def __init__(self, name: str, user: str, token: str, base: str, resume: bool = True) -> None:
        self.name, self.user, self.token, self.base, self.resume = name, user, token, base, resume
        self.events: list[dict[str, Any]] = []
        self.nodes: list[str] = []  # the X-Mixun-Node of each connection (through nginx)
        self.hello_seq: int | None = None  # last_event_seq of the latest hello
        self.reconnects = 0
        self._ws: Any = None

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["event_seq"]) if self.events else 0

    async def connect(self) -> None:
        """Only the handshake: the hello is read by run(), so sends may race the server's registration."""
        from websockets.asyncio.client import connect

        ws_url = self.base.replace("http://", "ws://") + f"/api/v1/ws?token={self.token}"
        self.hello_seq = None
        self._ws = await connect(ws_url, open_timeout=10, max_size=None)
        self.nodes.append(self._ws.response.headers.get("X-Mixun-Node", ""))

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop``; on a dropped connection reconnect (through ``base``) and resume."""
        from websockets.exceptions import ConnectionClosed

        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(self._ws.recv(), 0.2)
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError):
                self.reconnects += 1
                for _attempt in range(200):
                    try:
                        await self.connect()
                        break
                    except Exception:  # noqa: BLE001 - nginx may still be trying the dead node; again
                        await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"{self.name} could not reconnect") from None
                continue
            frame = json.loads(raw)
            if frame.get("type") == "hello":
                self.hello_seq = int(frame["last_event_seq"])
                if self.resume:
                    await self._ws.send(json.dumps({"type": "resume", "after_event_seq": self.last_seq}))
                continue
            if frame.get("event_seq"):
                self.events.append(frame)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    def message_ids(self) -> list[int]:
        return [int(e["message"]["id"]) for e in self.events if e.get("type") == "message.created"]

    def seqs(self) -> list[int]:
        return [int(e["event_seq"]) for e in self.events]


async def wait_for(predicate: Any, timeout: float, what: Any) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what()}")
        await asyncio.sleep(0.02)


def assert_no_gap(reader: Reader, first: int | None = None) -> None:
    seqs = reader.seqs()
    start = seqs[0] if first is None and seqs else (first or 1)
    assert seqs == list(range(start, start + len(seqs))), (reader.name, seqs)


async def last_event_seq(base: str, token: str) -> int:
    """The person's latest event_seq, as a new connection's hello tells it."""
    from websockets.asyncio.client import connect

    async with connect(base.replace("http://", "ws://") + f"/api/v1/ws?token={token}") as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return int(hello["last_event_seq"])


# --- (a) a client on any node receives what a client on any other node sent --------------------------


async def _cross_node_rounds(cluster: Cluster, group_id: int, rounds: int) -> None:
    """Each person has, on each node and through nginx, a reader that stays connected (and resumes, as
    the web client does) and a reader connected anew every round that never resumes. Each round every
    person sends once, alternately through nginx and straight to a node, while the new readers are
    still connecting (no one waits for a hello first: the race at connect the lead pointed at). Every
    staying reader must get every message; every new reader every event after its hello's
    last_event_seq, pushed, with no gap."""
    bases = [n.url for n in cluster.nodes] + [cluster.lb.url]
    names = sorted(cluster.ids)
    stay = [Reader(f"{n}@{b}", n, cluster.tokens[n], b) for n in names for b in bases]
    stop = asyncio.Event()
    await asyncio.gather(*(r.connect() for r in stay))
    stay_tasks = [asyncio.create_task(r.run(stop)) for r in stay]
    await wait_for(lambda: all(r.hello_seq is not None for r in stay), 10, lambda: "hellos")
    fresh_nodes: set[str] = set()
    async with httpx.AsyncClient(timeout=30) as http:
        for rnd in range(rounds):
            fresh = [Reader(f"{n}@{b}#{rnd}", n, cluster.tokens[n], b, resume=False) for n in names for b in bases]
            fresh_stop = asyncio.Event()

            async def open_and_read(r: Reader, stop_: asyncio.Event = fresh_stop) -> None:
                await r.connect()
                await r.run(stop_)

            fresh_tasks = [asyncio.create_task(open_and_read(r)) for r in fresh]

            async def send(i: int, name: str, rnd_: int = rnd) -> int:
                base = bases[(i + rnd_) % len(bases)]
                resp = await http.post(f"{base}/api/v1/conversations/{group_id}/messages",
                                       headers={"Authorization": f"Bearer {cluster.tokens[name]}"},
                                       json={"text": f"第{rnd_}轮 {name}", "client_id": f"a-{rnd_}-{name}"})
                assert resp.status_code == 201, resp.text
                return int(resp.json()["id"])

            round_ids = await asyncio.gather(*(send(i, n) for i, n in enumerate(names)))
            await wait_for(lambda f=fresh: all(r.hello_seq is not None for r in f), 10, lambda: "fresh hellos")
            latest = {n: await last_event_seq(cluster.lb.url, cluster.tokens[n]) for n in names}

            def missing(ids: list[int] = round_ids, latest_: dict[str, int] = latest,
                        fresh_: list[Reader] = fresh) -> list[str]:
                out = [f"{r.name} lacks messages {sorted(set(ids) - set(r.message_ids()))}"
                       for r in stay if not set(ids) <= set(r.message_ids())]
                for r in fresh_:
                    assert r.hello_seq is not None
                    want = list(range(r.hello_seq + 1, latest_[r.user] + 1))
                    if r.seqs() != want:
                        out.append(f"{r.name} (hello {r.hello_seq}) got {r.seqs()}, owed {want}")
                return out

            await wait_for(lambda: not missing(), 10, lambda: "; ".join(missing()))
            fresh_stop.set()
            await asyncio.gather(*fresh_tasks)
            for r in fresh:
                fresh_nodes.update(r.nodes if r.base == cluster.lb.url else ())
                await r.close()
    stop.set()
    await asyncio.gather(*stay_tasks)
    for r in stay:
        assert_no_gap(r)
        await r.close()
    # Through nginx, new connections landed on every node (round robin): deliveries crossed nodes there.
    assert len(fresh_nodes) == len(cluster.nodes), fresh_nodes


@pytest.mark.parametrize("bus", ["redis", "nats"])
def test_a_client_on_any_node_receives_what_a_client_on_another_node_sent(cluster_factory: Any, bus: str) -> None:
    cluster = cluster_factory(bus, nodes=2, people=3)
    for name in cluster.ids:
        cluster.tokens[name] = login(cluster.lb.url, name)
    group_id = make_group(cluster.lb.url, cluster.tokens["staff00"], [v for k, v in cluster.ids.items() if k != "staff00"])
    run_async(_cross_node_rounds(cluster, group_id, rounds=int(os.environ.get("MIXUN_MULTINODE_ROUNDS", "5"))))


# --- (b) a node killed mid-load loses no acknowledged message; its clients resume elsewhere ----------


async def _kill_mid_load(cluster: Cluster, group_id: int, seconds: float, rate: float) -> None:
    """Every person reads through nginx (round robin spreads them over both nodes) and sends through
    nginx at ``rate`` messages a second with a client_id, sending the same client_id again until it gets
    its 201, as the web client does after an unknown outcome (a 502 from nginx, a reset). A third of the
    way in, the whole of node 0 (the server and its writer process) is killed with SIGKILL. Every message
    that got a 201 must reach every member's reader exactly once, in event_seq order with no gap, and the
    readers that were on node 0 must have reconnected through nginx to node 1 and resumed there."""
    names = sorted(cluster.ids)
    lb = cluster.lb.url
    readers = [Reader(f"{n}@lb", n, cluster.tokens[n], lb) for n in names]
    stop_reading, stop_sending = asyncio.Event(), asyncio.Event()
    for r in readers:  # one after another, so round robin alternates them over the nodes
        await r.connect()
    read_tasks = [asyncio.create_task(r.run(stop_reading)) for r in readers]
    await wait_for(lambda: all(r.hello_seq is not None for r in readers), 10, lambda: "hellos")
    dead = f"127.0.0.1:{cluster.nodes[0].port}"
    on_dead = [r for r in readers if r.nodes[0] == dead]
    assert on_dead and len(on_dead) < len(readers), [r.nodes for r in readers]
    acked: dict[str, int] = {}  # client_id -> message id
    failures: list[str] = []

    async def sender(name: str) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            n = 0
            while not stop_sending.is_set():
                client_id = f"b-{name}-{n}"
                for _attempt in range(100):
                    try:
                        resp = await http.post(f"{lb}/api/v1/conversations/{group_id}/messages",
                                               headers={"Authorization": f"Bearer {cluster.tokens[name]}"},
                                               json={"text": f"{name} 第{n}条", "client_id": client_id})
                    except httpx.HTTPError as exc:
                        failures.append(f"{client_id}: {type(exc).__name__}")
                        await asyncio.sleep(0.05)
                        continue
                    if resp.status_code == 201:
                        acked[client_id] = int(resp.json()["id"])
                        break
                    failures.append(f"{client_id}: {resp.status_code}")
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"{client_id} never stored: {failures[-5:]}")
                n += 1
                await asyncio.sleep(len(names) / rate)

    send_tasks = [asyncio.create_task(sender(n)) for n in names]
    # Mid-load: once sends are being acknowledged (on a crowded host the first take a while), and a
    # third of the run in.
    await asyncio.sleep(seconds / 3)
    await wait_for(lambda: len(acked) >= 2 * len(names), 60, lambda: f"the first acknowledgements ({len(acked)})")
    before_kill = len(acked)
    os.killpg(cluster.nodes[0].proc.pid, signal.SIGKILL)  # the node's server and its writer process
    await asyncio.to_thread(cluster.nodes[0].proc.wait, 10)
    await asyncio.sleep(seconds * 2 / 3)
    stop_sending.set()
    await asyncio.gather(*send_tasks)
    assert before_kill > 0 and len(acked) > before_kill, (before_kill, len(acked))
    want = set(acked.values())

    def missing() -> list[str]:
        return [f"{r.name} lacks {len(want - set(r.message_ids()))} of {len(want)}"
                for r in readers if not want <= set(r.message_ids())]

    await wait_for(lambda: not missing(), 30, lambda: "; ".join(missing()) + f"; failures {failures[:10]}")
    stop_reading.set()
    await asyncio.gather(*read_tasks)
    alive = f"127.0.0.1:{cluster.nodes[1].port}"
    for r in readers:
        await r.close()
        assert_no_gap(r)
        ids = r.message_ids()
        assert len(ids) == len(set(ids)), f"{r.name} got a message twice"
        texts = [e["message"]["text"] for e in r.events if e.get("type") == "message.created"]
        assert len(texts) == len(set(texts)), f"{r.name}: a resent client_id stored twice"
        # Sealed by either node under the shared key ring, opened by the other: the words, never the
        # "destroyed" notice a node shows for a key it cannot reach.
        assert all("第" in t and t.endswith("条") for t in texts), (r.name, [t for t in texts if "条" not in t][:3])
    for r in on_dead:  # dropped with their node, back through nginx on the other one, resumed
        assert r.reconnects >= 1 and r.nodes[-1].endswith(alive), (r.name, r.nodes)


@pytest.mark.parametrize("bus", ["redis", "nats"])
def test_a_node_killed_mid_load_loses_no_acknowledged_message(cluster_factory: Any, bus: str) -> None:
    cluster = cluster_factory(bus, nodes=2, people=4)
    for name in cluster.ids:
        cluster.tokens[name] = login(cluster.lb.url, name)
    group_id = make_group(cluster.lb.url, cluster.tokens["staff00"], [v for k, v in cluster.ids.items() if k != "staff00"])
    run_async(_kill_mid_load(cluster, group_id, seconds=float(os.environ.get("MIXUN_MULTINODE_SECONDS", "3")),
                               rate=float(os.environ.get("MIXUN_MULTINODE_RATE", "80"))))
