"""Malware scanning through a real clamd, started by the test with a signature database it makes.

Signature downloads are not reachable, so the database holds one signature: the EICAR test file's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from mixun.files.antivirus import ClamdScanner, parse_reply, scan_bytes

CLAMD = shutil.which("clamd") or ("/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None)
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(scope="module")
def clamd_socket(tmp_path_factory):
    if CLAMD is None:
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    d = tmp_path_factory.mktemp("clamd")
    db = d / "db"
    db.mkdir()
    # An .ndb body signature: name:target(0 = any file):offset(* = anywhere):hex.
    (db / "eicar.ndb").write_text(f"Mixun.Test.EICAR:0:*:{EICAR.hex()}\n")
    sock = d / "clamd.sock"
    conf = d / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {d / 'clamd.log'}\n"
        f"PidFile {d / 'clamd.pid'}\nTemporaryDirectory {d}\nStreamMaxLength 10M\nLogVerbose no\n"
    )
    proc = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scanner = ClamdScanner(str(sock), timeout=10)
    deadline = time.monotonic() + 60
    while not scanner.available():
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            log = (d / "clamd.log").read_text(errors="replace") if (d / "clamd.log").exists() else ""
            pytest.fail(f"clamd exited with {proc.returncode}: {err}\n{log}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("clamd did not answer PING within 60 s")
        time.sleep(0.2)
    yield str(sock)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


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

