"""ClamAV over clamd's unix socket (REQUIREMENTS D7): scan bytes with INSTREAM, tell when clamd is away.

Speaks the clamd protocol (PING, INSTREAM) directly: it is a few lines, and doing it here maps every
failure (no socket, timeout, size limit) onto our four states with our own timeouts.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

DEFAULT_SOCKET = "/run/clamav/clamd.ctl"
CHUNK = 64 * 1024

Status = Literal["clean", "infected", "unavailable", "error"]


@dataclass(frozen=True)
class ScanResult:
    status: Status
    signature: str | None = None
    detail: str | None = None  # clamd's error text, or why it is unavailable

    @property
    def clean(self) -> bool:
        return self.status == "clean"


class ClamdScanner:
    def __init__(self, socket_path: str = DEFAULT_SOCKET, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.socket_path)
        except OSError:
            s.close()
            raise
        return s

    @staticmethod
    def _read_reply(s: socket.socket) -> str:
        parts = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            parts.append(chunk)
            if chunk.endswith(b"\0"):
                break
        return b"".join(parts).rstrip(b"\0").decode("utf-8", "replace").strip()

    def available(self) -> bool:
        try:
            with self._connect() as s:
                s.sendall(b"zPING\0")
                return self._read_reply(s) == "PONG"
        except OSError:
            return False

    def scan_bytes(self, data: bytes) -> ScanResult:
        return self.scan_stream(iter((data,)))

    def scan_stream(self, pieces: Iterator[bytes]) -> ScanResult:
        """Scan a stream of any length without holding it: each piece goes to clamd as it comes."""
        try:
            s = self._connect()
        except OSError as exc:
            return ScanResult("unavailable", detail=type(exc).__name__)
        try:
            with s:
                s.sendall(b"zINSTREAM\0")
                for data in pieces:
                    view = memoryview(data)
                    for off in range(0, len(view), CHUNK):
                        piece = view[off : off + CHUNK]
                        s.sendall(struct.pack("!I", len(piece)) + piece)
                s.sendall(struct.pack("!I", 0))
                reply = self._read_reply(s)
        except OSError as exc:
            # clamd closes the connection when a stream exceeds StreamMaxLength.
            return ScanResult("error", detail=type(exc).__name__)
        return parse_reply(reply)


def parse_reply(reply: str) -> ScanResult:
    """`stream: OK`, `stream: Eicar-Signature FOUND` or `… ERROR` into a ScanResult."""
    body = reply.split(":", 1)[1].strip() if ":" in reply else reply
    if body == "OK":
        return ScanResult("clean")
    if body.endswith(" FOUND"):
        return ScanResult("infected", signature=body[: -len(" FOUND")].strip())
    return ScanResult("error", detail=body[:200] or "empty reply")


_default = ClamdScanner()


def scan_bytes(data: bytes, socket_path: str | None = None) -> ScanResult:
    return (ClamdScanner(socket_path) if socket_path else _default).scan_bytes(data)


def available(socket_path: str | None = None) -> bool:
    return (ClamdScanner(socket_path) if socket_path else _default).available()
