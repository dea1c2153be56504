"""Group commit for sends.

A request hands its send to a writer thread and waits. The writer takes everything that queued up
while it wrote the previous batch (up to ``max_batch``) and writes it with ``messages.send_many``:
each send checked and scanned on its own, then one transaction with one statement per step for the
whole batch. Under light load a batch is a single send, as quick as before; under heavy load the cost
of each statement, round trip and commit (an fsync on SQLite) is shared by the batch, which is where
almost all of a send's time went. A request gets its 201 only after its batch committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from mixun import metrics
from mixun.services import messages

log = logging.getLogger("mixun.sendqueue")
_STOP = object()

# (job, where its outcome goes, the token that names it there). Where: the event loop of the request
# that waits (the token is its future), or a function taking [(token, job), ...] (the writer process
# answering its parent).
Target = asyncio.AbstractEventLoop | Callable[[list[tuple[Any, messages.SendJob]]], None]
Item = tuple[messages.SendJob, Target, Any]
# Writes a batch and answers it; returns the items deferred to a later batch.
WriteStep = Callable[[list[Item], bool], list[Item]]


class SendQueue:
    def __init__(self, writers: int = 1, max_batch: int = 64, write: WriteStep | None = None) -> None:
        self.writers = max(1, writers)
        self.max_batch = max(1, max_batch)
        self._write = write or write_here
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def send(self, job: messages.SendJob) -> tuple[dict[str, Any], bool]:
        """Send ``job`` in the next batch; its (view, created), or its error raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[dict[str, Any], bool]] = loop.create_future()
        future.add_done_callback(_retrieve)  # an abandoned request's error is not "never retrieved"
        self.put((job, loop, future))
        # A client that goes away does not cancel its send: the batch may already be writing it. A
        # resend with the same client_id then gets the committed message back.
        return await asyncio.shield(future)

    def put(self, item: Item) -> None:
        with self._lock:  # never queued behind the writers' stop
            if self._closed:
                raise RuntimeError("send queue closed")
            self._start()
            self._queue.put(item)
            metrics.SEND_QUEUE.inc()

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking sends; what is queued is written first."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            for _ in threads:
                self._queue.put(_STOP)
        for t in threads:
            t.join(timeout)
        left: list[Item] = []  # only if no writer was alive to take them
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                left.append(item)
        if left:
            self._write(left, True)

    def _start(self) -> None:
        """Start the writers (with the lock held); a writer that died is replaced."""
        self._threads = [t for t in self._threads if t.is_alive()]
        if len(self._threads) < self.writers:
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
        retry: list[Item] = []
        stalled = False
        while True:
            try:
                if not retry:
                    first = self._queue.get()
                elif stalled:
                    first = self._queue.get(timeout=messages.RETRY_PAUSE)
                else:
                    first = self._queue.get_nowait()
            except queue.Empty:
                first = None
            batch, retry = retry, []
            stop = first is _STOP
            fresh = 0
            if first is not None and not stop:
                batch.append(first)
                fresh = 1
                while fresh < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                    fresh += 1
            if fresh:
                metrics.SEND_QUEUE.dec(fresh)
            retry = self._write(batch, stop)
            stalled = len(retry) == len(batch)
            if stop:
                return


def write_here(batch: list[Item], final: bool = True) -> list[Item]:
    """Write ``batch`` in this process and answer its requests; returns the items deferred to a later
    batch (none when ``final``: those are then tried again here until written or past their deadline)."""
    jobs = [job for job, _target, _token in batch]
    if jobs:
        metrics.WRITER_BATCHES.inc()
        metrics.WRITER_BATCH_SIZE.observe(len(jobs))
    try:
        (messages.send_settled if final else messages.send_many)(jobs)
    except Exception as exc:  # send_many gives every job its own outcome; this is a last resort
        log.exception("a batch of sends failed")
        for job in jobs:
            if not job.done:
                job.deferred = False
                job.error = exc
    deferred = [item for item in batch if item[0].deferred]
    answer([item for item in batch if not item[0].deferred])
    return deferred


def answer(items: list[Item]) -> None:
    """Hand settled items to where their outcomes go: one wake-up per event loop for the whole batch
    (each call_soon_threadsafe writes to the loop's self-pipe: a system call per request otherwise)."""
    by_target: dict[Any, list[tuple[Any, messages.SendJob]]] = {}
    for job, target, token in items:
        by_target.setdefault(target, []).append((token, job))
    for target, settled in by_target.items():
        if isinstance(target, asyncio.AbstractEventLoop):
            with contextlib.suppress(RuntimeError):  # that event loop has closed (shutdown)
                target.call_soon_threadsafe(_settle_all, settled)
        else:
            target(settled)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _settle_all(settled: list[tuple[asyncio.Future[Any], messages.SendJob]]) -> None:
    for future, job in settled:
        try:
            _settle(future, job)
        except Exception:  # one request's odd error never leaves the others waiting
            log.exception("settling a send failed")
            if not future.done():
                future.set_exception(RuntimeError("send left without an outcome"))


def _settle(future: asyncio.Future[tuple[dict[str, Any], bool]], job: messages.SendJob) -> None:
    if future.done():
        return
    if job.error is not None:
        future.set_exception(job.error)
    elif job.result is not None:
        future.set_result(job.result)
    else:
        future.set_exception(RuntimeError("send left without an outcome"))
