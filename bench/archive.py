"""Archive benchmarks: export rate to JSON Lines, Chinese search p95, audit-trail cost per write.

Run `python -m bench.archive` (BENCH_ARCHIVE_N sets the message count, default 200,000; BENCH_PG_URL the
PostgreSQL server). Results go between the archive markers in BENCHMARKS.md.

`python -m bench.archive --compare REV [--db sqlite,postgresql] [--rounds R]` measures archive search of an
earlier commit and of this checkout side by side in one run (bench.compare's mechanism: the commit in a
temporary git worktree, each side a fresh interpreter with its ``src`` first on PYTHONPATH). Each side gets
its own database loaded with the same messages (the earlier commit's rows as it wrote them: plain texts and
plain bigram postings), then search rounds alternate earlier / today (ABBA), each round new queries, the same for
both sides, with the machine's load average, busy share and steal recorded around every round.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
N = int(os.environ.get("BENCH_ARCHIVE_N", "200000"))
WORDS = ["利率", "授信", "贷款", "存款", "理财", "风险", "合规", "额度", "审批", "客户", "报表", "会议", "同业", "票据",
         "汇率", "债券", "基金", "保险", "结算", "清算", "头寸", "拨备", "押品", "征信", "营销", "考核"]
FILLER = "的了是在我有和就不人都一上也很到说要去你会着没看好自己这那么们来时大地为子中说生国年着就那和要她"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def log(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


def _names() -> list[str]:
    # Sorted: a set's order changes with each interpreter's hash seed, and every side and process of a
    # comparison must load, and query, the same names.
    return sorted({s + g for s in SURNAMES for g in GIVEN})[:300]


def _sealer(rt: Any) -> Any:
    """seal_many of the code under test, or None for a commit from before text sealing (its rows were
    plain text; the "before" side of --compare)."""
    try:
        from mixun.services import texts
    except ImportError:
        return None
    return lambda items: texts.seal_many(rt, items)


def _text(rng: random.Random, names: list[str]) -> str:
    parts = []
    for _ in range(rng.randint(3, 7)):
        r = rng.random()
        parts.append(rng.choice(WORDS) if r < 0.25 else rng.choice(names) if r < 0.3 else
                     "".join(rng.choice(FILLER) for _ in range(rng.randint(2, 6))))
    return "".join(parts) + rng.choice(["。", "?", "!", ""])


def _setup(url: str, data: Path) -> Any:
    from mixun.api.app import build_runtime
    from mixun.config import load_settings
    from mixun.services.setup import initialise

    settings = load_settings({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": url})
    initialise(settings, create_admins=False)
    return build_runtime(settings)


def _load(rt: Any, n: int) -> tuple[list[str], float]:
    from mixun.db.models import Conversation, Message, MessageVersion, Unit, User
    from mixun.db.models_archive import PendingVersion
    from mixun.services.archive import index_rows

    seal_many = _sealer(rt)
    rng = random.Random(42)
    names = _names()
    t0 = time.perf_counter()
    with rt.db.write() as s:
        unit_id = s.execute(insert(Unit).values(name="营业部", path="总行/营业部").returning(Unit.id)).scalar_one()
        s.execute(insert(User), [{"username": f"u{i}", "name": names[i % len(names)], "unit_id": unit_id,
                                  "password_hash": "x", "roles": ["employee"]} for i in range(200)])
        uids = list(s.execute(select(User.id)).scalars())
        s.execute(insert(Conversation), [{"kind": "group", "name": f"群{i}", "created_by": uids[0]}
                                         for i in range(500)])
        cids = list(s.execute(select(Conversation.id)).scalars())
    base = datetime.now(UTC) - timedelta(days=30)
    batch = 20_000
    mid = 0
    for start in range(0, n, batch):
        msgs, vers, texts = [], [], []
        for _ in range(min(batch, n - start)):
            mid += 1
            cid = cids[mid % len(cids)]
            sender = uids[mid % len(uids)]
            at = base + timedelta(seconds=mid)
            t = _text(rng, names)
            msgs.append({"id": mid, "conversation_id": cid, "seq": mid, "sender_id": sender, "text": t,
                         "created_at": at, "mentions": []})
            vers.append({"id": mid, "message_id": mid, "conversation_id": cid, "version": 1, "kind": "created",
                         "sender_id": sender, "actor_id": sender, "text": t, "created_at": at})
            texts.append((mid, t))
        if seal_many is not None:
            # Stored as the send path stores them: sealed under each conversation-month's data key.
            sealed = seal_many([(m["conversation_id"], m["created_at"], m["text"]) for m in msgs])
            for m, v, stored in zip(msgs, vers, sealed, strict=True):
                m["text"] = v["text"] = stored
        with rt.db.write() as s:
            s.execute(insert(Message), msgs)
            s.execute(insert(MessageVersion), vers)
            index_rows(s, texts)
            # Indexed here directly, so not left waiting for the server's indexer (the trigger queued them).
            s.execute(delete(PendingVersion).where(PendingVersion.version_id.between(vers[0]["id"], vers[-1]["id"])))
        if start % 100_000 == 0:
            log(f"  loaded {start + len(msgs)}")
    if not rt.db.is_sqlite:
        with rt.db.write_engine.begin() as c:
            c.execute(text("ANALYZE"))
    return names, time.perf_counter() - t0


def _export_rate(rt: Any, tmp: Path) -> tuple[float, float]:
    from mixun.services import export
    from mixun.services.runtime import Ctx

    ctx = Ctx(rt=rt, ip="127.0.0.1", client="bench")
    out = tmp / "exp-jsonl"
    t0 = time.perf_counter()
    with rt.db.read() as s:
        m = export.write_export(s, ctx, out, export.Filters(), ("jsonl",))
    jsonl = m["counts"]["versions"] / (time.perf_counter() - t0)
    out = tmp / "exp-all"
    t0 = time.perf_counter()
    with rt.db.read() as s:
        m = export.write_export(s, ctx, out, export.Filters(), ("jsonl", "csv", "eml"))
    full = m["counts"]["versions"] / (time.perf_counter() - t0)
    return jsonl, full


def _search_p95(rt: Any, names: list[str]) -> dict[str, float]:
    from mixun.services.archive import search_versions

    rng = random.Random(7)
    queries = [rng.choice(WORDS) for _ in range(150)] + [rng.choice(names) for _ in range(100)] + [
        rng.choice(WORDS) + rng.choice(WORDS) for _ in range(50)]
    lat = []
    hits = 0
    with rt.db.read() as s:
        for q in queries:
            t0 = time.perf_counter()
            res, _ = search_versions(s, q, [], 50, None)
            lat.append(time.perf_counter() - t0)
            hits += len(res)
    lat.sort()
    return {"p50": lat[len(lat) // 2] * 1000, "p95": lat[int(len(lat) * 0.95)] * 1000, "max": lat[-1] * 1000,
            "queries": len(queries), "avg_hits": hits / len(queries)}


def _audit_cost(rt: Any) -> tuple[float, float]:
    from mixun.db.models_archive import ExportRecord
    from mixun.services import audit
    from mixun.services.runtime import Ctx

    ctx = Ctx(rt=rt, ip="127.0.0.1", client="bench")
    n = 300
    t0 = time.perf_counter()
    for i in range(n):  # the same committed write without an audit record: isolates the trail's cost
        with rt.db.write() as s:
            s.add(ExportRecord(path=f"bench-{i}", filters={}, counts={}))
    bare = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i in range(n):
        with rt.db.write() as s:
            s.add(ExportRecord(path=f"bench-a{i}", filters={}, counts={}))
            audit.record(s, ctx, "bench.wrote", target=f"x:{i}", detail="benchmark")
    with_audit = (time.perf_counter() - t0) / n
    return bare * 1000, with_audit * 1000


def run_one(kind: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mixun-bench-archive-") as d:
        tmp = Path(d)
        if kind == "sqlite":
            url, drop = f"sqlite:///{tmp / 'mixun.db'}", None
        else:
            name = f"mixun_bench_archive_{os.getpid()}"
            subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}"', "-c",
                            f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
            url, drop = f"{PG_BASE}/{name}", name
        try:
            rt = _setup(url, tmp / "data")
            log(f"{kind}: loading {n} messages")
            names, load_s = _load(rt, n)
            with rt.db.read() as s:
                postings = s.execute(text("SELECT count(*) FROM archive_search_terms")).scalar_one()
            log(f"{kind}: loaded in {load_s:.0f}s ({postings} postings); exporting")
            jsonl, full = _export_rate(rt, tmp)
            log(f"{kind}: export {jsonl:,.0f}/s jsonl, {full:,.0f}/s jsonl+csv+eml; searching")
            search = _search_p95(rt, names)
            log(f"{kind}: search {search}")
            bare, audited = _audit_cost(rt)
            rt.db.dispose()
            return {"kind": kind, "n": n, "load_s": load_s, "postings": postings, "jsonl": jsonl, "full": full,
                    "search": search, "bare_ms": bare, "audit_ms": audited}
        finally:
            if drop:
                subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'],
                               check=False, capture_output=True)


def render(results: list[dict[str, Any]]) -> str:
    import platform

    lines = ["<!-- archive:start -->", "## Compliance archive (`python -m bench.archive`)", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}; {datetime.now(UTC).date()}. Synthetic Chinese messages (3–7 phrases of "
             "banking words, names and filler), 200 senders, 500 group conversations; service-level timings "
             "(no HTTP).", "",
             "| database | messages | postings | export JSONL (versions/s) | export JSONL+CSV+EML | search p50 | "
             "search p95 | search max | one committed write → same write + audit record |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r["search"]
        lines.append(f"| {r['kind']} | {r['n']:,} | {r['postings']:,} | {r['jsonl']:,.0f} | {r['full']:,.0f} | "
                     f"{s['p50']:.1f} ms | {s['p95']:.1f} ms | {s['max']:.1f} ms | "
                     f"{r['bare_ms']:.2f} ms → {r['audit_ms']:.2f} ms (+{r['audit_ms'] - r['bare_ms']:.2f} ms) |")
    lines += ["", f"Command: `BENCH_ARCHIVE_N={N} .venv/bin/python -m bench.archive` (loads, measures and rewrites this "
              "section; the machine was otherwise idle).", "",
              "Targets: export ≥ 50,000 versions/s to JSON Lines; search p95 < 100 ms over 1,000,000 messages.", "",
              "Texts are stored sealed (per conversation-month data keys, docs/keys.md) and the postings are "
              "keyed hashes of the terms, as the send path and the indexer write them. "
              "Search is a posting table of character bigrams (and each run's last character) with primary key "
              "(term, version_id): a query is an ordered index range scan per bigram, newest first, stopped at "
              "the page size, so its cost grows with log(n) and with how many candidates must be confirmed, not "
              "with the table size. Audit cost includes the chain lookup, SHA-256, the insert and moving the "
              "signed head file after commit.", "<!-- archive:end -->"]
    return "\n".join(lines) + "\n"


def write_results(block: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if "<!-- archive:start -->" in old:
        new = re.sub(r"<!-- archive:start -->.*?<!-- archive:end -->\n?", lambda _m: block, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)


# --- before / today, side by side (--compare) -------------------------------------------------------

KINDS = ("word", "name", "two words", "one character")


def _queries(rng: random.Random, names: list[str]) -> dict[str, list[str]]:
    """Per kind: a banking word (one bigram, frequent), a person's name (one bigram, rarer), two words
    run together (three bigrams joined), one character (the prefix range over the postings)."""
    return {"word": [rng.choice(WORDS) for _ in range(60)],
            "name": [rng.choice(names) for _ in range(60)],
            "two words": [rng.choice(WORDS) + rng.choice(WORDS) for _ in range(60)],
            "one character": [rng.choice(SURNAMES + "".join(WORDS)) for _ in range(30)]}


def _open(url: str, data: str) -> Any:
    from mixun.api.app import build_runtime
    from mixun.config import load_settings

    return build_runtime(load_settings({"MIXUN_DATA_DIR": data, "MIXUN_DATABASE_URL": url}))


def side_load(url: str, data: str, n: int) -> dict[str, Any]:
    """Child process: initialise and load one side's database; what was loaded."""
    rt = _setup(url, Path(data))
    _names_, load_s = _load(rt, n)
    with rt.db.read() as s:
        postings = s.execute(text("SELECT count(*) FROM archive_search_terms")).scalar_one()
        sealed = s.execute(text("SELECT count(*) FROM message_versions WHERE text LIKE :p"),
                           {"p": "\x1f%"}).scalar_one()
    rt.db.dispose()
    return {"load_s": load_s, "postings": postings, "sealed_texts": sealed, "sealing": _sealer(rt) is not None}


