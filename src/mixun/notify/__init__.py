"""Notification gateways for people who are offline (M3), alerts and escalations (issue 22 item 9).

Three channels, each its own adapter:

- the **outbox** (always): one JSON line per notification in ``<data dir>/outbox/sms.jsonl``, for a
  bank's own gateway to pick up (what Mixun did before, unchanged);
- **e-mail** over SMTP (``MIXUN_SMTP_HOST`` set): STARTTLS or SMTPS, optional login;
- **SMS** over an HTTP gateway (``MIXUN_SMS_URL`` set): the request's method, headers and body are
  configured (docs/operations.md), ``{phone}``, ``{text}`` and ``{user_id}`` filled in.

``Dispatcher.send`` never waits for a gateway: it queues, and a thread delivers with retries
(``MIXUN_NOTIFY_RETRIES`` further attempts, the pause doubling from ``MIXUN_NOTIFY_RETRY_SECONDS``). A
notification every attempt of which failed — or that a gateway refused outright (a 4xx other than 429,
an SMTP 5xx) — goes to the dead-letter list ``<data dir>/outbox/dead-letters.jsonl``, which the
system administrator's console shows. Message content never leaves through a gateway — only that an
urgent message is waiting and from whom, or an alert's own text.

At rest, the ``text`` of every line of the outbox and the dead-letter list is sealed (``seal``, given by
whoever builds the notifier: a data key of the key ring, docs/keys.md) when a sealer is given; the
readers (``read_outbox``, ``read_dead_letters``) open it with the ``opener`` they are given. Lines
written before read unchanged.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("mixun.notify")
DEAD_LETTERS = "dead-letters.jsonl"
OUTBOX = "sms.jsonl"
Sealer = Callable[[str], str]


class Notifier(Protocol):
    def send(self, user_id: int, phone: str | None, text: str, *, email: str | None = None,
             subject: str | None = None) -> None: ...


class Refused(Exception):
    """A gateway refused the notification for good: retrying would not help."""


@dataclass
class Notification:
    user_id: int
    phone: str | None
    text: str
    email: str | None = None
    subject: str | None = None
    attempts: dict[str, int] = field(default_factory=dict)


class OutboxNotifier:
    """The file outbox: also the whole of notification when no gateway is configured."""

    def __init__(self, data_dir: Path, seal: Sealer | None = None) -> None:
        self.path = data_dir / "outbox" / OUTBOX
        self.seal = seal
        self._lock = threading.Lock()

    def send(self, user_id: int, phone: str | None, text: str, *, email: str | None = None,
             subject: str | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stored = self.seal(text) if self.seal is not None else text
        record = {"at": datetime.now(UTC).isoformat(), "user_id": user_id, "phone": phone, "text": stored}
        if email:
            record["email"] = email
        line = json.dumps(record, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "mixun@localhost"
    security: str = "none"  # none | starttls | tls (SMTPS)
    username: str = ""
    password: str = ""
    timeout: float = 10.0


class SmtpChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def wants(self, n: Notification) -> bool:
        return bool(n.email)

    def deliver(self, n: Notification) -> None:
        c = self.config
        msg = EmailMessage()
        msg["From"] = c.sender
        msg["To"] = n.email or ""
        msg["Subject"] = n.subject or "密讯通知 Mixun notice"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=c.sender.rsplit("@", 1)[-1] or "mixun")
        msg.set_content(n.text, charset="utf-8")
        try:
            if c.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with client:
                if c.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if c.username:
                    client.login(c.username, c.password)
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise Refused(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise Refused(f"SMTP {exc.smtp_code}") from exc
            raise


@dataclass(frozen=True)
class SmsConfig:
    url: str
    method: str = "POST"
    body: str = '{"to": "{phone}", "text": "{text}"}'
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0


def fill(template: str, values: Mapping[str, str], json_body: bool) -> str:
    """``template`` with ``{name}`` replaced by each value (JSON-escaped inside a JSON body, URL-encoded
    otherwise); other braces are left alone, so a JSON template needs no doubling."""
    import urllib.parse

    out = template
    for key, value in values.items():
        if json_body:
            rendered = json.dumps(value, ensure_ascii=False)[1:-1]
        else:
            rendered = urllib.parse.quote(value, safe="")
        out = out.replace("{" + key + "}", rendered)
    return out


class SmsHttpChannel:
    name = "sms"

    def __init__(self, config: SmsConfig) -> None:
        self.config = config

    def wants(self, n: Notification) -> bool:
        return bool(n.phone)

    def deliver(self, n: Notification) -> None:
        c = self.config
        values = {"phone": n.phone or "", "text": n.text, "user_id": str(n.user_id)}
        json_body = "json" in c.content_type
        url = fill(c.url, values, json_body=False)
        data = fill(c.body, values, json_body).encode() if c.method in ("POST", "PUT") else None
        request = urllib.request.Request(url, data=data, method=c.method)  # noqa: S310 - configured http(s) URL
        if data is not None:
            request.add_header("Content-Type", c.content_type + "; charset=utf-8")
        for name, value in c.headers:
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=c.timeout) as response:  # noqa: S310
                response.read(65536)
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise Refused(f"HTTP {exc.code}") from exc
            raise


def _headers(value: str) -> tuple[tuple[str, str], ...]:
    """``Name: value`` pairs separated by ``;;`` (a value may hold a single ``;``)."""
    pairs = []
    for part in value.split(";;"):
        name, sep, val = part.partition(":")
        if sep and name.strip():
            pairs.append((name.strip(), val.strip()))
    return tuple(pairs)


class Dispatcher:
    """The notifier of a running server: the outbox at once, each configured gateway from a thread with
    retries, and the dead-letter list. ``on_outcome(channel, outcome)`` counts (mixun.metrics)."""

    def __init__(self, data_dir: Path, channels: list[Any], retries: int = 3, retry_seconds: float = 2.0,
                 on_outcome: Callable[[str, str], None] | None = None, seal: Sealer | None = None) -> None:
        self.outbox = OutboxNotifier(data_dir, seal)
        self.seal = seal
        self.channels = channels
        self.retries = max(0, retries)
        self.retry_seconds = max(0.0, retry_seconds)
        self.dead_path = data_dir / "outbox" / DEAD_LETTERS
        self.on_outcome = on_outcome or (lambda _c, _o: None)
        self._queue: queue.Queue[tuple[float, Notification, Any, int] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._waiting: list[tuple[float, Notification, Any, int]] = []
        self._busy = 0

    def send(self, user_id: int, phone: str | None, text: str, *, email: str | None = None,
             subject: str | None = None) -> None:
        self.outbox.send(user_id, phone, text, email=email, subject=subject)
        self.on_outcome("outbox", "sent")
        n = Notification(user_id, phone, text, email, subject)
        for channel in self.channels:
            if channel.wants(n):
                self._put((0.0, n, channel, 0))

    def _put(self, item: tuple[float, Notification, Any, int]) -> None:
        with self._lock:
            self._busy += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mixun-notify", daemon=True)
                self._thread.start()
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            timeout = None
            if self._waiting:
                timeout = max(0.0, min(w[0] for w in self._waiting) - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            now = time.monotonic()
            if item is not None:
                self._waiting.append(item)
            due = [w for w in self._waiting if w[0] <= now]
            self._waiting = [w for w in self._waiting if w[0] > now]
            for _at, n, channel, attempt in due:
                self._attempt(n, channel, attempt)

    def _attempt(self, n: Notification, channel: Any, attempt: int) -> None:
        try:
            channel.deliver(n)
        except Refused as exc:
            self._dead(n, channel, attempt + 1, str(exc))
        except Exception as exc:  # noqa: BLE001 - a gateway's failure of any kind is retried
            if attempt < self.retries:
                self.on_outcome(channel.name, "retried")
                log.warning("notification via %s failed (%s); retry %d of %d", channel.name,
                            type(exc).__name__, attempt + 1, self.retries)
                with self._lock:
                    self._busy += 1
                self._waiting.append((time.monotonic() + self.retry_seconds * (2 ** attempt), n, channel,
                                      attempt + 1))
            else:
                self._dead(n, channel, attempt + 1, f"{type(exc).__name__}: {exc}"[:300])
        else:
            self.on_outcome(channel.name, "sent")
        with self._lock:
            self._busy -= 1

    def _dead(self, n: Notification, channel: Any, attempts: int, error: str) -> None:
        self.on_outcome(channel.name, "dead")
        log.error("notification via %s given up after %d attempt(s): %s", channel.name, attempts, error)
        record = {"at": datetime.now(UTC).isoformat(), "channel": channel.name, "user_id": n.user_id,
                  "to": n.email if channel.name == "email" else n.phone,
                  "text": self.seal(n.text) if self.seal is not None else n.text,
                  "attempts": attempts, "error": error}
        self.dead_path.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or waiting for a retry (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._busy <= 0:
                    return True
            time.sleep(0.02)
        return False


def _read_lines(path: Path, limit: int | None, opener: Sealer | None) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[-limit:] if limit is not None else lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if opener is not None and isinstance(row, dict) and isinstance(row.get("text"), str):
            row["text"] = opener(row["text"])
        rows.append(row)
    return rows


def read_dead_letters(data_dir: Path, limit: int = 200, opener: Sealer | None = None) -> list[dict[str, Any]]:
    """The dead-letter list, newest first (each text opened with ``opener`` when given)."""
    return _read_lines(data_dir / "outbox" / DEAD_LETTERS, limit, opener)[::-1]


def read_outbox(data_dir: Path, opener: Sealer | None = None) -> list[dict[str, Any]]:
    """The outbox's notifications, oldest first (each text opened with ``opener`` when given)."""
    return _read_lines(data_dir / "outbox" / OUTBOX, None, opener)


