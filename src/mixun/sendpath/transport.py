"""The send writer in a process of its own (``mixun serve``; MIXUN_SEND_WRITER=process).

In one process the event loop (HTTP, WebSocket frames: 25,000 a second at 500 messages/s to 50-member
groups) and the send writer share one interpreter lock, and the writer spent longer waiting for that
lock than for the database (docs/adr/0003-writer-process.md). Here the writer runs in a child process,
with its own interpreter, on the other core:

    request ─► stage thread (this process) ─ socketpair ─► writer process ─► database
                 checks, rate limit, DLP                     group commit (SendQueue, write_batch)
    201 ◄─ reader thread ◄──── outcomes, wake-ups ────────────┘

- The **stage thread** (the queue's thread, whose writer is ``ProcessWriter``) does everything of a
  send that depends on this process (``checks.prepare``): validation, the rate limiter's token, the DLP
  verdict (this process's policy cache, invalidated here when secadmin changes it). A send that fails
  them is answered at once; the rest go to the writer in one frame per batch (``wire.WireSend``).
- The **writer process** (``main``) writes them exactly as the thread writer does (``ThreadWriter``:
  one transaction per batch, deferral of held conversations, client_id resends) and sends back each
  batch's wake-ups (before its outcomes, as the thread writer publishes them before it answers) and
  outcomes (``wire.WireOutcome``).
- The **reader thread** publishes the wake-ups (serialised by the writer, as this process's own
  notify would) on this process's bus and answers the requests.

Urgent sends are written in this process (their offline recipients are judged by this process's
presence). If the writer process dies, the sends it held are answered as after a commit whose outcome
is unknown: a send with a client_id (the web client's always have one) is looked up, and answered with
its message if stored or else written by a new writer; any other gets an error (500). The next send
starts a new writer; one that cannot start leaves this process writing sends for a while.
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

import orjson

from mixun import logs
from mixun.config import Settings
from mixun.db.engine import Database
from mixun.keystore import keystore_from
from mixun.sendpath import checks, wire
from mixun.sendpath.batch import resend_outcome
from mixun.sendpath.queue import Entry, SendQueue, answer
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services import archive
from mixun.services.dlp import DlpService
from mixun.services.runtime import Runtime

log = logging.getLogger("mixun.writer")

STOP_SECONDS = 60.0
# A writer process that ends before it is ready (it cannot start) is not started again at once: sends are
# written in the serving process meanwhile.
RESTART_PAUSE_SECONDS = 30.0


def use_process(settings: Settings, serving: bool) -> bool:
    """MIXUN_SEND_WRITER: ``process``, ``thread``, or ``auto``: a process under ``mixun serve``, a thread
    in an app embedded in tests and tools (whose sends then need no second process)."""
    return settings.send_writer == "process" or (settings.send_writer == "auto" and serving)


def process_send_queue(settings: Settings, publish: Callable[[bytes], None], max_batch: int = 64) -> SendQueue:
    """The send queue of a serving process whose writer is a child process: plain sends are checked by
    the queue's (stage) thread and written by the child; urgent sends, and every send while there is no
    child, are written by a queue of this process. The stage queue lingers (``settings.send_linger_ms``):
    what it gathers goes to the writer in one frame and is written in one transaction; urgent sends are
    never held."""
    here = SendQueue(max_batch=max_batch)
    return SendQueue(ProcessWriter(settings, publish, here), urgent=here, max_batch=max_batch,
                     linger=settings.send_linger_ms / 1000)


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
           "from mixun.sendpath.transport import main; sys.exit(main(sys.argv))")


def _command(fd: int) -> list[str]:
    """The writer process's command line: this interpreter (-P: the working directory is not on its
    import path), its end of the socket pair."""
    return [sys.executable, "-P", "-c", _LAUNCH, str(fd)]


class _Child:
    """One writer process and what it holds: request id -> entry."""

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
        self.inflight: dict[int, Entry] = {}
        self.alive = True
        self.ready = False  # it said so once its runtime was built
        self.settled = threading.Event()  # ready, or ended: what wait_ready waits for
        self.reader: threading.Thread | None = None
        with contextlib.suppress(OSError):  # it ended already: its reader finds the end, not ready
            _send_frame(self.sock, (wire.SETTINGS, settings))


class ProcessWriter:
    """The ``Writer`` whose batches are written by a child process (see the module's text). ``here`` is
    this process's own queue, which takes the sends while there is no child."""

    def __init__(self, settings: Settings, publish: Callable[[bytes], None], here: SendQueue) -> None:
        self._settings = settings
        self._publish = publish  # the bus's: a wake-up comes from the writer already serialised
        self._here = here
        self._lock = threading.Lock()  # the child and what it holds
        # Held while sends are handed to a writer, and while a lost writer's sends are settled and
        # handed on: those go before any send that came after them.
        self._ship_lock = threading.Lock()
        self._child: _Child | None = None
        self._next_id = 0
        self._closed = False
        self._resent: weakref.WeakSet[SendRequest] = weakref.WeakSet()
        self._local_until = 0.0  # after a writer that could not start: sends are written here until then

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
        """After the queues: the writer finishes what it holds, answers and exits."""
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
    def write(self, batch: list[Entry], final: bool) -> list[Entry]:
        """The stage thread's step: this process's checks, then the batch to the writer process (which
        defers and retries on its own: nothing comes back deferred)."""
        ready: list[Entry] = []
        settled: list[tuple[Entry, SendOutcome]] = []
        for entry, wait in zip(batch, checks.rate_waits([e.request for e in batch]), strict=True):
            checked = checks.prepare(entry.request, wait)
            if isinstance(checked, SendRequest):
                ready.append(entry._replace(request=checked))
            else:
                settled.append((entry, checked))
        answer(settled)
        if ready:
            with self._ship_lock:
                self._hand_over(ready)
        return []

    def _hand_over(self, ready: list[Entry]) -> None:
        """To the writer process (or, while there is none, to this process's queue); the ship lock held."""
        with self._lock:
            child = self._child
            if child is None or not child.alive:
                child = self._try_start_child()
            if child is not None:
                frame = []
                for entry in ready:
                    self._next_id += 1
                    child.inflight[self._next_id] = entry
                    frame.append((self._next_id, wire.WireSend.of(entry.request).to_tuple()))
        if child is None:  # no writer process for now: written here, as without one
            for entry in ready:
                try:
                    self._here.put(entry)
                except RuntimeError as exc:  # closing: still answered
                    answer([(entry, SendOutcome.failed(exc))])
            return
        with contextlib.suppress(OSError):  # the writer is gone: its reader answers what it held
            _send_frame(child.sock, (wire.SENDS, frame))

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
                if kind == wire.WAKE:
                    try:
                        self._publish(body)
                    except Exception:
                        log.exception("publishing a batch's wake-up failed")
                elif kind == wire.OUTCOMES:
                    self._answer(child, body)
                elif kind == wire.READY:
                    child.ready = True
                    child.settled.set()
        finally:
            child.settled.set()
            self._lost(child)
            f.close()
            child.sock.close()

    def _answer(self, child: _Child, outcomes: list[tuple[int, tuple[Any, ...]]]) -> None:
        settled = []
        with self._lock:
            for req, data in outcomes:
                entry = child.inflight.pop(req, None)
                if entry is not None:
                    try:
                        outcome = wire.WireOutcome.from_tuple(data).outcome()
                    except Exception as exc:  # still answered
                        log.exception("a send's outcome from the writer process could not be read")
                        outcome = SendOutcome.failed(exc)
                    settled.append((entry, outcome))
        answer(settled)

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
        settled: list[tuple[Entry, SendOutcome]] = []
        again: list[Entry] = []
        for entry in held:
            request = entry.request
            if unstarted:  # none was written
                again.append(entry)
                continue
            if not request.client_id:
                settled.append((entry, SendOutcome.failed(gone)))
                continue
            outcome = resend_outcome(request, missing=gone)
            if outcome.view is None and request not in self._resent and not closing:
                self._resent.add(request)
                again.append(entry)
                continue
            settled.append((entry, outcome))
        answer(settled)
        if again:
            self._hand_over(again)
        with contextlib.suppress(Exception):
            child.proc.wait(5)


# --- the writer process --------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    logs.configure()
    sock = socket.socket(fileno=int(argv[1]))
    f = sock.makefile("rb")
    first = _recv_frame(f)
    if first is None or first[0] != wire.SETTINGS:
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

    rt.notify = lambda wake: ship((wire.WAKE, orjson.dumps(wake)))  # as the serving process's notify publishes it

    def done(settled: list[tuple[Any, SendOutcome]]) -> None:
        outcomes = []
        for req, outcome in settled:
            try:
                sent = wire.WireOutcome.of(outcome)
                if sent.kind == "failed":
                    log.error("a send failed in the writer process: %s", sent.code, exc_info=outcome.error)
                outcomes.append((req, sent.to_tuple()))
            except Exception:
                log.exception("a send's outcome could not be taken")
                outcomes.append((req, wire.WireOutcome("failed", code="outcome").to_tuple()))
        try:
            ship((wire.OUTCOMES, outcomes))
        except Exception:  # an outcome that cannot be pickled: every request is still answered
            log.exception("a batch's outcomes could not be sent")
            ship((wire.OUTCOMES, [(req, wire.WireOutcome("failed", code="outcome").to_tuple())
                                  for req, _data in outcomes]))

    queue = SendQueue()
    indexer, indexer_stop = archive.start_indexer(rt)
    # As the serving process does (api/interpreter.py): what start-up made is out of the collector's
    # sight, and full collections run on a clock rather than every few seconds under load.
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    threading.Thread(target=_collect_periodically, name="mixun-writer-gc", daemon=True).start()
    ship((wire.READY, None))
    try:
        while True:
            msg = _recv_frame(f)
            if msg is None:
                break
            entries = []
            for req, data in msg[1]:
                try:
                    request = wire.WireSend.from_tuple(data).request(rt)
                except Exception as exc:  # answered, not written: a record this code cannot read
                    log.exception("a send from the serving process could not be read")
                    done([(req, SendOutcome.failed(exc))])
                    continue
                entries.append(Entry(request, done, req))
            queue.put_many(entries)  # one frame, one batch: the serving process gathered it
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
