"""Malware scanning through a real clamd (the `clamd_socket` fixture in tests/conftest.py)."""

from __future__ import annotations

from mixun.files.antivirus import ClamdScanner, parse_reply, scan_bytes
from tests.conftest import EICAR


def test_eicar_is_reported_infected(clamd_socket):
    """A file carrying the EICAR test signature is infected, with the signature's name."""
    r = scan_bytes(b"prefix " + EICAR + b" suffix", socket_path=clamd_socket)
    assert r.status == "infected" and r.signature == "Mixun.Test.EICAR.UNOFFICIAL"


def test_clean_file_is_clean(clamd_socket):
    """An ordinary document scans clean, including one larger than a single stream chunk."""
    assert scan_bytes("普通的会议纪要".encode() * 50_000, socket_path=clamd_socket).status == "clean"


def test_scanner_reports_available(clamd_socket):
    """available() is true while clamd answers."""
    assert ClamdScanner(clamd_socket).available()


def test_missing_clamd_is_unavailable_not_clean(tmp_path):
    """Without clamd the answer is 'unavailable' — never 'clean' — so files can wait by policy."""
    scanner = ClamdScanner(str(tmp_path / "no.sock"), timeout=1)
    assert not scanner.available()
    assert scanner.scan_bytes(EICAR).status == "unavailable"


def test_stream_too_large_is_an_error(clamd_socket):
    """A file over clamd's stream limit is an error, not clean."""
    r = ClamdScanner(clamd_socket).scan_bytes(b"\0" * (11 * 1024 * 1024))
    assert r.status == "error"


def test_reply_parsing():
    """clamd's three reply shapes map to clean, infected and error."""
    assert parse_reply("stream: OK").status == "clean"
    assert parse_reply("stream: Eicar-Signature FOUND").signature == "Eicar-Signature"
    assert parse_reply("INSTREAM size limit exceeded. ERROR").status == "error"

