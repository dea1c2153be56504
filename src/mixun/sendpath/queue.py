"""Group commit: a request hands its send to the queue and waits; the queue's thread takes everything
that queued up while its writer wrote the previous batch (up to ``max_batch``) and hands it to its
``Writer`` as one batch. Under light load a batch is a single send, as quick as one on its own; under
heavy load the cost of each statement, round trip and commit (an fsync on SQLite) is shared by the
batch, which is where almost all of a send's time went. A request gets its 201 only after its batch
committed.

At low rates sends do not queue up (the writer is idle when each arrives), so every send was a
transaction of its own: 3 ms of the writer's CPU each on SQLite, several times its share in a batch.
A queue with a ``linger`` therefore holds a batch open, for at most that long, while sends arrive often
enough for another to be expected within it (the mean gap between arrivals is shorter than the linger
and the next one is due before the linger ends); the batch closes as soon as the next send is not
expected in time, it holds ``LINGER_ENOUGH`` sends, or an urgent send is in it. A linger that gathered
nothing (a sender that waits for each answer before its next send) turns lingering off for the next
``LINGER_BACKOFF`` batches. No send waits longer than the linger for its batch to start.

Two writers implement ``Writer``: ``ThreadWriter`` (the batch written in the queue's thread, with
``batch.write_batch``) and ``transport.ProcessWriter`` (the batch checked here and written by a writer
process of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from mixun import metrics
from mixun.sendpath.batch import RETRY_PAUSE, write_batch
from mixun.sendpath.request import SendOutcome, SendRequest

log = logging.getLogger("mixun.sendqueue")
_STOP = object()
# A batch this large shares its fixed cost well enough: a linger ends there.
LINGER_ENOUGH = 16
# Batches that start at once after a linger that gathered nothing.
LINGER_BACKOFF = 8
# Weight of the newest gap between two arrivals in their running mean.
_GAP_WEIGHT = 0.2

# Where a send's outcome goes: the event loop of the request that waits (the token is its future), or a
# function taking [(token, outcome), ...] (the writer process answering its parent).
Target = asyncio.AbstractEventLoop | Callable[[list[tuple[Any, SendOutcome]]], None]


class Entry(NamedTuple):
    """One queued send: the request, where its outcome goes, the token that names it there."""

    request: SendRequest
    target: Target
    token: Any


class Writer(Protocol):
    """What writes the queue's batches: in this thread (``ThreadWriter``) or in the writer process
    (``transport.ProcessWriter``)."""

    def write(self, batch: list[Entry], final: bool) -> list[Entry]:
        """Write ``batch`` and answer every entry that settled; returns the entries deferred to a later
        batch (their requests as the writer checked them), none when ``final``: those are then tried
        again until written or past their deadline."""
        ...

    def close(self, timeout: float = 30.0) -> None:
        """After the queue's last batch: release what the writer holds (the writer process)."""
        ...


class ThreadWriter:
    """Writes each batch in the calling thread of this process (``batch.write_batch``)."""

    def write(self, batch: list[Entry], final: bool = True) -> list[Entry]:
        requests = [entry.request for entry in batch]
        if requests:
            metrics.WRITER_BATCHES.inc()
            metrics.WRITER_BATCH_SIZE.observe(len(requests))
        try:
            outcomes = write_batch(requests, settle=final)
        except Exception as exc:  # write_batch gives every send its own outcome; this is a last resort
            log.exception("a batch of sends failed")
            outcomes = [SendOutcome.failed(exc)] * len(requests)
        deferred: list[Entry] = []
        settled: list[tuple[Entry, SendOutcome]] = []
        for entry, outcome in zip(batch, outcomes, strict=True):
            if outcome.retry is not None:
                deferred.append(entry._replace(request=outcome.retry))
            else:
                settled.append((entry, outcome))
        answer(settled)
        return deferred

    def close(self, timeout: float = 30.0) -> None:
        return None


