"""The core benchmarks of an earlier commit and of this checkout, side by side in one run:
`python -m bench.compare REV [--rounds N] [--seconds S] [--only RUN,...]`; or of this checkout with
and without some server settings: `python -m bench.compare --previous-env "MIXUN_X=0 ..." ...` (the
"previous" side is this checkout's server with those settings).

The earlier commit is checked out into a temporary git worktree and served from it (its ``src`` first
on PYTHONPATH, ahead of the venv's editable install), this checkout from its own ``src`` likewise (the
editable install may point at another checkout); both sides are driven by this checkout's load
generators. Runs alternate, previous then now, so the machine's drift hits both alike. Prints one JSON
line per run and the whole result at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RUNS = {
    "ingest_sqlite": "from bench import ingest; r = ingest.run_backend('sqlite', {s})",
    "ingest_postgres": "from bench import ingest; r = ingest.run_backend('postgres', {s})",
    "latency_sqlite_500": "from bench import latency; r = latency.run_backend('sqlite', 500.0, {s})",
    "latency_sqlite_100": "from bench import latency; r = latency.run_backend('sqlite', 100.0, {s})",
    "latency_postgres_100": "from bench import latency; r = latency.run_backend('postgres', 100.0, {s})",
    "latency_postgres_500": "from bench import latency; r = latency.run_backend('postgres', 500.0, {s})",
    # Two serving processes (each with its writer) on the Redis bus: wake-ups from two writers interleave.
    "latency_postgres_300_workers2":
        "from bench import latency; r = latency.run_backend('postgres', 300.0, {s}, workers=2)",
}
KEEP = ("messages_per_s", "achieved_send_rate", "deliveries_per_s", "delivered_fraction", "deliver_latency_ms",
        "ack_latency_ms", "server_cpu_ms_per_message", "server_cpu_us_per_delivery",
        "serving_process_cpu_ms_per_message", "server_cpu_percent", "generators_cpu_percent", "socket_errors",
        "machine_steal_percent", "load_average")


def run_code(code: str, pythonpath: str, server_env: str = "") -> dict[str, Any]:
    """Run ``code`` (which sets ``r``) in a fresh interpreter from this checkout with ``pythonpath``
    (one side's ``src``) first and ``server_env`` given to the server it starts (common.Env.environ);
    ``r`` as parsed JSON, or {"error": the end of stderr}."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_SERVER_ENV")}
    env["PYTHONPATH"] = pythonpath
    if server_env:
        env["BENCH_SERVER_ENV"] = server_env
    script = code + "; import json; print('RESULT', json.dumps(r))"
    out = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"error": out.stderr[-800:]}
    result: dict[str, Any] = json.loads(lines[-1][7:])
    return result


@contextlib.contextmanager
def previous_tree(rev: str) -> Iterator[Path]:
    """A temporary git worktree of ``rev``, removed afterwards; its ``src`` is the earlier side."""
    with tempfile.TemporaryDirectory(prefix="mixun-compare-") as tmp:
        tree = Path(tmp) / "previous"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def _one(code: str, pythonpath: str, server_env: str = "") -> dict[str, object]:
    result = run_code(code, pythonpath, server_env)
    if "error" in result:
        return result
    return {k: result[k] for k in KEEP if k in result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("rev", nargs="?", help="the earlier commit")
    ap.add_argument("--previous-env", default="",
                    help='instead of an earlier commit: this checkout with these server settings ("MIXUN_X=0 ...")')
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(RUNS)}")
    args = ap.parse_args(argv)
    runs = {name: code for name, code in RUNS.items() if not args.only or name in args.only.split(",")}
    from bench import common

    print("machine", json.dumps(common.machine()), flush=True)
    if not args.rev and not args.previous_env:
        ap.error("give the earlier commit or --previous-env")
    with contextlib.ExitStack() as stack:
        if args.rev:
            previous = (str(stack.enter_context(previous_tree(args.rev)) / "src"), args.previous_env)
        else:
            previous = (str(ROOT / "src"), args.previous_env)
        results: dict[str, dict[str, list[dict[str, object]]]] = {}
        for rnd in range(args.rounds):
            for name, code in runs.items():
                for label, (path, server_env) in (("previous", previous), ("now", (str(ROOT / "src"), ""))):
                    res = _one(code.format(s=args.seconds), path, server_env)
                    results.setdefault(name, {}).setdefault(label, []).append(res)
                    print(rnd, name, label, json.dumps(res, ensure_ascii=False), flush=True)
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
