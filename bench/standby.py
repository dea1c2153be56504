"""RPO and RTO of the PostgreSQL standby (issue 22 item 3): kill the primary during a load of sends,
promote the standby with `mixun standby promote`, count the acknowledged messages missing and the
seconds until sends are accepted again — synchronous and asynchronous replication, one run.

    .venv/bin/python -m bench.standby [--senders 8] [--before 400]

Needs root (the clusters run as the postgres account) and Debian's PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from tests.conftest import PASSWORD
from tests.helpers import MIXUN, Server, add_people
from tests.integration.test_standby import Sender
from tests.pg_pair import PgPair


def one_run(synchronous: bool, senders: int, before: int) -> dict[str, float]:
    from mixun.config import load_settings
    from mixun.db.models import Message

    pair = PgPair(synchronous=synchronous).start()
    tmp = Path(tempfile.mkdtemp(prefix="mixun-bench-standby-"))
    data = tmp / "data"
    env = {"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": pair.url}
    people = tuple((f"u{i}", f"员工{i}") for i in range(senders + 1))
    ids = add_people(load_settings(env), people)
    server = Server(data, pair.url).wait()
    try:
        c = httpx.Client(base_url=server.url, timeout=10)
        tokens = [c.post("/api/v1/auth/login", json={"username": u, "password": PASSWORD}).json()["token"]
                  for u, _n in people]
        threads = []
        for i in range(senders):
            conv = c.post("/api/v1/conversations", headers={"Authorization": f"Bearer {tokens[i]}"},
                          json={"kind": "direct", "members": [ids[people[-1][0]]]}).json()["id"]
            threads.append(Sender(server.url, tokens[i], conv))
        for t in threads:
            t.start()
        while sum(len(t.acked) for t in threads) < before:
            time.sleep(0.02)
        pair.kill_primary()
        killed = time.monotonic()
        acked_at_kill = sum(len(t.acked) for t in threads)
        full = {k: v for k, v in os.environ.items() if not k.startswith("MIXUN_")} | env
        promoted = subprocess.run([MIXUN, "standby", "promote"], env=full, capture_output=True, text=True,
                                  timeout=120)
        assert promoted.returncode == 0, promoted.stderr
        promote_done = time.monotonic() - killed
        while not any(ts > killed for t in threads for ts in t.ack_times):
            time.sleep(0.01)
        rto = min(ts for t in threads for ts in t.ack_times if ts > killed) - killed
        time.sleep(2)
        for t in threads:
            t.stop.set()
        for t in threads:
            t.join(20)
        engine = create_engine(pair.standby_url())
        with engine.connect() as conn:
            stored = dict(conn.execute(select(Message.id, Message.text)).all())
        engine.dispose()
        acked = [a for t in threads for a in t.acked]
        missing = sum(1 for i, text in acked if stored.get(i) != text)
        return {"acked_before_kill": acked_at_kill, "acked_total": len(acked), "missing": missing,
                "promote_s": promote_done, "rto_s": rto}
    finally:
        server.stop()
        pair.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--before", type=int, default=400, help="acknowledged sends before the kill")
    args = ap.parse_args()
    print(f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; senders {args.senders}, kill after {args.before} acknowledged sends")
    print("| replication | acknowledged (at kill / total) | acknowledged but missing (RPO) | promote (s) | "
          "kill → first send accepted (RTO, s) |")
    print("|---|---|---|---|---|")
    for sync in (True, False):
        r = one_run(sync, args.senders, args.before)
        print(f"| {'synchronous' if sync else 'asynchronous'} | {r['acked_before_kill']} / {r['acked_total']} | "
              f"{r['missing']} | {r['promote_s']:.2f} | {r['rto_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