class SendQueue:
    """The queue and its writer thread(s). ``urgent``: a queue that takes the urgent sends instead (with
    a writer process, urgent sends are written in this process, which knows who is online)."""

    def __init__(self, writer: Writer | None = None, *, urgent: SendQueue | None = None, writers: int = 1,
                 max_batch: int = 64, linger: float = 0.0) -> None:
        self.writer: Writer = writer or ThreadWriter()
        self.urgent = urgent
        self.writers = max(1, writers)
        self.max_batch = max(1, max_batch)
        self.linger = max(0.0, linger)  # seconds a batch may be held open for more sends (module text)
        self._gap = float("inf")  # running mean of the time between two arrivals
        self._last_put = 0.0
        self._backoff = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def send(self, request: SendRequest) -> SendOutcome:
        """Send ``request`` in the next batch; its outcome once settled (after its commit)."""
        if request.urgent and self.urgent is not None:
            return await self.urgent.send(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SendOutcome] = loop.create_future()
        self.put(Entry(request, loop, future))
        # A client that goes away does not cancel its send: the batch may already be writing it. A
        # resend with the same client_id then gets the committed message back.
        return await asyncio.shield(future)

    def put(self, entry: Entry) -> None:
        with self._lock:  # never queued behind the writers' stop
            if self._closed:
                raise RuntimeError("send queue closed")
            self._start()
            self._arrived()
            self._queue.put(entry)
            metrics.SEND_QUEUE.inc()

    def put_many(self, entries: list[Entry]) -> None:
        """Queue ``entries`` (a batch gathered elsewhere: the writer process's frame) as one item, so the
        writer takes them in one batch rather than the first one alone."""
        if not entries:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("send queue closed")
            self._start()
            self._arrived()
            self._queue.put(list(entries))
            metrics.SEND_QUEUE.inc(len(entries))

    def _arrived(self) -> None:
        """Count an arrival in the running mean gap (the lock held)."""
        now = time.monotonic()
        if self._last_put:
            gap = now - self._last_put
            self._gap = gap if self._gap == float("inf") else self._gap + _GAP_WEIGHT * (gap - self._gap)
        self._last_put = now

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking sends; what is queued is written first (then the urgent queue's, then the writer
        is closed)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            for _ in threads:
                self._queue.put(_STOP)
        for t in threads:
            t.join(timeout)
        left: list[Entry] = []  # only if no writer was alive to take them
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, list):
                left.extend(item)
            elif item is not _STOP:
                left.append(item)
        if left:
            self.writer.write(left, True)
        if self.urgent is not None:
            self.urgent.close(timeout)
        self.writer.close(timeout)

    def _start(self) -> None:
        """Start the writers (with the lock held); a writer that died is replaced."""
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self.writers:
            t = threading.Thread(target=self._run, name=f"mixun-send-{len(self._threads)}", daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # never silently: the next send starts a new writer
            log.exception("a send writer stopped")
            raise

    def _loop(self) -> None:
        # Sends whose conversation another transaction held (deferred) go first in the next batch, so a
        # sender's messages keep their order; while only they wait, the writer pauses between tries.
        retry: list[Entry] = []
        stalled = False
        while True:
            try:
                if not retry:
                    first = self._queue.get()
                elif stalled:
                    first = self._queue.get(timeout=RETRY_PAUSE)
                else:
                    first = self._queue.get_nowait()
            except queue.Empty:
                first = None
            batch, retry = retry, []
            stop = first is _STOP
            fresh = 0
            if first is not None and not stop:
                fresh = _add(batch, first)
                while fresh < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    fresh += _add(batch, item)
                if not stop and self._lingers(batch, fresh):
                    gathered, stop = self._gather(batch)
                    fresh += gathered
            if fresh:
                metrics.SEND_QUEUE.dec(fresh)
            retry = self.writer.write(batch, stop)
            stalled = len(retry) == len(batch)
            if stop:
                return

    def _lingers(self, batch: list[Entry], fresh: int) -> bool:
        """Whether to hold this batch open for more sends (the module's text)."""
        if not self.linger or fresh >= min(self.max_batch, LINGER_ENOUGH) or self._gap >= self.linger:
            return False
        if self._backoff:
            self._backoff -= 1
            return False
        return not any(entry.request.urgent for entry in batch)

    def _gather(self, batch: list[Entry]) -> tuple[int, bool]:
        """Add to ``batch`` what arrives within the linger while the next send is due in time; how many
        were added, and whether the queue is stopping."""
        deadline = time.monotonic() + self.linger
        enough = min(self.max_batch, LINGER_ENOUGH)
        gathered = 0
        stop = False
        while len(batch) < enough:
            now = time.monotonic()
            if now >= deadline or self._last_put + self._gap > deadline:
                break
            try:
                item = self._queue.get(timeout=deadline - now)
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            gathered += _add(batch, item)
            if batch[-1].request.urgent:
                break
        self._backoff = 0 if gathered else LINGER_BACKOFF
        return gathered, stop


def _add(batch: list[Entry], item: Entry | list[Entry]) -> int:
    """Add a queued item (one entry, or the entries of one ``put_many``) to ``batch``; how many."""
    if isinstance(item, list):
        batch.extend(item)
        return len(item)
    batch.append(item)
    return 1


def answer(settled: list[tuple[Entry, SendOutcome]]) -> None:
    """Hand outcomes to where they go: one wake-up per event loop for the whole batch (each
    call_soon_threadsafe writes to the loop's self-pipe: a system call per request otherwise)."""
    by_target: dict[Any, list[tuple[Any, SendOutcome]]] = {}
    for entry, outcome in settled:
        by_target.setdefault(entry.target, []).append((entry.token, outcome))
    for target, outcomes in by_target.items():
        if isinstance(target, asyncio.AbstractEventLoop):
            with contextlib.suppress(RuntimeError):  # that event loop has closed (shutdown)
                target.call_soon_threadsafe(_settle_all, outcomes)
        else:
            target(outcomes)


def _settle_all(outcomes: list[tuple[asyncio.Future[SendOutcome], SendOutcome]]) -> None:
    for future, outcome in outcomes:
        if not future.done():
            future.set_result(outcome)
