"""`mixun standby status | promote | replicate | restore` — the standby server (docs/standby.md)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mixun.cli.progress import Bar
from mixun.config import Settings
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError

DB_NAME = "mixun.db"


def _fail(exc: MixunError) -> int:
    print(f"mixun: {exc.message_for('zh-CN')} ({exc.message_for('en')})", file=sys.stderr)
    return 2


def _url(args: argparse.Namespace, settings: Settings) -> str:
    return str(args.url or os.environ.get("MIXUN_STANDBY_DATABASE_URL") or settings.database_url)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import standby

    if settings.is_sqlite and not args.url:
        return _sqlite_status(args, settings)
    try:
        hosts = standby.pg_status(_url(args, settings))
    except MixunError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(hosts, ensure_ascii=False, indent=2))
        return 0
    for h in hosts:
        if h["role"] == "primary":
            sync = h["synchronous_standby_names"] or "（无：异步复制）"
            print(f"{h['host']}  主机 primary  同步备机 synchronous_standby_names = {sync}")
            if not h["standbys"]:
                print("    没有连接的备机 (no standby connected)")
            for s in h["standbys"]:
                print(f"    备机 {s['name']} {s['address']}  {s['state']} / {s['sync_state']}  "
                      f"落后 lag {_human_bytes(s['lag_bytes'])}, {s['replay_lag_seconds']:.3f} s")
        elif h["role"] == "standby":
            print(f"{h['host']}  备机 standby  接收 {h['receiving']}  待回放 backlog "
                  f"{_human_bytes(h['replay_backlog_bytes'])}  延迟 delay {h['replay_delay_seconds']:.3f} s")
        else:
            print(f"{h['host']}  无法连接 unreachable: {h.get('error', '')}")
    return 0 if any(h["role"] == "primary" for h in hosts) else 1


def _sqlite_status(args: argparse.Namespace, settings: Settings) -> int:
    replica = Path(args.replica) if args.replica else None
    if replica is None:
        print("mixun: SQLite: give --replica DIR (the directory `mixun standby replicate --to DIR` writes)",
              file=sys.stderr)
        return 2
    state_file = replica / "state.json"
    if not state_file.exists():
        print(f"{replica}: 还没有副本 (no replica yet)")
        return 1
    state = json.loads(state_file.read_text())
    age = time.time() - float(state.get("files_synced_at", 0))
    print(f"{replica}: 数据库副本 database replica by Litestream ({state.get('database')}); "
          f"文件镜像 files mirrored {age:.1f} s ago ({state.get('files', 0)} files)")
    return 0


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import standby

    try:
        out = standby.pg_promote(_url(args, settings), host=args.host, force=args.force,
                                 keep_synchronous=args.keep_synchronous)
    except MixunError as exc:
        return _fail(exc)
    if out["already_primary"]:
        print(f"{out['host']} 已经是主机 (already the primary)")
        return 0
    print(f"{out['host']} 已提升为主机 promoted to primary in {out['seconds']} s; "
          "servers whose database URL names it connect to it on their next connection")
    if out["now_asynchronous"]:
        print("注意：新主机暂无备机，已改为异步提交（RPO 不再为 0），请尽快挂接新备机 "
              "(note: no standby yet, so commits no longer wait for one; attach a new standby, docs/standby.md)")
    _audit_promotion(settings, args, out)
    return 0


class _Edge:
    """What cli.main lends this module (passed in by ``register``, so the import points one way)."""

    runtime: Any = None
    cli_ctx: Any = None
    serve: Any = None


def _audit_promotion(settings: Settings, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Record the promotion in the (new primary's) audit trail, actor cli."""
    from mixun.services import audit

    rt = _Edge.runtime(settings)
    try:
        ctx = _Edge.cli_ctx(rt)
        with rt.db.write() as s:
            audit.record(s, ctx, AuditAction.STANDBY_PROMOTED, target=out["host"], forced=bool(args.force),
                         seconds=out["seconds"], now_asynchronous=out["now_asynchronous"])
    except Exception as exc:  # the promotion itself succeeded; say what could not be recorded
        print(f"mixun: warning: the promotion could not be recorded in the audit trail: {type(exc).__name__}",
              file=sys.stderr)
    finally:
        rt.db.dispose()


class _Stop:
    def __init__(self) -> None:
        self.stop = False

    def __call__(self, *_a: Any) -> None:
        self.stop = True


