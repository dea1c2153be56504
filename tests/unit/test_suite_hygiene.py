"""The suite's own rules that a test run in isolation cannot show."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_calls_asyncio_run_in_the_main_thread() -> None:
    """The browser tests' session-wide Playwright keeps an event loop running in the main thread, so a test
    that calls ``asyncio.run`` there passes alone and fails after any browser test in the whole suite (it
    happened twice). Such tests use ``tests.helpers.run_async``, which runs the loop in a thread."""
    offenders = [f"{p.relative_to(TESTS)}:{n}" for p in sorted(TESTS.rglob("*.py")) if p.name != "helpers.py"
                 and p != Path(__file__).resolve()
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\basyncio\.run\(", line)]
    assert offenders == [], f"use tests.helpers.run_async instead of asyncio.run: {offenders}"
