"""What a stored message costs PostgreSQL, for sizing (docs/capacity.md):
`python -m bench.peers.footprint [--messages 20000] [--group 50]`.

A fresh database, people in groups of ``--group`` (and as many direct conversations), messages of
typical chat length sent through the send path in batches (``sendpath.batch.write_batch``, the writer's group
commit) and indexed for the archive's search, then each table's size (heap, indexes and TOAST) divided
by the messages stored: the bytes a message costs, and apart the delivery rows (``user_events``, one per
recipient), which grow with the conversation's size.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from bench import common

WORDS = ("报表", "客户", "审批", "收到", "明天上午", "会议室", "已处理", "请查看附件", "风险提示", "额度调整",
         "下班前", "好的", "谢谢", "合同", "复核")


def run(messages: int, group: int, people: int = 1000) -> dict[str, Any]:
    import psycopg

    from mixun.sendpath.batch import write_batch
    from mixun.sendpath.request import SendRequest
    from mixun.services import archive
    from mixun.services.conversations import create_conversation

    rnd = random.Random(7)
    with common.environment("postgres", "footprint") as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, people, prefix="f")
        groups = common.make_groups(rt, ids, group)
        direct = []
        for i in range(0, len(ids) - 1, 2):
            view = create_conversation(common.principal_ctx(rt, ids[i]), "direct", [ids[i + 1]], None)
            direct.append((int(view["id"]), [ids[i], ids[i + 1]]))
        ctxs: dict[int, Any] = {}
        with psycopg.connect(env.database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            def sizes() -> dict[str, int]:
                rows = conn.execute(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'").fetchall()
                conn.commit()
                return {name: int(b) for name, b in rows}

            before = sizes()
            t0 = time.monotonic()
            sent = 0
            events0 = conn.execute("SELECT count(*) FROM user_events").fetchone()[0]  # type: ignore[index]
            conn.commit()
            while sent < messages:
                jobs = []
                for _ in range(min(64, messages - sent)):
                    conv, members = rnd.choice(groups) if rnd.random() < 0.5 else rnd.choice(direct)
                    uid = rnd.choice(members)
                    ctx = ctxs.get(uid) or ctxs.setdefault(uid, common.principal_ctx(rt, uid))
                    text = "".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 12)))
                    jobs.append(SendRequest(ctx, conv, text, client_id=f"fp{sent}"))
                    sent += 1
                write_batch(jobs)
            with rt.db.write() as s:
                while archive.index_pending(s) > 0:
                    pass
            elapsed = time.monotonic() - t0
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            after = sizes()
            events = conn.execute("SELECT count(*) FROM user_events").fetchone()[0] - events0  # type: ignore[index]
        rt.db.dispose()
    grew = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}
    total = sum(grew.values())
    ev = grew.get("user_events", 0)
    return {
        "messages": messages, "group_size": group, "share_in_groups": 0.5, "send_seconds": round(elapsed, 1),
        "delivery_rows": events, "delivery_rows_per_message": round(events / messages, 1),
        "bytes_per_message_all_tables": round(total / messages),
        "bytes_per_message_without_delivery_rows": round((total - ev) / messages),
        "bytes_per_delivery_row": round(ev / events) if events else None,
        "grew_mb_by_table": {k: round(v / 2**20, 2) for k, v in sorted(grew.items(), key=lambda x: -x[1])},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.footprint")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--group", type=int, default=50)
    args = parser.parse_args(argv)
    out = {"machine": common.machine(), **run(args.messages, args.group)}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
