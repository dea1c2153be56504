"""Run the benchmarks: `python -m bench.run [--quick] [--only NAME[,NAME]]`.

Each benchmark starts its own `mixun serve` process on 127.0.0.1 (fresh data dir / database), drives
it from this process (or from generator subprocesses), stops by itself and returns a dict. Results
are printed as JSON and written to bench/results/<timestamp>.json (not committed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from bench import common

BENCHMARKS = ["memory", "directory", "latency", "ingest"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="smaller and shorter (about 3 minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results: dict[str, object] = {"machine": common.machine(), "quick": args.quick,
                                  "load_average_at_start": common.load_average(),
                                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    t0 = time.monotonic()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        t = time.monotonic()
        common.log(f"=== {name} ===")
        try:
            results[name] = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            common.log(f"{name} failed: {exc!r}")
            results[name] = {"error": repr(exc)}
        common.log(f"=== {name} done in {time.monotonic() - t:.0f} s ===")
    results["total_seconds"] = round(time.monotonic() - t0, 1)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    text = json.dumps(results, ensure_ascii=False, indent=2)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
    common.log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
