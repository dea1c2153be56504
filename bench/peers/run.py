"""Mixun and Matrix Synapse side by side on this machine, one load generator, one run:
`python -m bench.peers [--users 1000] [--seconds 12] [--only mixun,synapse-workers,synapse-single]`.

For each system: a fresh PostgreSQL database on the same server, N users in rooms of 50 (Mixun: bulk
rows and groups through its conversation service, as ``bench.latency``; Synapse: users through the admin
shared-secret registration, rooms by ``createRoom`` and ``join``), every user's client connected, then a
ladder of offered send rates (the same ladder for every system) until a step is not carried. A step is
carried when the sender kept ≥ 95 % of the offered rate with every send accepted, ≥ 99.9 % of the
deliveries arrived, and the send→deliver p99 stayed under 2 s (Mattermost's request-time bound).
Reported per step: achieved rate, send→deliver p50/p99, server CPU per message (all its processes, and
apart the PostgreSQL backends of its database), generator CPU, stolen CPU; per system: memory per
connected user (RSS of all its processes after the clients connected, less before) and the sustained
throughput (the highest achieved rate of a carried step). Results as JSON on stdout and in
bench/results/peers-<timestamp>.json (not committed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common
from bench.peers import load
from bench.peers.synapse import Synapse, available, version

LADDER = [1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 22.0, 33.0, 50.0, 75.0, 110.0, 165.0, 250.0, 375.0, 560.0, 840.0, 1260.0]
SYSTEMS = ["synapse-workers", "mixun", "synapse-single"]
DRAIN_SECONDS = 4.0
P99_BOUND_MS = 2000.0


@contextmanager
def _mixun(users: int, group: int) -> Iterator[dict[str, Any]]:
    with common.environment("postgres", "peers") as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, users, prefix="p")
        tokens = common.bulk_sessions(rt, ids)
        groups = common.make_groups(rt, ids, group)
        rt.db.dispose()
        token_of = dict(zip(ids, tokens, strict=True))
        with common.Server(env) as server:
            yield {"pids": [server.pid], "port": server.port, "db": env.pg_db, "tokens": tokens,
                   "plan": [(str(conv), token_of[uid]) for conv, members in groups for uid in members],
                   "rooms": len(groups), "processes": "mixun serve (serving process + its writer process)",
                   "errors": server.errors_in_log}


@contextmanager
def _synapse(layout: str, users: int, group: int) -> Iterator[dict[str, Any]]:
    with Synapse(layout) as s:
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            accounts = list(pool.map(lambda i: s.register(f"p{i:06d}"), range(users)))
            plan: list[tuple[str, str]] = []
            rooms = 0
            for g in range(users // group):
                members = accounts[g * group:(g + 1) * group]
                room = s.call("POST", "/_matrix/client/v3/createRoom",
                              {"preset": "public_chat", "name": f"bench{g}"}, members[0][1])["room_id"]
                list(pool.map(lambda m, r=room: s.call("POST", f"/_matrix/client/v3/join/{r}", {}, m[1]),
                              members[1:]))
                plan.extend((room, tok) for _uid, tok in members)
                rooms += 1
        common.log(f"peers[synapse-{layout}]: {users} users, {rooms} rooms set up in {time.monotonic() - t0:.0f} s")
        ports = s.sync_ports or [s.main_port]
        names = ", ".join(s.procs)
        yield {"pids": s.pids(), "port": s.main_port, "db": s.db, "rooms": rooms, "plan": plan,
               "sync": [(tok, ports[n % len(ports)]) for n, (_u, tok) in enumerate(accounts)],
               "processes": f"Synapse {version()}: {names}", "errors": s.errors_in_logs}


def _recv(conn: Any, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("generator process did not answer")
    return conn.recv()


def run_system(system: str, users: int, group: int, seconds: float, ladder: list[float]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    cm = _mixun(users, group) if system == "mixun" else _synapse(system.split("-", 1)[1], users, group)
    with cm as sut:
        pids = sut["pids"]
        time.sleep(2.0)
        rss0 = load.rss_tree_kb(pids)
        pipes, procs = [], []
        for r in range(load.RECEIVERS):
            a, b = ctx.Pipe()
            if system == "mixun":
                args: tuple[Any, ...] = (sut["port"], sut["tokens"][r::load.RECEIVERS], b)
                target: Any = load.mixun_receiver
            else:
                args, target = (sut["sync"][r::load.RECEIVERS], b), load.synapse_receiver
            p = ctx.Process(target=target, args=args, daemon=True)
            p.start()
            pipes.append(a)
            procs.append(p)
        t_conn = time.monotonic()
        connected = sum(_recv(a, 600)[1] for a in pipes)
        connect_s = time.monotonic() - t_conn
        time.sleep(3.0)
        quiet = sum(common.wait_quiet(pid, limit=30) for pid in pids[:1])
        rss1 = load.rss_tree_kb(pids)
        common.log(f"peers[{system}]: {connected} clients connected in {connect_s:.0f} s "
                   f"(RSS {rss0 // 1024} -> {rss1 // 1024} MB)")
        steps = []
        got: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for k, rate in enumerate(ladder):
            sa, sb = ctx.Pipe()
            start_at = time.monotonic() + 1.0
            sp = ctx.Process(target=load.sender, args=(
                "mixun" if system == "mixun" else "synapse", sut["port"], sut["plan"], rate, seconds,
                (k + 1) * load.STEP_INDEX, start_at, sb), daemon=True)
            sp.start()
            per0 = [common.cpu_seconds(pid) for pid in pids]
            cpu0 = sum(per0)
            db0 = load.db_backend_cpu(sut["db"])
            gen0 = sum(common.cpu_seconds(p.pid) for p in (*procs, sp))
            ticks0 = common.cpu_ticks()
            sent = _recv(sa, seconds + 300)[1]
            ticks1 = common.cpu_ticks()
            per1 = [common.cpu_seconds(pid) for pid in pids]
            cpu1 = sum(per1)
            db1 = load.db_backend_cpu(sut["db"])
            gen1 = sum(common.cpu_seconds(p.pid) for p in (*procs, sp))
            sp.join(10)
            time.sleep(DRAIN_SECONDS)
            for a in pipes:
                a.send("flush")
            for a in pipes:
                for idx, lat in _recv(a, 120)[1]:
                    got[idx // load.STEP_INDEX].append((idx, lat))
            ok = len(sent["accepted"])
            elapsed = sent["send_elapsed"]
            step = {"offered": rate, "attempted": sent["attempted"], "accepted": ok, "status": sent["status"],
                    "skipped_generator_backlog": sent["skipped"],
                    "achieved_rate": round(ok / elapsed, 1), "send_seconds": round(elapsed, 1),
                    "send_wall_seconds": round(sent["wall_elapsed"], 1),
                    "http_latency_ms": common.summary_ms(sent["http_latencies"]),
                    "server_cpu_percent": round(100 * (cpu1 - cpu0) / sent["wall_elapsed"]),
                    "server_cpu_percent_by_process": [round(100 * (b - a) / sent["wall_elapsed"])
                                                      for a, b in zip(per0, per1, strict=True)],
                    "server_cpu_ms_per_message": round(1000 * (cpu1 - cpu0) / max(1, ok), 2),
                    "db_cpu_ms_per_message": round(1000 * (db1 - db0) / max(1, ok), 2),
                    "db_cpu_percent": round(100 * (db1 - db0) / sent["wall_elapsed"]),
                    "generators_cpu_percent": round(100 * (gen1 - gen0) / sent["wall_elapsed"]),
                    "machine_steal_percent": common.steal_percent(ticks0, ticks1),
                    "load_average": common.load_average(), "_accepted": sent["accepted"]}
            steps.append(step)
            common.log(f"peers[{system}] {rate:g}/s: achieved {step['achieved_rate']}/s, "
                       f"server {step['server_cpu_percent']} %, db {step['db_cpu_percent']} %, "
                       f"gen {step['generators_cpu_percent']} %, status {sent['status']}")
            _judge(step, got.pop(k + 1, []), group)
            common.log(f"peers[{system}] {rate:g}/s: delivered {step['delivered_fraction']}, "
                       f"p50 {step['deliver_latency_ms']['p50']} ms, p99 {step['deliver_latency_ms']['p99']} ms")
            if not step["carried"]:
                break  # one step past saturation
        for a in pipes:
            a.send("stop")
        results = [_recv(a, 120)[1] for a in pipes]
        for p in procs:
            p.join(10)
        tracebacks = sut["errors"]()
        rooms, processes = sut["rooms"], sut["processes"]
    sustained = max((s["achieved_rate"] for s in steps if s["carried"]), default=0.0)
    out = {"system": system, "processes": processes, "users": users, "clients_connected": connected,
           "rooms": rooms, "room_size": group, "connect_seconds": round(connect_s, 1),
           "settle_seconds": round(quiet, 1),
           "rss_mb_before_clients": round(rss0 / 1024), "rss_mb_with_clients": round(rss1 / 1024),
           "memory_kb_per_connected_user": round((rss1 - rss0) / max(1, connected), 1),
           "receiver_errors": sum(r["errors"] for r in results),
           "limited_timelines": sum(r["limited"] for r in results),
           "server_tracebacks": tracebacks, "sustained_msgs_per_s": sustained, "steps": steps}
    return out


def _judge(step: dict[str, Any], arrivals: list[tuple[int, float]], group: int) -> None:
    accepted = set(step.pop("_accepted"))
    lat = [lt for idx, lt in arrivals if idx in accepted]
    expected = len(accepted) * group
    step["deliveries"] = len(lat)
    step["delivered_fraction"] = round(len(lat) / expected, 4) if expected else 0.0
    step["deliver_latency_ms"] = common.summary_ms(lat)
    step["carried"] = bool(
        lat and step["achieved_rate"] >= 0.95 * step["offered"] and step["accepted"] == step["attempted"]
        and step["delivered_fraction"] >= 0.999 and step["deliver_latency_ms"]["p99"] < P99_BOUND_MS)


def ratios(res: dict[str, Any]) -> dict[str, Any]:
    """Mixun against each Synapse layout: sustained throughput, and at each offered rate both carried,
    p50/p99 and CPU per message."""
    out: dict[str, Any] = {}
    mx = res.get("mixun")
    if not mx or "steps" not in mx:
        return out
    for name in ("synapse-workers", "synapse-single"):
        sy = res.get(name)
        if not sy or "steps" not in sy:
            continue
        r: dict[str, Any] = {"sustained_throughput": round(mx["sustained_msgs_per_s"] / sy["sustained_msgs_per_s"], 1)
                             if sy["sustained_msgs_per_s"] else None,
                             "memory_per_user_synapse_over_mixun": round(
                                 sy["memory_kb_per_connected_user"] / mx["memory_kb_per_connected_user"], 1)
                             if mx["memory_kb_per_connected_user"] > 0 else None, "at_equal_rates": []}
        mx_steps = {s["offered"]: s for s in mx["steps"]}
        for s in sy["steps"]:
            m = mx_steps.get(s["offered"])
            if not m:
                continue
            r["at_equal_rates"].append({
                "offered": s["offered"], "synapse_carried": s["carried"], "mixun_carried": m["carried"],
                "p50_synapse_over_mixun": round(s["deliver_latency_ms"]["p50"] / m["deliver_latency_ms"]["p50"], 1),
                "p99_synapse_over_mixun": round(s["deliver_latency_ms"]["p99"] / m["deliver_latency_ms"]["p99"], 1),
                "server_cpu_per_msg_synapse_over_mixun": round(
                    s["server_cpu_ms_per_message"] / m["server_cpu_ms_per_message"], 1)
                if m["server_cpu_ms_per_message"] else None,
                "db_cpu_per_msg_synapse_over_mixun": round(
                    s["db_cpu_ms_per_message"] / m["db_cpu_ms_per_message"], 1) if m["db_cpu_ms_per_message"] else None})
        out[f"mixun_vs_{name}"] = r
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--max-rate", type=float, default=LADDER[-1])
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or SYSTEMS
    if any(n.startswith("synapse") for n in names) and not available():
        parser.error("Synapse's virtual environment is missing: see bench/peers/synapse.py")
    ladder = [r for r in LADDER if r <= args.max_rate]
    res: dict[str, Any] = {"machine": common.machine(), "load_average_at_start": common.load_average(),
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "ladder": ladder,
                           "seconds_per_step": args.seconds}
    for name in names:
        common.log(f"=== {name} ===")
        try:
            res[name] = run_system(name, args.users, args.room_size, args.seconds, ladder)
        except Exception as exc:
            common.log(f"{name} failed: {exc!r}")
            res[name] = {"error": repr(exc)}
    res["ratios"] = ratios(res)
    res["load_average_at_end"] = common.load_average()
    text = json.dumps(res, ensure_ascii=False, indent=1)
    out_dir = Path(__file__).resolve().parent.parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"peers-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
