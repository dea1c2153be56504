"""`mixun keys status | rotate | encrypt-existing | destroy` — the key-encryption keys (docs/keys.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mixun.cli.backup_secret import add_secret_options
from mixun.cli.progress import interruptible
from mixun.config import Settings
from mixun.errors import MixunError


class _Edge:
    runtime: Any = None
    cli_ctx: Any = None


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import keys

    st = keys.status(_Edge.runtime(settings))
    if args.json:
        print(json.dumps(st, ensure_ascii=False, indent=2))
        return 0
    print(f"新数据密钥的算法 cipher of new data keys: {st['cipher']}")
    for v in st["versions"]:
        state = "当前 current" if v["current"] else ("已退役 retired" if v["present"] else "缺失 MISSING")
        what = "，".join(f"{st['labels'][k]} {n}" for k, n in v["protects"].items()) or "—"
        where = "HSM (PKCS#11)" if v["where"] == "hsm" else "文件 file"
        print(f"密钥版本 KEK v{v['version']}  {state}  {where}  保护 protects {v['total']}: {what}")
    if st["unreadable"]:
        print(f"无法识别的密文 unrecognised ciphertexts: {st['unreadable']}")
    places = {"file": f"文件 file ({st['period_keys_dir']}, 本机、不在备份中 on this host, not in backups)",
              "hsm": "HSM (PKCS#11)", "ring": "密钥环数据库 ring database (period_keys)"}
    print(f"期间密钥 period keys (新建于 made in: {places[st['period_keys_where']]})")
    if st["period_keys_fallback"]:
        print(f"WARNING: 本机期间密钥目录不可用，期间密钥保存在密钥目录中，备份将包含它们；请设置 MIXUN_PERIOD_KEYS_DIR "
              f"(the host's period key directory is not usable - {st['period_keys_fallback']} - so period keys are "
              "kept in the key directory and backups hold them; set MIXUN_PERIOD_KEYS_DIR)")
    states = {"present": "在用 present", "destroyed": "已销毁 destroyed", "missing": "缺失 MISSING"}
    print("  月份 month  保留组 retention group")
    for p in st["periods"]:
        place = f"  {places[p['where']].split(' (')[0]}" if p["where"] else ""
        extra = f"，仅由KEK封装 KEK only {p['legacy']}" if p["legacy"] else ""
        when = f"  {p['destroyed_at'][:19]}" if p["destroyed_at"] else ""
        tag = f" [{p['group']}]" if p["group"] else ""
        print(f"  {p['period']}  {p['group_label']}{tag}  {states[p['state']]}{place}  保护会话数据密钥 protects "
              f"{p['protects']} conversation data keys{extra}{when}")
    if any(p["legacy"] for p in st["periods"]):
        print("  旧的会话数据密钥仅由KEK封装：运行 mixun keys rotate 以期间密钥封装 (conversation keys from before "
              "period keys are under the KEK alone: mixun keys rotate wraps them under their period keys)")
    for p in st["periods"]:
        if p.get("stray_file"):
            print(f"  警告：keys/periods/period-{p['label']}.key 不应存在（期间密钥由HSM保存，此文件不会被使用，请核查来源）"
                  f"(WARNING: a period key file for {p['label']} that the HSM mode never uses: check who put it there)")
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import keys

    rt = _Edge.runtime(settings)
    out = interruptible("重新封装数据密钥 rewrapping data keys",
                        lambda bar, should_stop: keys.rotate(_Edge.cli_ctx(rt), progress=bar, should_stop=should_stop),
                        quiet=args.quiet)
    print(f"新密钥版本 new KEK v{out['version']} ({out['cipher']}), 上一版本 previous v{out['previous']}: "
          f"已重新封装 rewrapped {out['rewrapped']}, 期间已变更 changed meanwhile {out['changed_meanwhile']}, "
          f"剩余 left {out['left']}")
    if out["interrupted"] or out["left"]:
        print("mixun: 轮换未完成：所有数据仍可读取；再次运行 mixun keys rotate 以完成 (rotation not finished: "
              "everything is still readable; run mixun keys rotate again)", file=sys.stderr)
        return 3
    print(f"旧版本不再保护任何数据后，可用 mixun keys destroy {out['previous']} 销毁（master.key 除外） "
          f"(retired versions can be destroyed once they wrap nothing, except master.key)")
    return 0


def cmd_encrypt_existing(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import keys

    rt = _Edge.runtime(settings)
    out = interruptible("加密已有的消息文本 sealing existing message texts",
                        lambda bar, should_stop: keys.encrypt_existing(_Edge.cli_ctx(rt), progress=bar,
                                                                       should_stop=should_stop),
                        quiet=args.quiet)
    print(f"已加密 sealed {out['sealed']}, 期间已变更 changed meanwhile {out['changed_meanwhile']}, "
          f"剩余明文 plain left {out['left']}")
    if out["interrupted"] or out["left"]:
        print("mixun: 尚未全部加密：所有消息仍可读取；再次运行 mixun keys encrypt-existing 以完成 (not finished: "
              "everything is still readable; run mixun keys encrypt-existing again)", file=sys.stderr)
        return 3
    return 0


def cmd_destroy(args: argparse.Namespace, settings: Settings) -> int:
    from mixun.services import keys

    rt = _Edge.runtime(settings)
    try:
        keys.destroy(_Edge.cli_ctx(rt), args.version)
    except MixunError as exc:
        print(f"mixun: {exc.message_for('zh-CN')} ({exc.message_for('en')})", file=sys.stderr)
        return 2
    print(f"密钥版本 v{args.version} 已销毁 (KEK v{args.version} destroyed)")
    return 0


def _escrow_key(args: argparse.Namespace, create: bool) -> Any:
    from pathlib import Path

    from mixun.cli.backup_secret import backup_secret
    from mixun.services.backup_crypto import key_from_file, key_from_passphrase

    passphrase, key_file = backup_secret(args)
    if passphrase is not None:
        return key_from_passphrase(passphrase), None, passphrase
    key = key_from_file(Path(key_file), create=create)[0] if create else None
    return key, Path(key_file), None


def cmd_export_periods(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from mixun.keystore import KeyMissing
    from mixun.services import keys
    from mixun.services.backup_crypto import BackupKeyError

    rt = _Edge.runtime(settings)
    try:
        key, _file, _pw = _escrow_key(args, create=True)
        out = keys.export_periods(_Edge.cli_ctx(rt), Path(args.out), key)
    except (BackupKeyError, KeyMissing, ValueError, OSError) as exc:
        print(f"mixun: {exc}", file=sys.stderr)
        return 2
    months = ", ".join(str(p) for p in out["periods"]) or "—"
    print(f"期间密钥托管文件已写入 period keys' escrow written to {args.out}: {months}")
    if out["in_hsm"]:
        print(f"HSM 中的期间密钥不可导出（依靠 HSM 自身的复制与备份）period keys in the HSM cannot leave it "
              f"(the HSM's own replication keeps them): {', '.join(str(p) for p in out['in_hsm'])}")
    print("mixun: 托管文件只保留最新的几份：较早的托管文件仍含已销毁的期间密钥 (keep only the latest escrows: "
          "an older one still holds the period keys destroyed since)", file=sys.stderr)
    return 0


def cmd_import_periods(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from mixun.services import keys
    from mixun.services.backup_crypto import BackupFormatError, BackupKeyError

    rt = _Edge.runtime(settings)
    try:
        _key, key_file, passphrase = _escrow_key(args, create=False)
        out = keys.import_periods(_Edge.cli_ctx(rt), Path(args.file), key_file=key_file, passphrase=passphrase)
    except (BackupKeyError, BackupFormatError, ValueError, OSError) as exc:
        print(f"mixun: {exc}", file=sys.stderr)
        return 2
    print(f"已导入 loaded {out['loaded']}, 已存在 already present {out['already_present']}, "
          f"已销毁不导入 destroyed, not loaded {out['destroyed_not_loaded']}")
    return 0


def register(sub: Any, runtime: Any, cli_ctx: Any) -> None:
    _Edge.runtime, _Edge.cli_ctx = runtime, cli_ctx
    p = sub.add_parser("keys", help="key-encryption keys: status, rotate, destroy a retired one")
    ks = p.add_subparsers(dest="keys_cmd", required=True)
    st = ks.add_parser("status", help="key versions and what each protects")
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_status)
    ro = ks.add_parser("rotate", help="a new key-encryption key; every data key rewrapped online")
    ro.add_argument("--quiet", action="store_true", help="no progress bar")
    ro.set_defaults(fn=cmd_rotate)
    en = ks.add_parser("encrypt-existing", help="seal message texts written before text encryption (resumable)")
    en.add_argument("--quiet", action="store_true", help="no progress bar")
    en.set_defaults(fn=cmd_encrypt_existing)
    de = ks.add_parser("destroy", help="destroy a retired key-encryption key that wraps nothing")
    de.add_argument("version", type=int)
    de.set_defaults(fn=cmd_destroy)
    ex = ks.add_parser("export-periods", help="write the period keys' escrow for disaster recovery (encrypted)")
    ex.add_argument("--out", required=True)
    im = ks.add_parser("import-periods", help="put period keys back from an escrow (not destroyed months)")
    im.add_argument("file")
    for parser in (ex, im):
        add_secret_options(parser, "export-periods")
    ex.set_defaults(fn=cmd_export_periods)
    im.set_defaults(fn=cmd_import_periods)
