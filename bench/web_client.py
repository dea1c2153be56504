"""The staff web client in Chromium: time from login to a usable chat list, and from a click to an open chat.

Two banks, each served by ``mixun serve`` (SQLite) in its own process and driven by Debian's Chromium
through Playwright:
  * the demo bank (``mixun demo``: 60 people, a few groups);
  * a bank of 50,000 people (bulk-inserted as bench/directory.py does) where the viewer has 40
    conversations, one of them with 5,000 messages.
Per run, a fresh browser context: login (password typed, button clicked) until the first conversation row
is visible; then a click on the long conversation until its newest message is on screen (cold: first
open), then another conversation and back (warm). Desktop 1440×900 and phone 390×844.

    python -m bench.web_client [--quick] [--runs N] [--no-write]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

from bench import common

CHROMIUM = "/usr/bin/chromium"
SIZES = {"desktop 1440×900": {"width": 1440, "height": 900}, "phone 390×844": {"width": 390, "height": 844}}


def _seed_bank(rt: Any, people: int, messages: int) -> tuple[str, str, str]:
    """(username, title of the long conversation, its newest text)."""
    from mixun.sendpath.batch import send
    from mixun.sendpath.request import SendRequest
    from mixun.services import conversations

    names = [f"测试{i}" for i in range(people)]
    names[1] = "对账专员"
    ids = common.bulk_users(rt, people, prefix="w", names=names)
    viewer, peer = ids[0], ids[1]
    vctx, pctx = common.principal_ctx(rt, viewer), common.principal_ctx(rt, peer)
    limiter, rt.rate_limiter = rt.rate_limiter, None
    try:
        for other in ids[2:40]:
            c = conversations.create_conversation(common.principal_ctx(rt, other), "direct", [viewer], None)
            send(SendRequest(common.principal_ctx(rt, other), c["id"], "请查收本周的对账单。")).unwrap()
        long = conversations.create_conversation(pctx, "direct", [viewer], None)
        text = ""
        for i in range(messages):
            text = f"第{i + 1}条 例行对账记录，柜员号 {i % 97:04d}，差额 0 元。"
            send(SendRequest(pctx if i % 2 else vctx, long["id"], text)).unwrap()
    finally:
        rt.rate_limiter = limiter
    return "w000000", "对账专员", text


def _seed_demo(rt: Any) -> tuple[str, str, str]:
    from mixun.services.demo import load_demo
    from mixun.services.runtime import Ctx

    load_demo(Ctx(rt=rt, ip="127.0.0.1", client="mixun-bench"))
    return "zhangsan", "李四", "确认"


def _measure(base: str, username: str, password: str, title: str, newest: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for label, size in SIZES.items():
                login_ms, cold_ms, warm_ms = [], [], []
                for _ in range(runs):
                    ctx = browser.new_context(locale="zh-CN", viewport=size)
                    page = ctx.new_page()
                    page.set_default_timeout(120_000)
                    page.goto(base + "/")
                    page.get_by_test_id("login-username").fill(username)
                    page.get_by_test_id("login-password").fill(password)
                    t0 = time.perf_counter()
                    page.get_by_test_id("login-submit").click()
                    page.get_by_test_id("conversation-item").first.wait_for(state="visible")
                    login_ms.append((time.perf_counter() - t0) * 1000)
                    titled = page.get_by_test_id("conversation-title").get_by_text(title, exact=True)
                    item = page.get_by_test_id("conversation-item").filter(has=titled).first
                    last = page.get_by_test_id("message").filter(has_text=newest).last
                    t0 = time.perf_counter()
                    item.click()
                    last.wait_for(state="visible")
                    cold_ms.append((time.perf_counter() - t0) * 1000)
                    # Another conversation, then back: the thread is in memory now.
                    if label.startswith("phone"):
                        page.get_by_test_id("back").click()
                    page.get_by_test_id("conversation-item").filter(has_not=titled).first.click()
                    page.get_by_test_id("message").first.wait_for(state="visible")
                    if label.startswith("phone"):
                        page.get_by_test_id("back").click()
                    t0 = time.perf_counter()
                    item.click()
                    last.wait_for(state="visible")
                    warm_ms.append((time.perf_counter() - t0) * 1000)
                    ctx.close()
                out[label] = {k: round(statistics.median(v)) for k, v in
                              (("login_ms", login_ms), ("open_cold_ms", cold_ms), ("open_warm_ms", warm_ms))}
                out[label]["max_open_cold_ms"] = round(max(cold_ms))
        finally:
            browser.close()
    return out


def run(kind: str, runs: int, quick: bool) -> dict[str, Any]:
    people, messages = (5_000, 1_000) if quick else (50_000, 5_000)
    with common.environment("sqlite", f"web{kind}") as env:
        rt = common.runtime(env)
        t0 = time.monotonic()
        if kind == "demo":
            username, title, newest = _seed_demo(rt)
            password = "Mixun@2026"  # noqa: S105 - the documented demo password
        else:
            username, title, newest = _seed_bank(rt, people, messages)
            password = common.PASSWORD
        setup_s = time.monotonic() - t0
        common.log(f"web[{kind}]: seeded in {setup_s:.0f} s")
        rt.db.dispose()
        with common.Server(env) as server:
            res = _measure(server.base, username, password, title, newest, runs)
            tracebacks = server.errors_in_log()
    return {"kind": kind, "people": 60 if kind == "demo" else people, "messages": messages if kind != "demo" else None,
            "runs": runs, "setup_s": round(setup_s), "sizes": res, "server_tracebacks": tracebacks}


def render(results: list[dict[str, Any]], load: list[float]) -> str:
    lines = ["<!-- web:start -->", "## Web client (`python -m bench.web_client`)", "",
             "Chromium (Debian, via Playwright) against `mixun serve` on SQLite, medians of "
             f"{results[0]['runs']} fresh browser contexts per row. *Login* is from the click on 登录 to the "
             "first conversation row on screen; *open* from the click on a conversation to its newest message "
             "on screen (cold: first open, loading it; warm: opened again after another one). "
             f"Load average when it ran: {', '.join(f'{x:.1f}' for x in load)} (2 cores shared with other work: "
             "treat the figures as upper bounds). Login includes the server's argon2 password check, "
             "the session, the conversation list and the WebSocket hello.", "",
             "| bank | screen | login → list (ms) | click → open, cold (ms) | worst cold (ms) | click → open, warm (ms) |",
             "|---|---|---:|---:|---:|---:|"]
    for r in results:
        bank = "demo (60 people)" if r["kind"] == "demo" else \
            f"{r['people']:,} people, {r['messages']:,} messages in the conversation"
        for label, v in r["sizes"].items():
            lines.append(f"| {bank} | {label} | {v['login_ms']} | {v['open_cold_ms']} | {v['max_open_cold_ms']} | "
                         f"{v['open_warm_ms']} |")
    lines += ["", "The long conversation opens with its newest page only (at most 200 messages; older ones load "
              "as one scrolls up) and keeps at most 150 messages in the page, so a 5,000-message conversation "
              "opens about as fast as a short one.", "<!-- web:end -->", ""]
    return "\n".join(lines)


def write_results(block: str) -> None:
    path = common.ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if "<!-- web:start -->" in old:
        new = re.sub(r"<!-- web:start -->.*?<!-- web:end -->\n?", lambda _m: block, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5,000 people and 1,000 messages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    load = common.load_average()
    results = [run("demo", a.runs, a.quick), run("bank", a.runs, a.quick)]
    block = render(results, load)
    print(block)
    if not a.no_write:
        write_results(block)


if __name__ == "__main__":
    main()
