"""A real PostgreSQL primary and streaming standby on this machine, for the standby tests and bench.

Each cluster is made with the server binaries Debian installs (``/usr/lib/postgresql/N/bin``), owned by
the ``postgres`` account (PostgreSQL refuses to run as root), in a directory of its own, on ports of
its own: the set-up docs/standby.md describes, step by step.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why a pair cannot be started here, or None."""
    if pg_bin() is None:
        return "PostgreSQL server binaries are missing (apt-get install postgresql)"
    if os.geteuid() != 0 and os.environ.get("USER") != "postgres":
        return "starting a PostgreSQL cluster needs root (runuser -u postgres) or the postgres account"
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgPair:
    """Primary on ``self.primary_port``, standby (application_name ``standby1``) on ``self.standby_port``."""

    def __init__(self, synchronous: bool = True) -> None:
        self.bin = pg_bin()
        assert self.bin is not None
        self.root = Path(tempfile.mkdtemp(prefix="mixun-pgpair-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.primary_dir, self.standby_dir = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = _free_port(), _free_port()
        self.synchronous = synchronous

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PgPair:
        b = self.bin
        self._run(str(b / "initdb"), "-D", str(self.primary_dir), "-A", "trust", "-U", "postgres",
                  "--encoding=UTF8", "--locale=C.UTF-8")
        with (self.primary_dir / "postgresql.conf").open("a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.primary_port}\n"
                    f"unix_socket_directories = '{self.root}'\nwal_level = replica\nmax_wal_senders = 5\n"
                    f"synchronous_standby_names = '{'standby1' if self.synchronous else ''}'\n"
                    "synchronous_commit = on\nmax_connections = 200\nshared_buffers = 32MB\n")
        with (self.primary_dir / "pg_hba.conf").open("a") as f:
            f.write("host replication all 127.0.0.1/32 trust\n")
        self._run(str(b / "pg_ctl"), "-D", str(self.primary_dir), "-l", str(self.root / "primary.log"), "-w",
                  "start")
        self._run(str(b / "pg_basebackup"), "-D", str(self.standby_dir), "-h", "127.0.0.1", "-p",
                  str(self.primary_port), "-U", "postgres", "-R", "-X", "stream", "-d",
                  "application_name=standby1")
        conf = (self.standby_dir / "postgresql.conf").read_text()
        conf = conf.replace(f"port = {self.primary_port}", f"port = {self.standby_port}")
        (self.standby_dir / "postgresql.conf").write_text(conf)
        self._run(str(b / "pg_ctl"), "-D", str(self.standby_dir), "-l", str(self.root / "standby.log"), "-w",
                  "start")
        with psycopg.connect(host="127.0.0.1", port=self.primary_port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute("CREATE DATABASE mixun")
        self.wait_streaming()
        return self

    def wait_streaming(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(host="127.0.0.1", port=self.primary_port, user="postgres", dbname="postgres",
                                 autocommit=True) as c:
                row = c.execute("SELECT state, sync_state FROM pg_stat_replication").fetchone()
            if row and row[0] == "streaming" and (row[1] == "sync" or not self.synchronous):
                return
            time.sleep(0.2)
        raise AssertionError("the standby did not start streaming")

    @property
    def url(self) -> str:
        """Both hosts, the primary first; libpq connects to whichever accepts writes."""
        return (f"postgresql://postgres@/mixun?host=127.0.0.1:{self.primary_port}"
                f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write")

    def standby_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.standby_port}/mixun"

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and every backend of it, at once: a power cut, not a shutdown."""
        pid = int((self.primary_dir / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for p in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        for d in (self.standby_dir, self.primary_dir):
            if (d / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(d), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
