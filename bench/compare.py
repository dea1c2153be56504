"""The core benchmarks of an earlier commit and of this checkout, side by side in one run:
`python -m bench.compare REV [--rounds N] [--seconds S] [--only RUN,...]`.

The earlier commit is checked out into a temporary git worktree and served from it (its ``src`` first
on PYTHONPATH, ahead of this checkout's editable install); both sides are driven by this checkout's
load generators. Runs alternate, previous then now, so the machine's drift hits both alike. Prints one
JSON line per run and the whole result at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RUNS = {
    "ingest_postgres": "from bench import ingest; r = ingest.run_backend('postgres', {s})",
    "latency_sqlite_500": "from bench import latency; r = latency.run_backend('sqlite', 500.0, {s})",
    "latency_sqlite_100": "from bench import latency; r = latency.run_backend('sqlite', 100.0, {s})",
    "latency_postgres_100": "from bench import latency; r = latency.run_backend('postgres', 100.0, {s})",
    "latency_postgres_500": "from bench import latency; r = latency.run_backend('postgres', 500.0, {s})",
}
KEEP = ("messages_per_s", "achieved_send_rate", "deliveries_per_s", "delivered_fraction", "deliver_latency_ms",
        "ack_latency_ms", "server_cpu_ms_per_message", "server_cpu_us_per_delivery",
        "serving_process_cpu_ms_per_message", "server_cpu_percent", "generators_cpu_percent", "socket_errors",
        "machine_steal_percent")


def _one(code: str, pythonpath: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    script = code + "; import json; print('RESULT', json.dumps(r))"
    out = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"error": out.stderr[-800:]}
    result = json.loads(lines[-1][7:])
    return {k: result[k] for k in KEEP if k in result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("rev", help="the earlier commit")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(RUNS)}")
    args = ap.parse_args(argv)
    runs = {name: code for name, code in RUNS.items() if not args.only or name in args.only.split(",")}
    from bench import common

    print("machine", json.dumps(common.machine()), flush=True)
    with tempfile.TemporaryDirectory(prefix="mixun-compare-") as tmp:
        tree = Path(tmp) / "previous"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            results: dict[str, dict[str, list[dict[str, object]]]] = {}
            for rnd in range(args.rounds):
                for name, code in runs.items():
                    # Now: this checkout's src first too (the venv's editable install may point at another
                    # checkout: a git worktree shares the main checkout's venv).
                    for label, path in (("previous", str(tree / "src")), ("now", str(ROOT / "src"))):
                        res = _one(code.format(s=args.seconds), path)
                        results.setdefault(name, {}).setdefault(label, []).append(res)
                        print(rnd, name, label, json.dumps(res, ensure_ascii=False), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
