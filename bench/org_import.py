"""`mixun org import` at bank scale (issue 21): a 50,000-person HR file into an empty database — the dry
run, the real run, then the same file again (all unchanged) and a file moving and departing 5 %.

    .venv/bin/python -m bench.org_import [--people 50000] [--database-url URL]

Runs the real CLI (`mixun org import`) as a subprocess on a fresh data directory (SQLite unless a
PostgreSQL URL is given) and prints the wall-clock time of each run.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import MIXUN

UNITS = [f"总行/{d}" for d in ("信息科技部", "风险管理部", "公司金融部", "人力资源部", "合规部", "金融市场部", "办公室")]
UNITS += [f"{b}分行/{d}" for b in ("北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉") for d in
          ("营业部", "个人金融部", "公司业务部", "运营管理部")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚文华红鹏宇雪琳晨曦浩然欣怡"


def write_file(path: Path, people: int, shift: int = 0) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["employee_no", "name", "unit", "position", "phone", "status", "departure_reason"])
        for i in range(people):
            name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
            unit = UNITS[(i + (shift if i % 20 == 0 else 0)) % len(UNITS)]
            departed = shift and i % 20 == 10
            w.writerow([f"HR{i:06d}", name, unit, "客户经理", f"139{i:08d}",
                        "departed" if departed else "active", "retirement" if departed else ""])


def run(env: dict[str, str], *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([MIXUN, *args], env=env, capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"mixun {' '.join(args)} failed: {r.stderr[-2000:]}")
    return elapsed, r.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=50_000)
    ap.add_argument("--database-url")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mixun-bench-import-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIXUN_")}
    env["MIXUN_DATA_DIR"] = str(tmp / "data")
    if a.database_url:
        env["MIXUN_DATABASE_URL"] = a.database_url
    subprocess.run([MIXUN, "init"], env=env, capture_output=True, check=True)
    first, second = tmp / "hr.csv", tmp / "hr-changed.csv"
    write_file(first, a.people)
    write_file(second, a.people, shift=3)
    for label, args in (("dry run, empty database", ("org", "import", str(first), "--dry-run")),
                        ("real run, empty database", ("org", "import", str(first))),
                        ("same file again", ("org", "import", str(first))),
                        ("5% moved, 5% departed", ("org", "import", str(second)))):
        seconds, summary = run(env, *args)
        print(f"{label:28s} {seconds:7.1f} s  {summary}")


if __name__ == "__main__":
    main()
