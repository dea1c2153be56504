"""What the compliance console's routes read beyond the use cases (archive, export, retention): whether
an export's person or unit exists before a request is filed, an export's record and its download
(audited), and legal holds with the names of their people and conversations. Each call is its own
transaction, so the routes (api/routes/compliance.py) open none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from mixun.db.models import User
from mixun.db.models_archive import ExportRecord
from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.services import archive, audit, retention
from mixun.services.runtime import Ctx
from mixun.storage import units as unit_store
from mixun.storage import users as user_store


def check_export_scope(ctx: Ctx, user: str | None, unit: str | None) -> None:
    """A request is not filed for a person or unit that does not exist (404 naming it)."""
    with ctx.rt.db.read() as s:
        if user and s.execute(select(User.id).where(User.username == user)).first() is None:
            raise MixunError("not_found", (f"没有用户 {user}", f"No user {user}"))
        if unit and unit_store.find_unit_id_by_path(s, unit.strip().rstrip("/")) is None:
            raise MixunError("not_found", (f"没有部门 {unit}", f"No unit {unit}"))


def export_record_id(ctx: Ctx, out: Path) -> int | None:
    """The id of the export record written for the export in ``out``."""
    with ctx.rt.db.read() as s:
        return s.execute(select(ExportRecord.id).where(ExportRecord.path == str(out))).scalar()


def open_download(ctx: Ctx, export_id: int) -> Path:
    """The directory of the caller's own export ``export_id``, its download audited; 404 for anyone
    else's, a missing one, or one whose directory is not under the data directory's exports."""
    with ctx.rt.db.read() as s:
        rec = s.get(ExportRecord, export_id)
    root = Path(ctx.rt.settings.data_dir) / "exports"
    path = Path(rec.path) if rec is not None else None
    if rec is None or rec.actor_id != ctx.user_id or path is None or not path.is_dir() or path.resolve().parent != root.resolve():
        raise MixunError("not_found")
    with ctx.rt.db.write() as s:
        audit.record(s, ctx, AuditAction.ARCHIVE_EXPORT_DOWNLOADED, target=f"export:{export_id}",
                     manifest_sha256=rec.manifest_sha256)
    return path


def holds_with_names(ctx: Ctx, active: bool) -> list[dict[str, Any]]:
    """Each hold (services/retention.py ``list_holds``) with the person's and the conversation's names
    beside their ids."""
    holds = retention.list_holds(ctx, active)
    uids = {h["user_id"] for h in holds if h.get("user_id")}
    cids = {h["conversation_id"] for h in holds if h.get("conversation_id")}
    with ctx.rt.db.read() as s:
        people = user_store.list_names_and_usernames(s, uids)
        titles = archive.conversation_titles(s, cids)
    for h in holds:
        if h.get("user_id") in people:
            h["user_name"], h["username"] = people[h["user_id"]]
        if h.get("conversation_id") in titles:
            h["conversation_title"] = titles[h["conversation_id"]]
    return holds