def side_search(url: str, data: str, seed: int) -> dict[str, Any]:
    """Child process: one round of searches through services.archive.search_versions (the code the
    archive API calls), after a warm-up; latencies in ms and hits per kind."""
    from mixun.services.archive import search_versions

    rt = _open(url, data)
    names = _names()
    with rt.db.read() as s:
        for q in (WORDS[:5] + names[:5]):  # warm-up: connection, statement caches, the key ring
            search_versions(s, q, [], 50, None)
        lat: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        hits: dict[str, int] = {}
        for kind, qs in _queries(random.Random(seed), names).items():
            for q in qs:
                t0, c0 = time.perf_counter(), time.thread_time()
                res, _ = search_versions(s, q, [], 50, None)
                # This thread's CPU time: all of a search on SQLite (in process), the Python side (ORM,
                # opening texts, confirming) on PostgreSQL; unlike wall time, little moved by other load.
                cpu.setdefault(kind, []).append((time.thread_time() - c0) * 1000)
                lat.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
                hits[kind] = hits.get(kind, 0) + len(res)
    rt.db.dispose()
    return {"lat": lat, "cpu": cpu, "hits": hits}


def _cpu() -> tuple[int, int, int]:
    """(busy, stolen, all) CPU ticks of the whole machine since boot."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(f) - f[3] - f[4], f[7], sum(f)


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def _new_db(kind: str, tmp: Path, label: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'{label}.db'}", None
    name = f"mixun_bench_archive_{label}_{os.getpid()}"
    subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}"', "-c",
                    f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    return f"{PG_BASE}/{name}", name


def compare(rev: str, kinds: list[str], n: int, rounds: int) -> dict[str, Any]:
    from bench.compare import previous_tree, run_code

    before_sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    today_sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    out: dict[str, Any] = {"before": before_sha, "today": today_sha, "n": n, "rounds": rounds, "dbs": {}}
    with previous_tree(rev) as tree, tempfile.TemporaryDirectory(prefix="mixun-bench-archive-") as d:
        tmp = Path(d)
        sides = {"before": str(tree / "src"), "today": str(ROOT / "src")}
        for kind in kinds:
            dbs: dict[str, tuple[str, str | None]] = {}
            res: dict[str, Any] = {"load": {}, "rounds": []}
            try:
                for label, path in sides.items():
                    url, drop = dbs[label] = _new_db(kind, tmp, label)
                    data = str(tmp / f"data-{kind}-{label}")
                    t0, c0 = time.time(), _cpu()
                    r = run_code(f"from bench import archive; r = archive.side_load({url!r}, {data!r}, {n})", path)
                    c1 = _cpu()
                    r.update(loadavg=list(os.getloadavg()), wall_s=time.time() - t0,
                             busy_pct=100 * (c1[0] - c0[0]) / max(1, c1[2] - c0[2]),
                             steal_pct=100 * (c1[1] - c0[1]) / max(1, c1[2] - c0[2]))
                    res["load"][label] = r
                    log(f"{kind} {label}: loaded {json.dumps(r)[:400]}")
                    if "error" in r:
                        raise RuntimeError(r["error"])
                for rnd in range(rounds):
                    # ABBA: before first in even rounds, today first in odd ones, so a drift of the
                    # machine's load does not always fall on the same side.
                    for label, path in sorted(sides.items(), reverse=rnd % 2 == 1):
                        url = dbs[label][0]
                        data = str(tmp / f"data-{kind}-{label}")
                        la0, c0, t0 = os.getloadavg()[0], _cpu(), time.time()
                        r = run_code(f"from bench import archive; r = archive.side_search({url!r}, {data!r}, "
                                     f"{100 + rnd})", path)
                        c1 = _cpu()
                        r.update(side=label, round=rnd, wall_s=time.time() - t0, loadavg_before=la0,
                                 loadavg_after=os.getloadavg()[0],
                                 busy_pct=100 * (c1[0] - c0[0]) / max(1, c1[2] - c0[2]),
                                 steal_pct=100 * (c1[1] - c0[1]) / max(1, c1[2] - c0[2]))
                        res["rounds"].append(r)
                        if "error" in r:
                            raise RuntimeError(r["error"])
                        all_ms = [x for v in r["lat"].values() for x in v]
                        log(f"{kind} round {rnd} {label}: p50 {_pct(all_ms, 50):.1f} p95 {_pct(all_ms, 95):.1f} ms, "
                            f"load {la0:.2f}->{r['loadavg_after']:.2f}, busy {r['busy_pct']:.0f}%, "
                            f"steal {r['steal_pct']:.1f}%")
            finally:
                for _url, drop in dbs.values():
                    if drop:
                        subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc",
                                        f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'], check=False,
                                       capture_output=True)
            out["dbs"][kind] = res
    return out


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Per database and query kind (and all kinds): p50/p95/p99 of each side over every round, and
    today / before."""
    summary: dict[str, Any] = {}
    for db, res in result["dbs"].items():
        rows: dict[str, Any] = {}
        for kind in (*KINDS, "all"):
            row: dict[str, Any] = {}
            for side in ("before", "today"):
                ms = [x for r in res["rounds"] if r["side"] == side for k, v in r["lat"].items()
                      if kind in ("all", k) for x in v]
                hits = [r["hits"].get(k, 0) for r in res["rounds"] if r["side"] == side for k in r["hits"]
                        if kind in ("all", k)]
                cpu = [x for r in res["rounds"] if r["side"] == side for k, v in r.get("cpu", {}).items()
                       if kind in ("all", k) for x in v]
                if ms:
                    row[side] = {"n": len(ms), **{f"p{p}": _pct(ms, p) for p in (50, 95, 99)},
                                 "hits": sum(hits), "cpu_mean": sum(cpu) / len(cpu) if cpu else None}
            if "before" in row and "today" in row:
                row["ratio"] = {p: row["today"][p] / row["before"][p] for p in ("p50", "p95", "p99")}
                if row["before"]["cpu_mean"] and row["today"]["cpu_mean"]:
                    row["ratio"]["cpu_mean"] = row["today"]["cpu_mean"] / row["before"]["cpu_mean"]
            rows[kind] = row
        summary[db] = rows
    return summary


