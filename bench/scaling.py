"""More serving processes: 1, 2 and 4 on PostgreSQL, with Redis and with NATS (issue 23 item 4).

`python -m bench.scaling [--processes 1,2,4] [--buses redis,nats] [--duration S] [--rate R] [--clients N]
[--layout workers|nodes]`

For each bus and each number of processes N: sustained ingest (bench.ingest's closed-loop generator,
1,000 people in groups of 5, 64 connections) and send→deliver latency at ``--rate`` (bench.latency's
open-loop sender and receivers, ``--clients`` sockets in groups of 50), with the server's CPU per
message (every process of the server: the serving processes and their send-writer processes).

Layouts: ``workers`` is `mixun serve --workers N` (one port, the kernel spreads connections over the
processes; needs Redis, which carries presence and the send-rate limits); ``nodes`` is N separate
`mixun serve` processes on N ports, the generators' connections round robin over them (what N machines
behind a load balancer do, without the balancer's own CPU). Redis runs as workers, NATS as nodes, unless
``--layout`` says otherwise (NATS can only run as nodes). Every N>1 process has its own send writer.

Results go to stdout as JSON and to bench/results/scaling-<time>.json. The host is shared: compare
figures within one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common, ingest, latency

BUSES = {"redis": common.REDIS_URL, "nats": "nats://127.0.0.1:4222"}


@contextlib.contextmanager
def servers(env: common.Env, n: int, layout: str) -> Any:
    started: list[common.Server] = []
    try:
        if layout == "workers":
            started.append(common.Server(env, workers=n).start())
        else:
            for i in range(n):
                server = common.Server(env)
                server.log_path = env.data_dir / f"server-{i}.log"
                started.append(server.start())
        yield started
    finally:
        for s in started:
            s.stop()
            if s.errors_in_log():  # kept: the data directory goes with the run
                kept = Path(tempfile.gettempdir()) / f"bench-scaling-{s.port}.log"
                shutil.copy(s.log_path, kept)
                common.log(f"server log with tracebacks kept in {kept}")


def cpu(started: list[common.Server]) -> float:
    return sum(common.cpu_seconds(s.pid) for s in started)


def writer_batches(port: int) -> dict[str, float] | None:
    """The send writers' batches (count, sends per batch) from /metrics, added up over the processes of
    one `mixun serve` (separate servers on one data directory do not add up: left out)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
              if s.name in ("mixun_writer_batch_size_sum", "mixun_writer_batch_size_count")}
    count = values.get("mixun_writer_batch_size_count", 0.0)
    return {"batches": count, "sends_per_batch": round(values.get("mixun_writer_batch_size_sum", 0.0) / count, 1)
            if count else 0.0}


def pending_versions(env: common.Env) -> int:
    """Message versions not yet in the search index: work a server left for after the measurement (the
    writers' indexers run beside the writes; one indexer may fall behind where two keep up)."""
    from sqlalchemy import func, select

    from mixun.db.models_archive import PendingVersion

    rt = common.runtime(env)
    try:
        with rt.db.read() as s:
            return int(s.execute(select(func.count()).select_from(PendingVersion)).scalar_one())
    finally:
        rt.db.dispose()


def run_ingest(bus: str, n: int, layout: str, duration: float, warmup: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with common.environment("postgres", f"scale_i{n}", MIXUN_BUS_URL=BUSES[bus]) as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, 1000, prefix="g")
        tokens = common.bulk_sessions(rt, ids)
        groups = common.make_groups(rt, ids, 5)
        rt.db.dispose()
        token_of = dict(zip(ids, tokens, strict=True))
        plan = [(conv, token_of[uid]) for conv, members in groups for uid in members]
        with servers(env, n, layout) as started:
            # Every process up and done starting (one answering says nothing of the others: a worker
            # of `--workers N` or its writer may still be importing), then `warmup` seconds of load
            # uncounted: each process looks up each of the 1,000 sessions once before it caches it.
            for s in started:
                common.wait_quiet(s.pid)
            ports = [s.port for s in started]
            a, b = ctx.Pipe()
            p = ctx.Process(target=ingest._generator, args=(ports, plan, duration, b, warmup, True), daemon=True)
            p.start()
            if not a.poll(warmup + 120) or a.recv() != "counting":
                raise TimeoutError("ingest generator did not start counting")
            cpu0 = cpu(started)
            if not a.poll(duration + 120):
                raise TimeoutError("ingest generator did not answer")
            out = a.recv()
            used = cpu(started) - cpu0
            p.join(10)
            unindexed = pending_versions(env)
            batches = writer_batches(started[0].port) if len(started) == 1 else None
            tracebacks = sum(s.errors_in_log() for s in started)
    ok = out["status"].get("201", 0)
    return {"writer_batches": batches, "acknowledged": ok, "status": out["status"], "messages_per_s": round(ok / out["elapsed"], 1),
            "ack_latency_ms": common.summary_ms(out["lat"]),
            "server_cpu_percent": round(100 * used / out["elapsed"]),
            "server_cpu_ms_per_message": round(1000 * used / max(1, sum(out["status"].values())), 2),
            "server_tracebacks": tracebacks, "unindexed_at_end": unindexed}


