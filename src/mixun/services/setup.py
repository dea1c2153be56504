"""Initialisation: data dir, master key, schema migrations, the three administrators (三员分立)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mixun.config import Settings
from mixun.db.migrate import upgrade
from mixun.domain.passwords import generate_password
from mixun.keystore import ensure_master_key

ADMINS = (
    ("sysadmin", "系统管理员", "sysadmin"),
    ("secadmin", "安全管理员", "secadmin"),
    ("auditor", "审计管理员", "auditor"),
)
ADMIN_UNIT = "总行/信息科技部/系统管理组"


def _ensure_pg_database(url: str) -> None:
    u = make_url(url)
    if not u.drivername.startswith("postgresql") or not u.database:
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    finally:
        admin.dispose()


def record_restore(ctx: Any) -> bool:
    """After ``mixun restore``: the restore's note (when, from which backup, which period keys came from an
    escrow, which were on this host, which are missing) becomes a record of the restored audit trail, then
    the note goes. True when there was one."""
    from mixun.domain.audit_actions import AuditAction
    from mixun.services import audit
    from mixun.services.restore_note import drop_restore_note, restore_note

    note = restore_note(ctx.rt.settings)
    if note is None:
        return False
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.KEYS_RESTORED, target="backup", **note)
    drop_restore_note(ctx.rt.settings)
    return True


def initialise(settings: Settings, create_admins: bool = True) -> list[tuple[str, str]]:
    """Idempotent. Returns (username, one-time password) for administrators created now."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    ensure_master_key(settings.key_file)
    _ensure_pg_database(settings.database_url)
    upgrade(settings.database_url)
    from mixun.services.audit_checkpoints import mark_authenticated_from

    mark_authenticated_from(settings)  # audit records from here on must carry a MAC (docs/evidence.md)
    if not create_admins:
        return []
    from mixun.db.engine import Database
    from mixun.keystore import keystore_from
    from mixun.services import users
    from mixun.services.runtime import Ctx, Runtime

    # Creating people needs the database and the keys only; not api.app's runtime (the layers point down).
    rt = Runtime(settings=settings, db=Database(settings.database_url, settings.db_lock_timeout_seconds),
                 keys=keystore_from(settings))
    ctx = Ctx(rt=rt, ip="127.0.0.1", client="mixun init")
    created: list[tuple[str, str]] = []
    try:
        for username, name, role in ADMINS:
            with rt.db.read() as s:
                if users.find_user_by_username(s, username) is not None:
                    continue
            password = generate_password()
            users.create_user(ctx, username=username, name=name, unit=ADMIN_UNIT, password=password,
                              position=name, roles=[role], allow_reserved_roles=True)
            created.append((username, password))
        record_restore(ctx)
    finally:
        rt.db.dispose()
    return created