def render_compare(result: dict[str, Any]) -> str:
    summary = summarise(result)
    lines = [f"Before `{result['before']}`, today `{result['today']}`, {result['n']:,} messages, "
             f"{result['rounds']} interleaved rounds (ABBA) of {sum(len(v) for v in _queries(random.Random(0), _names()).values())} "
             "searches (limit 50) per side.", "",
             "| database | query kind | before p50 / p95 / p99 | today p50 / p95 / p99 | today ÷ before (p50 / p95 / p99) "
             "| search CPU, mean (before → today) |",
             "|---|---|---|---|---|---|"]
    for db, rows in summary.items():
        for kind, row in rows.items():
            if "ratio" not in row:
                continue
            b, t, r = row["before"], row["today"], row["ratio"]
            lines.append(f"| {db} | {kind} | {b['p50']:.1f} / {b['p95']:.1f} / {b['p99']:.1f} ms | "
                         f"{t['p50']:.1f} / {t['p95']:.1f} / {t['p99']:.1f} ms | "
                         f"{r['p50']:.2f} / {r['p95']:.2f} / {r['p99']:.2f} | " + (
                             f"{b['cpu_mean']:.1f} → {t['cpu_mean']:.1f} ms (×{r['cpu_mean']:.2f}) |"
                             if "cpu_mean" in r else "– |"))
    lines.append("")
    for db, res in result["dbs"].items():
        for side, ld in res["load"].items():
            lines.append(f"- {db} {side}: loaded in {ld.get('load_s', 0):.0f} s, {ld.get('postings', 0):,} postings, "
                         f"{ld.get('sealed_texts', 0):,} sealed texts; machine busy {ld['busy_pct']:.0f} %, "
                         f"steal {ld['steal_pct']:.1f} %, load average after {ld['loadavg'][0]:.2f}")
        for side in ("before", "today"):
            rs = [r for r in res["rounds"] if r["side"] == side]
            if rs:
                lines.append(f"- {db} {side} search rounds: load average {min(r['loadavg_before'] for r in rs):.2f}–"
                             f"{max(r['loadavg_after'] for r in rs):.2f}, machine busy "
                             f"{min(r['busy_pct'] for r in rs):.0f}–{max(r['busy_pct'] for r in rs):.0f} %, steal "
                             f"{max(r['steal_pct'] for r in rs):.1f} % at most")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.archive")
    ap.add_argument("--compare", metavar="REV", help="search of REV and of this checkout, side by side")
    ap.add_argument("--db", default=os.environ.get("BENCH_ARCHIVE_DB", "sqlite,postgresql"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--json", help="with --compare: also write the raw result here")
    args = ap.parse_args()
    kinds = args.db.split(",")
    if args.compare:
        result = compare(args.compare, kinds, N, args.rounds)
        result["summary"] = summarise(result)
        if args.json:
            Path(args.json).write_text(json.dumps(result, ensure_ascii=False))
        print(render_compare(result))
        return
    results = [run_one(k, N) for k in kinds]
    block = render(results)
    print(block)
    write_results(block)


if __name__ == "__main__":
    main()
