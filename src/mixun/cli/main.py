"""`mixun init | serve | demo | user add | dlp scan | audit verify | ...` — administration from the shell.

The CLI acts as the local operator (it can read the master key), calls services only, and records
what it does in the audit trail.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mixun.cli.backup_secret import add_secret_options
from mixun.config import Settings, load_settings
from mixun.services.runtime import Ctx, Runtime


def _runtime(settings: Settings) -> Runtime:
    from mixun.api.app import build_runtime

    return build_runtime(settings)


def _cli_ctx(rt: Runtime) -> Ctx:
    import getpass
    import os

    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return Ctx(rt=rt, ip="127.0.0.1", client=f"mixun-cli ({who})")


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services.setup import initialise

    rt_created = initialise(settings)
    for username, password in rt_created:
        print(f"administrator {username}: one-time password {password}")
    if rt_created:
        print("These passwords are shown once. Each administrator must change it and enrol two-factor "
              "at first login.")
    print(f"Mixun is initialised in {settings.data_dir} ({'SQLite' if settings.is_sqlite else 'PostgreSQL'}).")
    return 0


def _metrics_directory(settings: Settings) -> None:
    """Every process of this server writes its metrics to one directory, so a scrape of any worker adds
    them all up (mixun.metrics). Chosen before prometheus-client is first imported, which fixes its mode;
    an operator's own PROMETHEUS_MULTIPROC_DIR is used (and not emptied) when set."""
    import os
    import shutil

    if "prometheus_client" in sys.modules:  # imported already (an embedding tool): in-memory metrics
        return
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        return
    path = settings.data_dir / "run" / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def _tls_options(args: argparse.Namespace) -> dict[str, Any] | str:
    """uvicorn's TLS options from --tls-cert/--tls-key, or what is wrong with them (checked before the
    server starts, so a typo is a clear message and exit 2, not a traceback)."""
    import ssl
    from pathlib import Path

    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if not cert and not key:
        return {}
    if not cert or not key:
        return "--tls-cert and --tls-key go together"
    for name, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not Path(path).is_file():
            return f"{name} {path}: no such file"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        return f"the certificate and key cannot be used together: {exc}"
    # TLS 1.2 at least (uvicorn's default context allows what OpenSSL allows; Debian's is 1.2 as well).
    return {"ssl_certfile": cert, "ssl_keyfile": key, "ssl_version": ssl.PROTOCOL_TLS_SERVER,
            "ssl_ciphers": "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS"}


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    tls = _tls_options(args)
    if isinstance(tls, str):
        print(f"mixun: {tls}", file=sys.stderr)
        return 2
    _metrics_directory(settings)
    import uvicorn

    from mixun.api.app import create_app
    from mixun.api.wsproto import LeanWebSocketProtocol
    from mixun.services.setup import initialise

    if args.workers < 1:
        print("mixun: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.bus_url.startswith("redis"):
        print("mixun: --workers above 1 needs MIXUN_BUS_URL=redis://…: the processes share events, presence "
              "and send-rate limits through Redis", file=sys.stderr)
        return 2
    initialise(settings, create_admins=False)
    options: dict[str, Any] = dict(
        host=args.host, port=args.port, log_level=args.log_level, loop="uvloop", http="httptools",
        ws=LeanWebSocketProtocol, ws_ping_interval=20, ws_ping_timeout=20,
        ws_per_message_deflate=False,  # ~100 KB per connection for little gain on short JSON frames
        ws_max_size=1_048_576, proxy_headers=False, server_header=False, access_log=False, **tls)
    if args.workers > 1:
        # Several processes accept on one socket; each builds its app from the same MIXUN_* environment
        # and they share the database and the bus (as two `mixun serve` on one database do).
        uvicorn.run("mixun.api.app:app_from_environment", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings, serving=True), **options)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services.demo import load_demo
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = _runtime(settings)
    summary = load_demo(_cli_ctx(rt))
    print(summary)
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.errors import MixunError
    from mixun.services import users
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = _runtime(settings)
    try:
        with rt.db.read() as s:
            new_unit = not users.unit_exists(s, args.unit)
        user = users.create_user(_cli_ctx(rt), username=args.username, name=args.name, unit=args.unit,
                                 password=args.password, phone=args.phone, position=args.position or "",
                                 roles=args.role or ["employee"], employee_no=args.employee_no,
                                 allow_reserved_roles=True)
    except MixunError as exc:
        print(f"error: {exc.code}: {exc.message_for('en')} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 2
    if new_unit:  # INTERFACE.md: `user add` creates a missing unit; say so, the console would have refused
        print(f"created unit {args.unit.strip().strip('/')} (it did not exist)")
    print(f"created user {user.username} (id {user.id}); the password must be changed at first login")
    return 0


def _account_state(disabled: bool, departed: bool) -> str:
    if departed:
        return "departed (disabled; `mixun user enable --reason ...` reinstates)"
    return "DISABLED (`mixun user enable` re-enables it)" if disabled else "active"


def cmd_user_reset(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.errors import MixunError
    from mixun.services import users

    rt = _runtime(settings)
    try:
        out = users.cli_reset_password(_cli_ctx(rt), args.username)
    except MixunError:
        print(f"error: no user {args.username}", file=sys.stderr)
        return 2
    print(f"{out['username']}: one-time password {out['password']}")
    print(f"account is {_account_state(out['disabled'], out['departed'])}")
    return 0


def cmd_user_enable(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.errors import MixunError
    from mixun.services import users

    rt = _runtime(settings)
    try:
        out = users.cli_enable(_cli_ctx(rt), args.username, args.reason)
    except MixunError as exc:
        if exc.code == "not_found":
            print(f"error: no user {args.username}", file=sys.stderr)
        else:
            print(f"error: {exc.code}: {exc.message_for('en')} (give --reason to reinstate a departed person)",
                  file=sys.stderr)
        return 2
    if out["departed"]:
        print(f"{out['username']}: reinstated after departure and enabled (recorded in the audit trail, actor cli)")
    elif out["disabled"]:
        print(f"{out['username']}: enabled (recorded in the audit trail, actor cli)")
    else:
        print(f"{out['username']}: was already enabled; any lockout cleared")
    return 0


def cmd_review_accounts(args: argparse.Namespace, settings: Settings) -> int:
    """The account review now (for cron, besides the server's daily run): counts, and the findings as
    CSV when asked."""
    from pathlib import Path

    from mixun.services import account_review

    rt = _runtime(settings)
    ctx = _cli_ctx(rt)
    out = account_review.run(rt, ctx, "manual")
    print(f"review {out['id']}: " + ", ".join(f"{k} {v}" for k, v in out["counts"].items()))
    if args.csv:
        ctx.locale = settings.locale
        Path(args.csv).write_text("\ufeff" + account_review.review_csv(ctx, out["id"]), encoding="utf-8")
        print(f"findings written to {args.csv}")
    return 0


def cmd_dlp_scan(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.cli.dlp import scan_command

    engine = policy = None
    if settings.database_url.startswith("sqlite") and not settings.key_file.exists():
        pass  # not initialised here: scan with the built-in defaults
    else:
        try:
            from mixun.services import dlp

            st = dlp.service(_cli_ctx(_runtime(settings))).state()
            engine, policy = st.engine, st.policy
        except Exception:  # noqa: BLE001 - an unreachable database still lets the scanner run on defaults
            engine = policy = None
    return scan_command(args.file, sys.stdout, engine=engine, policy=policy)


def cmd_dlp_policy(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from mixun.errors import MixunError
    from mixun.services import dlp

    ctx = _cli_ctx(_runtime(settings))
    try:
        if args.policy_command == "set":
            with open(args.file, encoding="utf-8") as fh:
                body = json.load(fh)
            dlp.set_policy(ctx, body.get("policy", body), args.note or f"set from {args.file} by the CLI")
        elif args.policy_command == "reset":
            dlp.reset_policy(ctx)
    except (MixunError, OSError, ValueError) as exc:
        print(f"error: {exc.message_for('en') if isinstance(exc, MixunError) else exc}", file=sys.stderr)
        return 2
    print(json.dumps(dlp.get_policy(ctx), ensure_ascii=False, indent=2))
    return 0


def cmd_dlp_lexicon(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.errors import MixunError
    from mixun.services import dlp

    ctx = _cli_ctx(_runtime(settings))
    terms = list(args.terms)
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            terms += [line.strip() for line in fh if line.strip()]
    try:
        fn = dlp.add_terms if args.lexicon_command == "add" else dlp.remove_terms
        print(fn(ctx, args.category, terms))
    except MixunError as exc:
        print(f"error: {exc.code}: {exc.message_for('en')}", file=sys.stderr)
        return 2
    return 0


def _backup_secret(args: argparse.Namespace) -> tuple[Any, Any]:
    from mixun.cli.backup_secret import backup_secret

    return backup_secret(args)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from mixun.cli.progress import Bar
    from mixun.services.backup import backup
    from mixun.services.backup_crypto import BackupKeyError, key_from_file, key_from_passphrase

    passphrase, key_file = _backup_secret(args)
    try:
        if passphrase is not None:
            key, created, how = key_from_passphrase(passphrase), False, "the passphrase"
        else:
            key, created = key_from_file(key_file, create=True)
            how = f"the key file {key_file} (key {key.kdf['key_id']})"
    except (BackupKeyError, OSError) as exc:
        print(f"mixun: {exc}", file=sys.stderr)
        return 2
    if created:
        print(f"created the backup key {key_file} (mode 0600). Keep a copy of it apart from the backups "
              "and the server: without it no backup can be restored.", file=sys.stderr)
    bar = Bar("备份 backup")
    try:
        manifest = backup(settings, Path(args.out), key, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print("mixun: backup interrupted; nothing was written", file=sys.stderr)
        return 130
    bar.close()
    print(f"backup written to {args.out}: {len(manifest['files'])} files ({manifest['database']}), "
          f"encrypted (AES-256-GCM) under {how}")
    if manifest["period_keys"]["needed"]:
        from mixun.keystore import keystore_from

        where = keystore_from(settings).data_keys.periods.dir
        print(f"mixun: 期间密钥不在备份中（保留期销毁须能触及备份），保存在本机 {where}：在本机恢复可读全部消息；"
              "在另一台主机恢复（灾难恢复）请另行保管 `mixun keys export-periods` 的托管文件，仅保留最新的几份 "
              f"(the period keys are not in the backup, so that retention's destruction reaches it; they stay on "
              f"this host in {where}, so a restore on this host reads every message; for a restore on another "
              "host keep the escrow `mixun keys export-periods` writes, only the latest few, and restore with "
              "--periods)", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    import subprocess
    import tarfile
    from pathlib import Path

    from mixun.cli.progress import Bar
    from mixun.services.backup import restore
    from mixun.services.backup_crypto import BackupFormatError, BackupKeyError, is_encrypted

    passphrase, key_file = _backup_secret(args)
    bar = Bar("解密 decrypting")
    try:
        if not is_encrypted(Path(args.file)):
            print("mixun: warning: this backup is not encrypted (made before backups were); restoring it",
                  file=sys.stderr)
        manifest = restore(settings, Path(args.file), key_file=key_file, passphrase=passphrase, progress=bar,
                           periods=Path(args.periods) if args.periods else None)
    except BackupKeyError as exc:
        print(f"error: {exc}; nothing was restored", file=sys.stderr)
        return 2
    except BackupFormatError as exc:
        print(f"error: the backup is corrupt: {exc}; nothing was restored", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, subprocess.CalledProcessError, tarfile.TarError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    print(f"restored {len(manifest['files'])} files into {settings.data_dir}; run `mixun init` to migrate")
    if manifest["periods_missing"]:
        months = ", ".join(str(p) for p in manifest["periods_missing"])
        print(f"mixun: 以下月份的期间密钥不在本机也未从托管文件恢复，其消息将显示为已销毁：{months}（已按保留期限销毁，"
              f"或在另一台主机恢复而托管文件中没有；可稍后用 mixun keys import-periods 导入）(period keys neither on "
              f"this host nor restored from an escrow, their months' messages read as destroyed: {months} - "
              "destroyed by retention, or a restore on another host without them in the escrow; import one later "
              "with mixun keys import-periods)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mixun", description="Mixun (密讯) intranet messaging for banks")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the schema, the master key and the administrators"
                   ).set_defaults(fn=cmd_init)
    sp = sub.add_parser("serve", help="serve the API, the WebSocket and the web client")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8300)
    sp.add_argument("--log-level", default="warning")
    sp.add_argument("--workers", type=int, default=1,
                    help="server processes sharing the port (above 1 needs MIXUN_BUS_URL=redis://…); one per core")
    sp.add_argument("--tls-cert", help="serve HTTPS (and WSS) with this PEM certificate (chain)")
    sp.add_argument("--tls-key", help="the certificate's PEM private key")
    sp.set_defaults(fn=cmd_serve)
    sub.add_parser("demo", help="load the demo bank (idempotent)").set_defaults(fn=cmd_demo)
    up = sub.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", required=True)
    ua = up.add_parser("add", help="create an active account")
    ua.add_argument("--username", required=True)
    ua.add_argument("--name", required=True)
    ua.add_argument("--unit", required=True, help="unit path such as 总行/信息技术部")
    ua.add_argument("--password", required=True)
    ua.add_argument("--phone")
    ua.add_argument("--position")
    ua.add_argument("--employee-no")
    ua.add_argument("--role", action="append")
    ua.set_defaults(fn=cmd_user_add)
    ur = up.add_parser("reset-password", help="issue a new one-time password")
    ur.add_argument("username")
    ur.set_defaults(fn=cmd_user_reset)
    ue = up.add_parser("enable", help="re-enable a disabled account (audited, actor cli)")
    ue.add_argument("username")
    ue.add_argument("--reason", help="required to reinstate a departed person")
    ue.set_defaults(fn=cmd_user_enable)
    from mixun.cli import org as org_cli

    org_cli.register(sub, up, runtime=_runtime, cli_ctx=_cli_ctx)  # org import, user depart, scim token
    from mixun.cli import announce as announce_cli

    announce_cli.register(sub, runtime=_runtime, cli_ctx=_cli_ctx)  # the outage notice
    dp = sub.add_parser("dlp", help="data-loss prevention").add_subparsers(dest="dlp_command", required=True)
    ds = dp.add_parser("scan", help="scan a text or document file (stdin when omitted)")
    ds.add_argument("file", nargs="?")
    ds.set_defaults(fn=cmd_dlp_scan)
    dpol = dp.add_parser("policy", help="show, set or reset the DLP policy (recorded in the audit trail)")
    dpol_sub = dpol.add_subparsers(dest="policy_command", required=True)
    dpol_sub.add_parser("show").set_defaults(fn=cmd_dlp_policy)
    dps = dpol_sub.add_parser("set", help="set the policy from a JSON file")
    dps.add_argument("file")
    dps.add_argument("--note")
    dps.set_defaults(fn=cmd_dlp_policy)
    dpol_sub.add_parser("reset", help="back to the built-in defaults").set_defaults(fn=cmd_dlp_policy)
    dlex = dp.add_parser("lexicon", help="add or remove prohibited-lexicon terms")
    dlex_sub = dlex.add_subparsers(dest="lexicon_command", required=True)
    for name in ("add", "remove"):
        lx = dlex_sub.add_parser(name)
        lx.add_argument("category", help="illegal, obscene, violent, gambling, drugs, fraud or advertising")
        lx.add_argument("terms", nargs="*")
        lx.add_argument("--file", help="one term per line")
        lx.set_defaults(fn=cmd_dlp_lexicon)
    ap = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    from mixun.cli.archive import add_commands

    add_commands(sub, ap)  # export, export verify, retention run, audit verify (with signed checkpoints)
    rvp = sub.add_parser("review", help="reviews").add_subparsers(dest="review_command", required=True)
    rva = rvp.add_parser("accounts", help="run the account review now (dormant, expired, no two-factor, ...)")
    rva.add_argument("--csv", metavar="FILE", help="also write the findings as CSV")
    rva.set_defaults(fn=cmd_review_accounts)
    bp = sub.add_parser("backup", help="online consistent, encrypted backup of database, files and keys")
    bp.add_argument("--out", required=True)
    rp = sub.add_parser("restore", help="restore a backup into an empty data dir")
    rp.add_argument("file")
    rp.add_argument("--periods", metavar="ESCROW", help="the period keys' escrow (mixun keys export-periods), "
                    "opened with the same key file or passphrase; without it message texts read as destroyed")
    for parser in (bp, rp):
        add_secret_options(parser, "backup")
    bp.set_defaults(fn=cmd_backup)
    rp.set_defaults(fn=cmd_restore)
    _register_more(sub)
    return p


def cmd_report_inspection(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date
    from pathlib import Path

    from mixun.cli.progress import Bar
    from mixun.errors import MixunError
    from mixun.services import inspection

    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("html", "pdf"):
        print("mixun: --out must end in .html or .pdf", file=sys.stderr)
        return 2
    try:
        start, end = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    except ValueError:
        print("mixun: --from and --to are dates such as 2026-11-01", file=sys.stderr)
        return 2
    rt = _runtime(settings)
    bar = Bar("巡检 inspection")
    try:
        body = inspection.build(_cli_ctx(rt), start, end, fmt, progress=bar)
    except MixunError as exc:
        bar.close()
        print(f"error: {exc.code}: {exc.message_for('en')} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 2
    bar.close()
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(out)
    print(f"inspection report {start}..{end} written to {out} ({len(body)} bytes)")
    return 0


def _register_more(sub: Any) -> None:
    """Command groups that live in modules of their own."""
    from mixun.cli import keys, standby

    standby.register(sub, runtime=_runtime, cli_ctx=_cli_ctx, serve=cmd_serve)
    keys.register(sub, runtime=_runtime, cli_ctx=_cli_ctx)
    rp = sub.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    ri = rp.add_parser("inspection", help="the security inspection report (HTML or PDF, with charts)")
    ri.add_argument("--from", dest="date_from", required=True, help="first day, e.g. 2026-11-01")
    ri.add_argument("--to", dest="date_to", required=True, help="last day (inclusive)")
    ri.add_argument("--out", required=True, help="FILE ending in .html or .pdf")
    ri.set_defaults(fn=cmd_report_inspection)


def main(argv: Sequence[str] | None = None) -> int:
    from mixun import logs

    logs.configure()
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValueError as exc:  # a malformed MIXUN_* value: say which, no traceback
        print(f"mixun: configuration error: {exc}", file=sys.stderr)
        return 2
    return int(args.fn(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
