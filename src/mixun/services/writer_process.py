"""The send writer in a process of its own (``mixun serve``; MIXUN_SEND_WRITER=process).

In one process the event loop (HTTP, WebSocket frames: 25,000 a second at 500 messages/s to 50-member
groups) and the send writer share one interpreter lock, and the writer spent longer waiting for that
lock than for the database (BENCHMARKS.md). Here the writer runs in a child process, with its own
interpreter, on the other core:

    request ─► stage thread (this process) ─ socketpair ─► writer process ─► database
                 checks, rate limit, DLP                     group commit (SendQueue, send_many)
    201 ◄─ reader thread ◄──── results, wake-ups ─────────────┘

- The **stage thread** does everything of a send that depends on this process: validation, the rate
  limiter's token, the DLP verdict (this process's policy cache, invalidated here when secadmin
  changes it). A send that fails them is answered at once; the rest go to the writer in one frame per
  batch.
- The **writer process** writes them exactly as the in-process writer does (``messages.send_many``:
  one transaction per batch, deferral of locked conversations, client_id resends) and sends back each
  batch's wake-ups (before its results, as the in-process writer publishes them before it answers)
  and results.
- The **reader thread** publishes the wake-ups (serialised by the writer, as this process's own
  notify would) on this process's bus and answers the requests.

Urgent sends are written in this process (their offline recipients are judged by this process's
presence). If the writer process dies, the sends it held are answered as after a commit whose outcome
is unknown: a send with a client_id (the web client's always have one) is looked up, and answered with
its message if stored or else written by a new writer; any other gets an error (500). The next send
starts a new writer; one that cannot start leaves this process writing sends for a while. The
socketpair is private to the two processes, so frames are pickles.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import pickle
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, BinaryIO

from mixun.config import Settings
from mixun.db.engine import is_busy
from mixun.errors import MixunError
from mixun.services import messages
from mixun.services.runtime import Ctx, Runtime
from mixun.services.sendqueue import Item, SendQueue, answer

log = logging.getLogger("mixun.writer")

STOP_SECONDS = 60.0
# A writer process that ends before it is ready (it cannot start) is not started again at once: sends are
# written in the serving process meanwhile.
RESTART_PAUSE_SECONDS = 30.0


def _send_frame(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(4, "big") + data)


def _recv_frame(f: BinaryIO) -> Any:
    """The next frame, or None at the end of the stream (a frame cut short, or a connection reset by a
    peer that ended without reading what it was sent, counts as the end)."""
    try:
        head = f.read(4)
        if len(head) < 4:
            return None
        n = int.from_bytes(head, "big")
        data = f.read(n)
    except OSError:
        return None
    if len(data) < n:
        return None
    return pickle.loads(data)  # noqa: S301 - our own child's socketpair


# The writer ignores SIGINT and SIGTERM from its first instruction on (not after its imports): it stops
# when its parent closes the stream (after the parent's own shutdown, or when the parent dies, kill -9
# included), then writes and answers what it holds and exits. A Ctrl-C at the terminal, or a service
# manager's SIGTERM, reaches the whole process group; the parent's shutdown decides.
_LAUNCH = ("import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
           "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
           "from mixun.services.writer_process import main; sys.exit(main(sys.argv))")


def _command(fd: int) -> list[str]:
    """The writer process's command line: this interpreter (-P: the working directory is not on its
    import path), its end of the socket pair."""
    return [sys.executable, "-P", "-c", _LAUNCH, str(fd)]


class _Child:
    """One writer process and what it holds: request id -> item."""

    def __init__(self, settings: Settings) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        try:
            self.proc = subprocess.Popen(_command(theirs.fileno()), pass_fds=(theirs.fileno(),),  # noqa: S603
                                         close_fds=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.inflight: dict[int, Item] = {}
        self.alive = True
        self.ready = False  # it said so once its runtime was built
        self.settled = threading.Event()  # ready, or ended: what wait_ready waits for
        self.reader: threading.Thread | None = None
        with contextlib.suppress(OSError):  # it ended already: its reader finds the end, not ready
            _send_frame(self.sock, ("settings", settings))


class WriterProcess:
    """The send queue of a serving process whose writer is a child process (see the module's text)."""

    def __init__(self, settings: Settings, publish: Callable[[bytes], None], max_batch: int = 64) -> None:
        self._settings = settings
        self._publish = publish  # the bus's: a wake-up comes from the writer already serialised
        self._stage = SendQueue(max_batch=max_batch, write=self._ship)
        self._local = SendQueue(max_batch=max_batch)
        self._lock = threading.Lock()  # the child and what it holds
        # Held while sends are handed to a writer, and while a lost writer's sends are settled and
        # handed on: those go before any send that came after them.
        self._ship_lock = threading.Lock()
        self._child: _Child | None = None
        self._next_id = 0
        self._closed = False
        self._resent: weakref.WeakSet[messages.SendJob] = weakref.WeakSet()
        self._local_until = 0.0  # after a writer that could not start: sends are written here until then

    async def send(self, job: messages.SendJob) -> tuple[dict[str, Any], bool]:
        if job.urgent:
            return await self._local.send(job)
        return await self._stage.send(job)

    def start(self) -> None:
        """Start the writer process now rather than at the first send (start-up costs about a second)."""
        with self._lock:
            if not self._closed and (self._child is None or not self._child.alive):
                self._try_start_child()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the writer process is ready to write (its runtime built), ends, or ``timeout``
        passes; whether it is ready. The server takes connections only after this (app lifespan)."""
        child = self._child
        return child is not None and child.settled.wait(timeout) and child.ready

    @property
    def pid(self) -> int | None:
        """The writer process's pid (None while there is none)."""
        child = self._child
        return child.proc.pid if child is not None and child.alive else None

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking sends; what is queued is written and answered first."""
        self._stage.close(timeout)
        self._local.close(timeout)
        with self._lock:
            self._closed = True
            child = self._child
        if child is None:
            return
        with contextlib.suppress(OSError):
            child.sock.shutdown(socket.SHUT_WR)  # the writer finishes what it holds, answers, exits
        try:
            child.proc.wait(max(timeout, STOP_SECONDS + 15))  # longer than the writer gives itself
        except subprocess.TimeoutExpired:
            log.error("the send writer process did not stop in time; killing it")
            child.proc.kill()
            child.proc.wait()
        if child.reader is not None:
            child.reader.join(10)

    # --- stage thread -------------------------------------------------------------------------------
    def _ship(self, batch: list[Item], final: bool) -> list[Item]:
        """The stage thread's step: this process's checks, then the batch to the writer process."""
        ready: list[Item] = []
        settled: list[Item] = []
        messages.take_send_tokens([item[0] for item in batch])
        for item in batch:
            job = item[0]
            job.deferred = False
            messages.prepare(job)
            (settled if job.done else ready).append(item)
        answer(settled)
        if ready:
            with self._ship_lock:
                self._hand_over(ready)
        return []

    def _hand_over(self, ready: list[Item]) -> None:
        """To the writer process (or, while there is none, to this process's writer); the ship lock held."""
        with self._lock:
            child = self._child
            if child is None or not child.alive:
                child = self._try_start_child()
            if child is not None:
                frame = []
                for item in ready:
                    self._next_id += 1
                    child.inflight[self._next_id] = item
                    frame.append((self._next_id, _encode(item[0])))
        if child is None:  # no writer process for now: written here, as without one
            for item in ready:
                try:
                    self._local.put(item)
                except RuntimeError as exc:  # closing: still answered
                    item[0].error = exc
                    answer([item])
            return
        with contextlib.suppress(OSError):  # the writer is gone: its reader answers what it held
            _send_frame(child.sock, ("jobs", frame))

    def _try_start_child(self) -> _Child | None:
        """A new writer process (the lock held), or None while sends are to be written here."""
        if time.monotonic() < self._local_until:
            return None
        try:
            return self._start_child()
        except Exception:
            log.exception("the send writer process could not be started; sends are written in this "
                          "process for the next %d s", RESTART_PAUSE_SECONDS)
            self._local_until = time.monotonic() + RESTART_PAUSE_SECONDS
            return None

    def _start_child(self) -> _Child:
        child = _Child(self._settings)
        child.reader = threading.Thread(target=self._read, args=(child,), name="mixun-writer-reader",
                                        daemon=True)
        try:
            child.reader.start()
        except BaseException:  # no one would read its answers: it must not get any send
            child.proc.kill()
            child.proc.wait()
            child.sock.close()
            raise
        self._child = child
        log.info("send writer process %d started", child.proc.pid)
        return child

    # --- reader thread ------------------------------------------------------------------------------
    def _read(self, child: _Child) -> None:
        f = child.sock.makefile("rb")
        try:
            while True:
                try:
                    msg = _recv_frame(f)
                except Exception:
                    log.exception("a frame from the send writer process could not be read; stopping it")
                    # Stopped before what it held is settled: it must not go on writing meanwhile.
                    child.proc.kill()
                    child.ready = True  # whatever it was doing, what it held may have been written
                    msg = None
                if msg is None:
                    break
                kind, body = msg
                if kind == "wake":
                    try:
                        self._publish(body)
                    except Exception:
                        log.exception("publishing a batch's wake-up failed")
                elif kind == "done":
                    self._answer(child, body)
                elif kind == "ready":
                    child.ready = True
                    child.settled.set()
        finally:
            child.settled.set()
            self._lost(child)
            f.close()
            child.sock.close()

    def _answer(self, child: _Child, outcomes: list[tuple[int, tuple[Any, ...]]]) -> None:
        items = []
        with self._lock:
            for req, outcome in outcomes:
                item = child.inflight.pop(req, None)
                if item is not None:
                    try:
                        _decode_outcome(item[0], outcome)
                    except Exception as exc:  # still answered
                        log.exception("a send's outcome from the writer process could not be read")
                        item[0].error = exc
                    items.append(item)
        answer(items)

    def _lost(self, child: _Child) -> None:
        """The writer process has ended: whatever it still held has an unknown outcome. A send with a
        client_id is looked up: stored, it is answered with its message; not stored, it goes to the next
        writer once (its client_id keeps it from being written twice should the lost writer's COMMIT
        still land). Any other send gets an error: whether it was stored cannot be told. A writer that
        ended before it was ready read no send: all it held are written anew (here, for a while)."""
        with self._ship_lock:  # sends that came after these wait until these are handed on
            self._settle_lost(child)

    def _settle_lost(self, child: _Child) -> None:
        with self._lock:
            child.alive = False
            held = list(child.inflight.values())
            child.inflight.clear()
            closing = self._closed
            unstarted = not child.ready and not closing  # it read no send
            if unstarted:
                self._local_until = time.monotonic() + RESTART_PAUSE_SECONDS
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(1)
        code = child.proc.poll()
        if unstarted:
            log.error("the send writer process %d ended before it was ready (exit code %s); sends are "
                      "written in this process for the next %d s", child.proc.pid, code, RESTART_PAUSE_SECONDS)
        elif held or not closing:
            log.error("the send writer process %d ended (exit code %s) holding %d sends", child.proc.pid,
                      code, len(held))
        gone = RuntimeError("the send writer process ended before answering")
        settled, again = [], []
        for item in held:
            job = item[0]
            if unstarted:  # none was written
                again.append(item)
                continue
            elif not job.client_id:
                job.error = gone
            else:
                messages.answer_resend(job, missing=gone)
                if job.result is None and job not in self._resent and not closing:
                    job.error = None
                    self._resent.add(job)
                    again.append(item)
                    continue
            settled.append(item)
        answer(settled)
        if again:
            self._hand_over(again)
        with contextlib.suppress(Exception):
            child.proc.wait(5)


def _encode(job: messages.SendJob) -> tuple[Any, ...]:
    ctx = job.ctx
    return (ctx.principal, ctx.ip, ctx.client, ctx.locale, job.conversation_id, job.text, job.client_id,
            job.confirm, job.reply_to, job.kind, job.dlp_outcome)


def _decode(rt: Runtime, data: tuple[Any, ...]) -> messages.SendJob:
    principal, ip, client, locale, conversation_id, text, client_id, confirm, reply_to, kind, dlp_outcome = data
    return messages.SendJob(Ctx(rt, principal, ip, client, locale), conversation_id, text, client_id=client_id,
                            confirm=confirm, reply_to=reply_to, kind=kind, dlp_outcome=dlp_outcome,
                            rate_checked=True)


def _outcome(job: messages.SendJob) -> tuple[Any, ...]:
    if job.result is not None:
        return ("ok", job.result)
    err = job.error
    if isinstance(err, MixunError):
        return ("error", err.code, err.custom_message, err.details)
    if err is not None and is_busy(err):
        return ("error", "busy", None, {})
    log.error("a send failed in the writer process: %s", type(err).__name__, exc_info=err)
    return ("failed", type(err).__name__)


def _decode_outcome(job: messages.SendJob, outcome: tuple[Any, ...]) -> None:
    if outcome[0] == "ok":
        job.result = outcome[1]
    elif outcome[0] == "error":
        job.error = MixunError(outcome[1], outcome[2], **outcome[3])
    else:
        job.error = RuntimeError(f"the send failed in the writer process ({outcome[1]})")


# --- the writer process --------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    import orjson

    from mixun import logs
    from mixun.db.engine import Database
    from mixun.keystore import keystore_from
    from mixun.services import archive
    from mixun.services.dlp import DlpService

    logs.configure()
    sock = socket.socket(fileno=int(argv[1]))
    f = sock.makefile("rb")
    first = _recv_frame(f)
    if first is None or first[0] != "settings":
        return 2
    settings: Settings = first[1]
    rt = Runtime(settings=settings, db=Database(settings.database_url, settings.db_lock_timeout_seconds),
                 keys=keystore_from(settings))
    rt.dlp_service = DlpService(rt)  # records the hits of sends that go through
    out = threading.Lock()

    def ship(msg: Any) -> None:
        # The parent gone (kill -9), there is no one to answer: the writes themselves still commit.
        with out, contextlib.suppress(OSError):
            _send_frame(sock, msg)

    rt.notify = lambda wake: ship(("wake", orjson.dumps(wake)))  # as the serving process's notify publishes it

    def done(settled: list[tuple[Any, messages.SendJob]]) -> None:
        outcomes = []
        for req, job in settled:
            try:
                outcomes.append((req, _outcome(job)))
            except Exception:
                log.exception("a send's outcome could not be taken")
                outcomes.append((req, ("failed", "outcome")))
        try:
            ship(("done", outcomes))
        except Exception:  # an outcome that cannot be pickled: every request is still answered
            log.exception("a batch's outcomes could not be sent")
            ship(("done", [(req, ("failed", "outcome")) for req, _outcome_ in outcomes]))

    queue = SendQueue()
    indexer, indexer_stop = archive.start_indexer(rt)
    # As the serving process does (api/interpreter.py): what start-up made is out of the collector's
    # sight, and full collections run on a clock rather than every few seconds under load.
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    threading.Thread(target=_collect_periodically, name="mixun-writer-gc", daemon=True).start()
    ship(("ready", None))
    try:
        while True:
            msg = _recv_frame(f)
            if msg is None:
                break
            for req, data in msg[1]:
                queue.put((_decode(rt, data), done, req))
    finally:
        queue.close(STOP_SECONDS)
        indexer_stop.set()
        indexer.join(10)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    return 0


def _collect_periodically(every: float = 60.0) -> None:
    while True:
        time.sleep(every)
        gc.collect()


def use_process(settings: Settings, serving: bool) -> bool:
    """MIXUN_SEND_WRITER: ``process``, ``thread``, or ``auto``: a process under ``mixun serve``, a thread
    in an app embedded in tests and tools (whose sends then need no second process)."""
    return settings.send_writer == "process" or (settings.send_writer == "auto" and serving)