def run_latency(bus: str, n: int, layout: str, rate: float, duration: float, clients: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    group_size = 50
    with common.environment("postgres", f"scale_l{n}", MIXUN_BUS_URL=BUSES[bus]) as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, clients, prefix="l")
        tokens = common.bulk_sessions(rt, ids)
        groups = common.make_groups(rt, ids, group_size)
        rt.db.dispose()
        token_of = dict(zip(ids, tokens, strict=True))
        plan = [(conv, token_of[uid]) for conv, members in groups for uid in members]
        with servers(env, n, layout) as started:
            ports = [s.port for s in started]
            receivers = max(latency.RECEIVERS, len(ports))
            pipes, procs = [], []
            for i in range(receivers):
                a, b = ctx.Pipe()
                url = f"ws://127.0.0.1:{ports[i % len(ports)]}/api/v1/ws"
                p = ctx.Process(target=latency._receiver, args=(url, tokens[i::receivers], b), daemon=True)
                p.start()
                pipes.append(a)
                procs.append(p)
            connected = sum(latency._recv(a, 300)[1] for a in pipes)
            for s in started:
                common.wait_quiet(s.pid)
            start_at = time.monotonic() + 1.0
            sa, sb = ctx.Pipe()
            sp = ctx.Process(target=latency._sender, args=(ports, plan, rate, duration, start_at, sb), daemon=True)
            sp.start()
            cpu0 = cpu(started)
            sent = latency._recv(sa, duration + 120)[1]
            used = cpu(started) - cpu0
            time.sleep(latency.DRAIN_SECONDS)
            results = latency._stop_receivers(pipes, procs)
            sp.join(10)
            tracebacks = sum(s.errors_in_log() for s in started)
    lat = [x for r in results for x in r["latencies"]]
    ok = sent["status"].get("201", 0)
    expected = ok * group_size
    return {"clients": connected, "target_rate": rate, "achieved_send_rate": round(ok / sent["send_elapsed"], 1),
            "status": sent["status"], "delivered_fraction": round(len(lat) / expected, 4) if expected else 0.0,
            "deliver_latency_ms": common.summary_ms(lat), "http_latency_ms": common.summary_ms(sent["http_latencies"]),
            "server_cpu_percent": round(100 * used / sent["send_elapsed"]),
            "server_cpu_ms_per_message": round(1000 * used / max(1, ok), 2),
            "server_tracebacks": tracebacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--buses", default="redis,nats")
    parser.add_argument("--layout", choices=["auto", "workers", "nodes"], default="auto")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--warmup", type=float, default=8.0,
                        help="seconds of ingest load before counting (every process warms its caches)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--only", choices=["both", "ingest", "latency"], default="both")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    results: dict[str, Any] = {"machine": common.machine(), "load_average_at_start": common.load_average(),
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": []}
    for bus in [b.strip() for b in args.buses.split(",") if b.strip()]:
        layout = args.layout if args.layout != "auto" else ("workers" if bus == "redis" else "nodes")
        if bus == "nats" and layout == "workers":
            parser.error("--workers needs Redis (presence and the send-rate limits); NATS runs as nodes")
        for n in counts:
            row: dict[str, Any] = {"bus": bus, "processes": n, "layout": layout if n > 1 else "one process"}
            ticks0 = common.cpu_ticks()
            for name in ("ingest", "latency"):
                if args.only in ("both", name):
                    try:
                        row[name] = (run_ingest(bus, n, layout, args.duration, args.warmup) if name == "ingest" else
                                     run_latency(bus, n, layout, args.rate, args.duration, args.clients))
                    except Exception as exc:  # noqa: BLE001 - one failed cell never loses the others
                        row[name] = {"error": repr(exc)}
                    common.log(f"scaling {bus} x{n} {name}: {row[name]}")
            row["machine_steal_percent"] = common.steal_percent(ticks0, common.cpu_ticks())
            row["load_average"] = common.load_average()
            results["runs"].append(row)
    text = json.dumps(results, ensure_ascii=False, indent=1)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"scaling-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
