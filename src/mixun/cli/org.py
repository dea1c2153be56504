"""`mixun org import FILE [--dry-run]`, `mixun org ldap-sync [--dry-run]`, `mixun user depart`,
`mixun scim token`: HR's data from the shell.

The import is one transaction: a progress bar while it runs, everything or nothing at the end (an error
row or Ctrl-C leaves the database as it was).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mixun.config import Settings

_edge: dict[str, Any] = {}

_LABELS = {"created": "新建", "moved": "调动", "renamed": "更名", "updated": "更新", "verified": "核验",
           "departed": "离职", "unchanged": "未变", "units_created": "新建单位"}


def _describe(row: dict[str, Any]) -> str:
    what = row["action"]
    if what == "created":
        tail = f"{row['username']} -> {row['unit']}"
    elif what == "moved":
        tail = f"{row['from']} -> {row['to']}"
    elif what == "renamed":
        tail = f"{row['from']} -> {row['name']}"
    elif what == "departed":
        tail = row["reason"]
    else:
        tail = ", ".join(row.get("changes", []))
    return f"line {row['line']}: {what} {row['employee_no']} {row['name']} {tail}".rstrip()


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.cli.progress import Bar
    from mixun.services.org_import import ImportFileError, run_import
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = _edge["runtime"](settings)
    bar = Bar("导入 import" if not args.dry_run else "试运行 dry run")
    try:
        out = run_import(_edge["cli_ctx"](rt), Path(args.file), args.dry_run, progress=bar)
    except (ImportFileError, OSError) as exc:
        bar.close()
        print(f"error: {args.file}: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print("mixun: import interrupted; nothing was changed", file=sys.stderr)
        return 130
    bar.close()
    return _report(out, args, "import committed (recorded in the audit trail)")


def _report(out: dict[str, Any], args: argparse.Namespace, committed: str) -> int:
    """The outcome as `mixun org import` prints it (each changed row, then the counts), or as JSON."""
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for row in out["rows"]:
            print(_describe(row))
        for err in out["errors"]:
            print(f"line {err['line']}: error {err['employee_no']} {err['code']}: {err['message']}"
                  + (f" ({err['field']})" if err.get("field") else ""))
        counts = out["counts"]
        print(" ".join(f"{k}={counts[k]}" for k in counts))
    if out["errors"]:
        print(f"mixun: {len(out['errors'])} row(s) in error; nothing was changed", file=sys.stderr)
        return 1
    print("dry run: nothing was changed" if args.dry_run else committed, file=sys.stderr)
    return 0


def cmd_ldap_sync(args: argparse.Namespace, settings: Settings) -> int:
    """The directory (LDAP / Active Directory) applied as HR's import: same engine, same output."""
    from mixun.cli.progress import Bar
    from mixun.services.ldap_sync import LdapSyncError, run_sync
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = _edge["runtime"](settings)
    bar = Bar("LDAP 同步 sync" if not args.dry_run else "LDAP 试运行 dry run")
    try:
        out = run_sync(_edge["cli_ctx"](rt), settings.extra, args.dry_run, progress=bar)
    except LdapSyncError as exc:
        bar.close()
        print(f"error: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print("mixun: LDAP sync interrupted; nothing was changed", file=sys.stderr)
        return 130
    bar.close()
    print(f"entries read: {out['entries']}", file=sys.stderr)
    return _report(out, args, "LDAP sync committed (recorded in the audit trail)")


def cmd_depart(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.errors import MixunError
    from mixun.services import users

    rt = _edge["runtime"](settings)
    try:
        out = users.cli_depart(_edge["cli_ctx"](rt), args.username, args.reason, args.pledged)
    except MixunError as exc:
        print(f"error: {exc.code}: {exc.message_for('en')}", file=sys.stderr)
        return 2
    print(f"{args.username}: departed ({args.reason}); {out['sessions_ended']} session(s) ended, "
          f"left {out['groups_left']} group(s); the history stays in the archive")
    return 0


def cmd_scim_token(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import scim
    from mixun.services.setup import initialise

    initialise(settings, create_admins=False)
    rt = _edge["runtime"](settings)
    token = scim.new_token(_edge["cli_ctx"](rt))
    print(token)
    print("SCIM bearer token shown once; it replaces any earlier one. Give it to the HR system for "
          "/scim/v2/.", file=sys.stderr)
    return 0


def register(sub: Any, user_parser: Any, runtime: Any, cli_ctx: Any) -> None:
    _edge.update(runtime=runtime, cli_ctx=cli_ctx)
    op = sub.add_parser("org", help="HR's organisation data").add_subparsers(dest="org_command", required=True)
    oi = op.add_parser("import", help="make units and people follow HR's list (CSV or JSON; columns: "
                       "docs/organisation.md)")
    oi.add_argument("file")
    oi.add_argument("--dry-run", action="store_true", help="print exactly what would change; change nothing")
    oi.add_argument("--json", action="store_true", help="print the outcome as JSON")
    oi.set_defaults(fn=cmd_import)
    ol = op.add_parser("ldap-sync", help="make units and people follow the LDAP / Active Directory directory "
                       "(MIXUN_LDAP_* settings: docs/organisation.md)")
    ol.add_argument("--dry-run", action="store_true", help="print exactly what would change; change nothing")
    ol.add_argument("--json", action="store_true", help="print the outcome as JSON")
    ol.set_defaults(fn=cmd_ldap_sync)
    from mixun.domain.departures import DEPARTURE_REASONS

    ud = user_parser.add_parser("depart", help="record a departure: sessions end, groups left, history kept")
    ud.add_argument("username")
    ud.add_argument("--reason", required=True, choices=DEPARTURE_REASONS)
    ud.add_argument("--pledged", action="store_true", help="the exit confidentiality pledge was signed")
    ud.set_defaults(fn=cmd_depart)
    sp = sub.add_parser("scim", help="the SCIM 2.0 provisioning endpoint").add_subparsers(
        dest="scim_command", required=True)
    sp.add_parser("token", help="print a new bearer token for /scim/v2/, once").set_defaults(fn=cmd_scim_token)
