"""Directory search p95 over 50,000 people.

50,000 employees with Faker zh_CN names are bulk-inserted in-process (user rows plus the same search
keys create_user_txn writes). Then a fixed mix of queries (surname prefix, full name, full pinyin,
initials, given name, unit, position) is timed twice:
  * server-side: the in-process service call ``mixun.services.directory.search_users`` (this process);
  * HTTP: GET /api/v1/directory/users?q=... against ``mixun serve`` in its own process, one keep-alive
    connection, sequential requests.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench import common

KINDS = ["surname", "full_name", "pinyin", "initials", "given_name", "unit", "position"]


def _names(n: int, seed: int = 7) -> list[str]:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return [fake.name() for _ in range(n)]


def _queries(rt: Any, ids: list[int], per_kind: int, seed: int = 11) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from mixun.db.models import User

    rnd = random.Random(seed)
    sample = rnd.sample(ids, per_kind * 2)
    with rt.db.read() as s:
        users = list(s.execute(select(User.name, User.name_pinyin, User.name_initials)
                               .where(User.id.in_(sample))).all())
    out: list[tuple[str, str]] = []
    units = [u.rsplit("/", 1)[-1] for u in common.UNITS]
    for i in range(per_kind):
        name, full, initials = users[i]
        out.append(("surname", name[0]))
        out.append(("full_name", name))
        out.append(("pinyin", full.split()[0]))
        out.append(("initials", initials.split()[0]))
        out.append(("given_name", users[per_kind + i][0][1:] or name))
        out.append(("unit", units[i % len(units)]))
        out.append(("position", common.POSITIONS[i % len(common.POSITIONS)]))
    return out


def _stats(times: dict[str, list[float]]) -> dict[str, Any]:
    every = [t for v in times.values() for t in v]
    return {"all": common.summary_ms(every), **{k: common.summary_ms(v) for k, v in times.items()}}


def run_backend(backend: str, people: int, per_kind: int) -> dict[str, Any]:
    import httpx

    from mixun.services import directory

    with common.environment(backend, "directory") as env:
        rt = common.runtime(env)
        t0 = time.monotonic()
        names = _names(people)
        ids = common.bulk_users(rt, people, prefix="d", names=names)
        setup_s = time.monotonic() - t0
        common.log(f"directory[{backend}]: {people} people inserted in {setup_s:.0f} s")
        if backend == "postgres":
            with rt.db.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with rt.db.write_engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        token = common.bulk_sessions(rt, ids[:1])[0]
        ctx = common.principal_ctx(rt, ids[0])
        queries = _queries(rt, ids, per_kind)
        hits: dict[str, list[int]] = {k: [] for k in KINDS}
        for _kind, q in queries:  # warm-up pass (page cache, statement cache)
            directory.search_users(ctx, q, None, 50, 0)
        svc: dict[str, list[float]] = {k: [] for k in KINDS}
        for kind, q in queries:
            t = time.perf_counter()
            res = directory.search_users(ctx, q, None, 50, 0)
            svc[kind].append(time.perf_counter() - t)
            hits[kind].append(len(res["users"]))
        rt.db.dispose()
        with common.Server(env) as server:
            http: dict[str, list[float]] = {k: [] for k in KINDS}
            errors = 0
            with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"},
                              timeout=30) as client:
                for _kind, q in queries[:50]:
                    client.get("/api/v1/directory/users", params={"q": q})
                for kind, q in queries:
                    t = time.perf_counter()
                    r = client.get("/api/v1/directory/users", params={"q": q})
                    http[kind].append(time.perf_counter() - t)
                    errors += r.status_code != 200
            tracebacks = server.errors_in_log()
    svc_stats, http_stats = _stats(svc), _stats(http)
    return {
        "backend": backend, "people": people, "queries": len(queries), "setup_seconds": round(setup_s, 1),
        "service": svc_stats, "http": http_stats, "http_errors": errors, "server_tracebacks": tracebacks,
        "mean_hits": {k: round(sum(v) / len(v), 1) for k, v in hits.items()},
        "examples": {k: q for k, q in queries[:len(KINDS)]},
        "target_p95_ms": 20,
        "pass_service": svc_stats["all"]["p95"] < 20, "pass_http": http_stats["all"]["p95"] < 20,
    }


def run(quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    backends = ["sqlite"] if quick else ["sqlite", "postgres"]
    for backend in backends:
        try:
            per_kind = 20 if quick or backend == "postgres" else 40  # keeps the full run under 15 minutes
            res = run_backend(backend, 20_000 if quick else 50_000, per_kind)
        except Exception as exc:
            common.log(f"directory[{backend}] failed: {exc!r}")
            out[backend] = {"error": repr(exc)}
            continue
        common.log(f"directory[{backend}]: service {res['service']['all']} http {res['http']['all']}")
        out[backend] = res
    return out
