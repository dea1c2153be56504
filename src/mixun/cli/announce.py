"""`mixun announce --all --title T --body B`: the outage notice (issue 21 item 7) from the server's shell.

It needs only the database and the notification settings, not the web tier: the notice is stored as a
bank-wide announcement (read in 公告 when the service is back) and sent to every recipient at once
through the configured channels (outbox, SMS, e-mail; docs/operations.md), with a progress bar; the
command waits for the gateways before it ends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mixun.config import Settings

_edge: dict[str, Any] = {}


def cmd_announce(args: argparse.Namespace, settings: Settings) -> int:
    from mixun import notify
    from mixun.cli.progress import Bar
    from mixun.errors import MixunError
    from mixun.services import announcements, notifications

    body = args.body
    if args.body_file:
        body = Path(args.body_file).read_text(encoding="utf-8")
    if not body:
        print("error: give --body TEXT or --body-file FILE", file=sys.stderr)
        return 2
    rt = _edge["runtime"](settings)
    try:
        gateway = notify.from_settings(settings.data_dir, settings.extra, seal=notifications.sealer(rt))
    except ValueError as exc:
        print(f"error: notification settings: {exc}", file=sys.stderr)
        return 2
    bar = Bar("发送 sending")
    try:
        out = announcements.outage_notice(_edge["cli_ctx"](rt), args.author, title=args.title, body=body,
                                          must_confirm=args.must_confirm, gateway=gateway, progress=bar)
    except MixunError as exc:
        bar.close()
        print(f"error: {exc.code}: {exc.message_for('en')}", file=sys.stderr)
        return 2
    bar.close()
    delivered = gateway.idle(timeout=args.wait)
    channels = ", ".join(["outbox", *(c.name for c in gateway.channels)])
    print(f"announcement {out['announcement']['id']} published to {out['recipients']} people; "
          f"{out['notified']} notified through {channels} ({out['with_phone']} with a phone number, "
          f"{out['with_email']} with an e-mail address)")
    if not delivered:
        print(f"mixun: some notifications are still being retried after {args.wait:.0f}s; those that fail go to "
              "the dead-letter list (outbox/dead-letters.jsonl)", file=sys.stderr)
        return 1
    return 0


def register(sub: Any, runtime: Any, cli_ctx: Any) -> None:
    _edge.update(runtime=runtime, cli_ctx=cli_ctx)
    p = sub.add_parser("announce", help="send one notice to everyone (works with the web tier down)")
    p.add_argument("--all", action="store_true", required=True, help="to the whole bank (the only scope here)")
    p.add_argument("--title", required=True)
    p.add_argument("--body", default="")
    p.add_argument("--body-file", help="read the text from this UTF-8 file")
    p.add_argument("--must-confirm", action="store_true", help="recipients confirm they have read it")
    p.add_argument("--author", default="sysadmin", help="the system administrator account shown as publisher")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the gateways (default 120)")
    p.set_defaults(fn=cmd_announce)
