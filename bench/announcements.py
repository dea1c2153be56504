"""Announcement fan-out: one bank-wide announcement to 50,000 people (issue 21 item 7).

50,000 employees are bulk-inserted (bench.common.bulk_users); an HR person publishes one announcement to
the whole bank through the service (DLP scan, one receipt row and one event per recipient, audit), then
the times of a recipient's 公告 list, the publisher's counts, the first page of who has not read, and a
reminder to everyone who has not read are taken. Usage: python -m bench.announcements [sqlite|postgres] [N]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench import common


def run(backend: str, people: int) -> dict[str, Any]:
    from mixun.services import announcements, users
    from mixun.services.runtime import Ctx

    with common.environment(backend, "announce") as env:
        rt = common.runtime(env)
        ids = common.bulk_users(rt, people)
        hr = users.create_user(Ctx(rt=rt, ip="127.0.0.1", client="bench"), username="hrbench", name="人事",
                               unit="总行/人力资源部", password=common.PASSWORD, roles=["hr"])
        hr_ctx = common.principal_ctx(rt, hr.id)
        out: dict[str, Any] = {"backend": backend, "people": people}
        t = time.perf_counter()
        a = announcements.publish(hr_ctx, title="系统升级通知", body="本周六 22:00 至 24:00 系统升级，请提前保存工作。",
                                  unit_ids=[], must_confirm=True, pinned=False, expires_at=None)
        out["publish_s"] = round(time.perf_counter() - t, 2)
        reader = common.principal_ctx(rt, ids[len(ids) // 2])
        t = time.perf_counter()
        announcements.list_mine(reader, 50, 0)
        out["recipient_list_ms"] = round((time.perf_counter() - t) * 1000, 1)
        announcements.mark_read(reader, a["id"], True)
        t = time.perf_counter()
        pub = announcements.list_published(hr_ctx, 50, 0)["announcements"][0]
        out["publisher_counts_ms"] = round((time.perf_counter() - t) * 1000, 1)
        out["recipients"], out["read"] = pub["recipients"], pub["read"]
        t = time.perf_counter()
        announcements.receipts(hr_ctx, a["id"], "unread", 50, 0)
        out["unread_page_ms"] = round((time.perf_counter() - t) * 1000, 1)
        t = time.perf_counter()
        out["reminded"] = announcements.remind(hr_ctx, a["id"])["reminded"]
        out["remind_s"] = round(time.perf_counter() - t, 2)
        rt.db.dispose()
        return out


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    common.log(run(backend, n))
