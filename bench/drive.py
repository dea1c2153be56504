"""The drive's streaming (issue 20 item 3): MB/s up and down for one large file through a real `mixun
serve` with encryption and a real clamd scanning it, and the server's peak resident memory.

    .venv/bin/python -m bench.drive [--mb 1024]

Uploads in the API's verified 4 MiB chunks (each with its SHA-256), completes (the server joins the
sealed chunks, reads the file back once for the checksum, the content check and clamd), downloads it
whole, then a few Range reads. The server's peak RSS (VmHWM of the serve process and its children) is
read from /proc before and after: it must not grow with the file.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import EICAR, PASSWORD
from tests.helpers import Server, add_people

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


def start_clamd(d: Path) -> tuple[subprocess.Popen[bytes], str]:
    from mixun.files.antivirus import ClamdScanner

    db = d / "db"
    db.mkdir(parents=True)
    (db / "eicar.ndb").write_text(f"Mixun.Test.EICAR:0:*:{EICAR.hex()}\n")
    sock = d / "clamd.sock"
    (d / "clamd.conf").write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {d / 'clamd.log'}\n"
        f"PidFile {d / 'clamd.pid'}\nTemporaryDirectory {d}\nStreamMaxLength 4000M\nMaxScanSize 4000M\n"
        "MaxFileSize 4000M\nLogVerbose no\n")
    proc = subprocess.Popen([CLAMD, "-c", str(d / "clamd.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scanner = ClamdScanner(str(sock), timeout=5)
    deadline = time.monotonic() + 60
    while not scanner.available():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("clamd did not start")
        time.sleep(0.2)
    return proc, str(sock)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """VmHWM in MB of the serve process itself (which answers the requests) and the largest of its
    children's (the send writer)."""
    def hwm(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return hwm(pid), max((hwm(k) for k in kids), default=0.0)


def chunk(i: int, size: int) -> bytes:
    """Incompressible-looking, reproducible content (clamd reads real bytes, not zeros)."""
    seed = hashlib.sha256(i.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    args = ap.parse_args()
    size = args.mb * 1024 * 1024
    tmp = Path(tempfile.mkdtemp(prefix="mixun-bench-drive-"))
    clamd, sock = start_clamd(tmp / "clamd")
    data = tmp / "data"
    env = {"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": f"sqlite:///{data / 'mixun.db'}"}
    from mixun.config import load_settings

    add_people(load_settings(env), (("zhangsan", "张三"),))
    server = Server(data, env["MIXUN_DATABASE_URL"], MIXUN_CLAMD_SOCKET=sock, MIXUN_DRIVE_MAX_FILE_BYTES=str(4 * 1024**3),
                    MIXUN_DRIVE_QUOTA_BYTES=str(8 * 1024**3), MIXUN_SEND_BURST="100000").wait()
    try:
        c = httpx.Client(base_url=server.url + "/api/v1", timeout=600)
        token = c.post("/auth/login", json={"username": "zhangsan", "password": PASSWORD}).json()["token"]
        c.headers["Authorization"] = f"Bearer {token}"
        warm = c.post("/drive/uploads", json={"name": "warm.txt", "size": 5}).json()
        c.put(f"/drive/uploads/{warm['id']}/chunks/0", content=b"hello",
              headers={"X-Chunk-SHA256": hashlib.sha256(b"hello").hexdigest()})
        c.post(f"/drive/uploads/{warm['id']}/complete", json={})
        rss_before = peak_rss_mb(server.proc.pid)

        t0 = time.monotonic()
        up = c.post("/drive/uploads", json={"name": "大文件.bin", "size": size}).json()
        n, cs = up["chunks"], up["chunk_size"]
        whole = hashlib.sha256()
        for i in range(n):
            part = chunk(i, min(cs, size - i * cs))
            whole.update(part)
            r = c.put(f"/drive/uploads/{up['id']}/chunks/{i}", content=part,
                      headers={"X-Chunk-SHA256": hashlib.sha256(part).hexdigest(), "Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
        t_chunks = time.monotonic() - t0
        t1 = time.monotonic()
        r = c.post(f"/drive/uploads/{up['id']}/complete", json={})
        assert r.status_code == 201, r.text
        item = r.json()
        t_complete = time.monotonic() - t1
        t_up = time.monotonic() - t0
        rss_up = peak_rss_mb(server.proc.pid)

        t2 = time.monotonic()
        got = hashlib.sha256()
        received = 0
        with c.stream("GET", f"/drive/items/{item['id']}/content") as resp:
            assert resp.status_code == 200
            for piece in resp.iter_bytes(1024 * 1024):
                got.update(piece)
                received += len(piece)
        t_down = time.monotonic() - t2
        assert received == size and got.hexdigest() == whole.hexdigest() == item["sha256"]
        t3 = time.monotonic()
        ranges = 20
        for k in range(ranges):
            start = (k * 7919 * 1024 * 1024) % max(1, size - 1024 * 1024)
            rr = c.get(f"/drive/items/{item['id']}/content", headers={"Range": f"bytes={start}-{start + 65535}"})
            assert rr.status_code == 206 and len(rr.content) == 65536
        t_range = (time.monotonic() - t3) / ranges
        rss_after = peak_rss_mb(server.proc.pid)
        mb = size / 1024 / 1024
        print(f"file: {mb:.0f} MiB, {n} chunks of {cs // 1024 // 1024} MiB, SQLite, clamd (StreamMaxLength 4000M)")
        print("| step | seconds | MB/s |")
        print("|---|---|---|")
        print(f"| upload: chunks sent, verified, sealed | {t_chunks:.1f} | {mb / t_chunks:.0f} |")
        print(f"| upload: complete (join, checksum, content check, clamd) | {t_complete:.1f} | {mb / t_complete:.0f} |")
        print(f"| upload, end to end | {t_up:.1f} | {mb / t_up:.0f} |")
        print(f"| download, whole file (decrypt, stream) | {t_down:.1f} | {mb / t_down:.0f} |")
        print(f"| a 64 KiB Range read (mean of {ranges}) | {t_range * 1000:.1f} ms | |")
        print(f"server process peak RSS (VmHWM): {rss_before[0]:.0f} MB after a 5-byte file, {rss_up[0]:.0f} MB after "
              f"the upload, {rss_after[0]:.0f} MB after the download (its send-writer child: {rss_after[1]:.0f} MB)")
    finally:
        server.stop()
        clamd.terminate()
        clamd.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