def cmd_replicate(args: argparse.Namespace, settings: Settings) -> int:
    """Continuous replication of the embedded database (Litestream) and the data directory's files."""
    from mixun.services import standby

    if not settings.is_sqlite:
        print("mixun: on PostgreSQL the standby is PostgreSQL's own streaming replication (docs/standby.md)",
              file=sys.stderr)
        return 2
    try:
        binary = standby.litestream_binary()
    except MixunError as exc:
        return _fail(exc)
    replica = Path(args.to).resolve()
    replica.mkdir(parents=True, exist_ok=True)
    db_path = settings.data_dir / DB_NAME
    config = Path(tempfile.mkstemp(prefix="litestream-", suffix=".yml")[1])
    config.write_text(standby.litestream_config(db_path, replica, args.sync_interval))
    child = subprocess.Popen([binary, "replicate", "-config", str(config)],  # noqa: S603 - our binary, our paths
                             stdout=subprocess.DEVNULL if args.quiet else None, stderr=subprocess.STDOUT,
                             start_new_session=True)
    stop = _Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"replicating {db_path} and {settings.data_dir}'s files to {replica} (Ctrl-C stops)", flush=True)
    first = True
    from mixun.keystore import keystore_from

    periods = keystore_from(settings).data_keys.periods.dir  # the host's store of this deployment's period keys
    try:
        while not stop.stop:
            bar = Bar("镜像文件 mirroring files") if first and not args.quiet else None
            stats = standby.mirror_files(settings.data_dir, replica / "files", skip=_db_files, progress=bar,
                                         periods=periods)
            if bar:
                bar.close()
            first = False
            state = {"database": str(db_path), "files": stats.copied + stats.skipped,
                     "files_synced_at": time.time()}
            tmp = replica / ".state.json.part"
            tmp.write_text(json.dumps(state))
            os.replace(tmp, replica / "state.json")
            if args.once:
                break
            if child.poll() is not None:
                print(f"mixun: litestream ended with code {child.returncode}", file=sys.stderr)
                return 1
            for _ in range(int(args.files_interval * 10)):
                if stop.stop:
                    break
                time.sleep(0.1)
    finally:
        if args.once:
            time.sleep(float(args.sync_interval.rstrip("s") or 1) + 0.5)
        child.send_signal(signal.SIGTERM)  # Litestream syncs what it holds, then ends
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
        config.unlink(missing_ok=True)
    print("replication stopped; the replica is consistent", flush=True)
    return 0


def _db_files(rel: Path) -> bool:
    """Not mirrored: the database (Litestream replicates it) and `run/`, the serving processes' own
    state (prometheus-client's per-process metric files), which means nothing on another machine."""
    return rel.parts[0].startswith(DB_NAME) or rel.parts[0].startswith(f".{DB_NAME}") or rel.parts[0] == "run"


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Turn a replica into this data directory (SQLite), then optionally serve it."""
    from mixun.services import standby

    replica = Path(args.source).resolve()
    target = settings.data_dir
    if (target / DB_NAME).exists() and not args.force:
        print(f"mixun: {target / DB_NAME} exists; restore into an empty data directory (or --force)",
              file=sys.stderr)
        return 2
    if not (replica / "db").exists():
        print(f"mixun: {replica} holds no Litestream replica (expected {replica / 'db'})", file=sys.stderr)
        return 2
    try:
        binary = standby.litestream_binary()
    except MixunError as exc:
        return _fail(exc)
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp_db = target / f".{DB_NAME}.restoring"
    tmp_db.unlink(missing_ok=True)
    done = subprocess.run([binary, "restore", "-o", str(tmp_db), f"file://{replica / 'db'}"],  # noqa: S603
                          capture_output=True, text=True)
    if done.returncode != 0:
        tmp_db.unlink(missing_ok=True)
        print(f"mixun: litestream restore failed: {done.stderr.strip()[:500]}", file=sys.stderr)
        return 1
    bar = Bar("复制文件 copying files")
    stats = standby.mirror_files(replica / "files", target, skip=_db_files, progress=bar)
    bar.close()
    for suffix in ("-wal", "-shm"):
        (target / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
    os.replace(tmp_db, target / DB_NAME)
    print(f"restored {target / DB_NAME} and {stats.copied + stats.skipped} files from {replica} "
          f"in {time.monotonic() - started:.1f} s")
    if args.serve:
        return int(_Edge.serve(argparse.Namespace(host=args.host, port=args.port, workers=1, log_level="warning",
                                                  tls_cert=None, tls_key=None), settings))
    return 0


def register(sub: Any, runtime: Any, cli_ctx: Any, serve: Any) -> None:
    _Edge.runtime, _Edge.cli_ctx, _Edge.serve = runtime, cli_ctx, serve
    sp = sub.add_parser("standby", help="the standby server: status, promote (PostgreSQL); replicate, restore "
                        "(SQLite, Litestream)").add_subparsers(dest="standby_command", required=True)
    st = sp.add_parser("status", help="roles and lag of every host of the database URL (or a SQLite replica)")
    st.add_argument("--url", help="database URL (default MIXUN_STANDBY_DATABASE_URL, then MIXUN_DATABASE_URL)")
    st.add_argument("--replica", help="SQLite: the replica directory")
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_status)
    pr = sp.add_parser("promote", help="promote the standby to primary (PostgreSQL; audited)")
    pr.add_argument("--url")
    pr.add_argument("--host", help="host or host:port of the standby to promote (default: the one in recovery)")
    pr.add_argument("--force", action="store_true", help="promote although the old primary still answers")
    pr.add_argument("--keep-synchronous", action="store_true",
                    help="keep synchronous_standby_names: commits wait until a new standby attaches")
    pr.set_defaults(fn=cmd_promote)
    rp = sp.add_parser("replicate", help="SQLite: replicate continuously to a standby directory")
    rp.add_argument("--to", required=True, help="the replica directory (a local path or a mounted share)")
    rp.add_argument("--sync-interval", default="1s", help="Litestream's sync interval (default 1s)")
    rp.add_argument("--files-interval", type=float, default=2.0, help="seconds between file mirror passes")
    rp.add_argument("--once", action="store_true", help="one pass, then stop (for scripts and tests)")
    rp.add_argument("--quiet", action="store_true")
    rp.set_defaults(fn=cmd_replicate)
    rs = sp.add_parser("restore", help="SQLite: make this data directory from a replica (and serve it)")
    rs.add_argument("source", help="the replica directory")
    rs.add_argument("--serve", action="store_true", help="serve at once after restoring")
    rs.add_argument("--host", default="127.0.0.1")
    rs.add_argument("--port", type=int, default=8300)
    rs.add_argument("--force", action="store_true", help="replace an existing database")
    rs.set_defaults(fn=cmd_restore)