def count_dead_letters(data_dir: Path) -> int:
    path = data_dir / "outbox" / DEAD_LETTERS
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def from_settings(data_dir: Path, extra: Mapping[str, str],
                  on_outcome: Callable[[str, str], None] | None = None, seal: Sealer | None = None) -> Dispatcher:
    """The dispatcher the MIXUN_SMTP_* / MIXUN_SMS_* / MIXUN_NOTIFY_* settings describe."""
    def get(name: str, default: str = "") -> str:
        return extra.get(f"MIXUN_{name}", default)

    channels: list[Any] = []
    if get("SMTP_HOST"):
        security = get("SMTP_SECURITY", "none").lower()
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"MIXUN_SMTP_SECURITY must be none, starttls or tls, not {security!r}")
        channels.append(SmtpChannel(SmtpConfig(
            host=get("SMTP_HOST"), port=int(get("SMTP_PORT", "465" if security == "tls" else "25")),
            sender=get("SMTP_FROM", "mixun@localhost"), security=security, username=get("SMTP_USER"),
            password=get("SMTP_PASSWORD"), timeout=float(get("NOTIFY_TIMEOUT_SECONDS", "10")))))
    if get("SMS_URL"):
        method = get("SMS_METHOD", "POST").upper()
        if method not in ("GET", "POST", "PUT"):
            raise ValueError(f"MIXUN_SMS_METHOD must be GET, POST or PUT, not {method!r}")
        channels.append(SmsHttpChannel(SmsConfig(
            url=get("SMS_URL"), method=method, body=get("SMS_BODY", SmsConfig.body),
            content_type=get("SMS_CONTENT_TYPE", "application/json"), headers=_headers(get("SMS_HEADERS")),
            timeout=float(get("NOTIFY_TIMEOUT_SECONDS", "10")))))
    return Dispatcher(data_dir, channels, retries=int(get("NOTIFY_RETRIES", "3")),
                      retry_seconds=float(get("NOTIFY_RETRY_SECONDS", "2")), on_outcome=on_outcome, seal=seal)
