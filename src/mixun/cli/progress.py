"""A progress bar for long CLI work, on stderr when it is a terminal (logs and pipes get one final line)."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

T = TypeVar("T")


class Bar:
    """``bar(done, total)`` redraws at most ten times a second; ``bar.close()`` ends the line."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._state = (0, 0)
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        self._state = (done, total)
        now = time.monotonic()
        if self.tty and (now - self._last >= 0.1 or done >= total):
            self._last = now
            frac = done / total if total else 1.0
            filled = int(frac * self.width)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                              f"{frac * 100:5.1f}% {done}/{total}")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        done, total = self._state
        if self._drawn:
            self.stream.write("\n")
        elif total:
            self.stream.write(f"{self.label}: {done}/{total}\n")
        self.stream.flush()


def interruptible(label: str, work: Callable[[Bar | None, Callable[[], bool]], T], *, quiet: bool = False) -> T:
    """Run ``work(bar, should_stop)`` with a progress bar (None when ``quiet``) and Ctrl-C asking it to stop
    after its current batch (a second Ctrl-C interrupts at once): long work that must never be left
    half-done checks ``should_stop`` between batches, each of which commits whole."""
    stop = {"asked": False}

    def ask_stop(_sig: int, _frame: Any) -> None:
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nmixun: 正在停止：完成当前一批后退出 (stopping after the current batch)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, ask_stop)
    bar = None if quiet else Bar(label, stream=sys.stderr)
    try:
        return work(bar, lambda: stop["asked"])
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar:
            bar.close()
