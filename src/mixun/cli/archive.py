"""`mixun export`, `mixun export verify DIR`, `mixun retention run` and `mixun audit verify` (with the
signed checkpoints): the compliance archive from the shell. ``add_commands`` registers them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from mixun.config import Settings
from mixun.services.runtime import Ctx


def _ctx(settings: Settings) -> Ctx:
    import getpass
    import os

    from mixun.api.app import build_runtime

    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return Ctx(rt=build_runtime(settings), ip="127.0.0.1", client=f"mixun-cli ({who})")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import audit_checkpoints

    report = audit_checkpoints.verify(_ctx(settings))
    if report.ok:
        extra = f", anchored at signed checkpoint {report.anchored_at}" if report.anchored_at else ""
        head = "signed head matches" if report.head_checked else "no signed head yet"
        if report.mirror_id is not None:
            head += f", mirrored head {report.mirror_id} matches"
        print(f"audit trail intact: {report.count} records, last id {report.last_id}, "
              f"head {report.last_hash[:16]} ({head}{extra})")
        return 0
    print(f"audit trail BROKEN at record {report.first_bad_id}: {report.reason} "
          f"({report.count} records verified before it)")
    return 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.cli.progress import Bar
    from mixun.errors import MixunError
    from mixun.services import export

    if getattr(args, "export_command", None) == "verify":
        return cmd_export_verify(args, settings)
    if getattr(args, "export_command", None) == "public-key":
        return cmd_export_public_key(args, settings)
    if not args.out:
        print("error: --out DIR is required", file=sys.stderr)
        return 2
    f = export.Filters(user=args.user, conversation_id=args.conversation, since=_time(args.since),
                       until=_time(args.until))
    formats = tuple(args.format.split(",")) if args.format else export.ALL_FORMATS
    bar = Bar("导出 exporting versions", stream=sys.stderr)
    try:
        manifest = export.export(_ctx(settings), Path(args.out), f, formats, reason=args.reason or "cli export",
                                 include_originals=bool(getattr(args, "include_originals", False)), progress=bar)
    except KeyboardInterrupt:  # the partial directory is already gone: nothing half-written stays
        bar.close()
        print("mixun: 已中止，未留下部分导出 (interrupted: no partial export was left)", file=sys.stderr)
        return 130
    except MixunError as exc:
        bar.close()
        print(f"error: {exc.code}: {exc.message_for('en')}", file=sys.stderr)
        return 2
    bar.close()
    c = manifest["counts"]
    print(f"exported {c['versions']} versions of {c['messages']} messages in {c['conversations']} conversations, "
          f"{c['attachments']} attachments, {c['eml_files']} EML files to {args.out} (signed manifest)")
    return 0


def cmd_export_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 only when the manifest's signature holds under a trusted public key (``--public-key FILE``,
    else the server's own) and every file matches it; otherwise one ``BAD`` line per problem, exit 1."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from mixun.services import export

    public: Ed25519PublicKey | None
    if getattr(args, "public_key", None):
        try:
            public = export.load_public_key(Path(args.public_key).read_bytes())
        except (OSError, ValueError) as exc:
            print(f"error: --public-key {args.public_key}: {exc}", file=sys.stderr)
            return 2
    else:
        key = export.load_signing_key(settings)
        public = key.public_key() if key is not None else None
    result = export.verify_export(Path(args.dir), public)
    if result.ok:
        print(f"export intact: {result.checked} files match manifest.json, signed by {export.fingerprint(public)}"
              if public is not None else f"export intact: {result.checked} files match manifest.json")
        return 0
    for p in result.problems:
        print(f"BAD {p}")
    return 1


def cmd_export_public_key(args: argparse.Namespace, settings: Settings) -> int:
    """Print the server's export-signing public key (PEM), creating the key pair on first use (audited)."""
    from mixun.services import export

    key = export.signing_key(_ctx(settings))
    sys.stdout.write(export.public_key_pem(key.public_key()).decode())
    print(f"# fingerprint {export.fingerprint(key.public_key())}", file=sys.stderr)
    return 0


def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.cli.progress import Bar
    from mixun.services import retention

    bar = Bar("保留期限 retention (messages looked at)", stream=sys.stderr)
    try:
        result = retention.run(_ctx(settings), dry_run=args.dry_run, progress=bar)
    except KeyboardInterrupt:  # one transaction: rolled back, nothing destroyed
        bar.close()
        print("mixun: 已中止，未销毁任何内容 (interrupted: nothing was destroyed)", file=sys.stderr)
        return 130
    bar.close()
    print(("would destroy: " if args.dry_run else "destroyed: ") +
          ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    return 0


def add_commands(sub: argparse._SubParsersAction, audit_parser: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the archive commands on the root sub-parsers and ``mixun audit``'s sub-parsers."""
    ex = sub.add_parser("export", help="export the archive (or `export verify DIR`)")
    ex.add_argument("--out", help="an empty or new directory")
    ex.add_argument("--user", help="username: everything in every conversation they took part in")
    ex.add_argument("--conversation", type=int)
    ex.add_argument("--since", help="ISO 8601 time (UTC when no offset)")
    ex.add_argument("--until")
    ex.add_argument("--format", help="comma-separated subset of jsonl,csv,eml,attachments (default all)")
    ex.add_argument("--reason", help="recorded in the audit trail")
    ex.add_argument("--include-originals", action="store_true",
                    help="also write the unmasked original of each DLP-masked message (audited)")
    ex.set_defaults(fn=cmd_export)
    exs = ex.add_subparsers(dest="export_command")
    ev = exs.add_parser("verify", help="re-check an export against its manifest")
    ev.add_argument("dir")
    ev.add_argument("--public-key", help="PEM file from `mixun export public-key` (default: this server's key)")
    ev.set_defaults(fn=cmd_export_verify)
    exs.add_parser("public-key", help="print the public key exports are signed with (PEM)"
                   ).set_defaults(fn=cmd_export_public_key)
    rp = sub.add_parser("retention", help="retention and destruction").add_subparsers(dest="retention_command",
                                                                                     required=True)
    rr = rp.add_parser("run", help="destroy what expired (legal holds excepted) and record it")
    rr.add_argument("--dry-run", action="store_true")
    rr.set_defaults(fn=cmd_retention_run)
    audit_parser.add_parser("verify", help="check the hash chain and the signed checkpoints end to end"
                            ).set_defaults(fn=cmd_audit_verify)
