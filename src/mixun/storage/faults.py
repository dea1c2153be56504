"""Fault reports and their replies (services/faults.py decides who sees and works them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mixun.db.engine import affected
from mixun.db.models_ops import FaultReply, FaultReport


def find_report(s: Session, report_id: int, *, lock: bool = False) -> FaultReport | None:
    stmt = select(FaultReport).where(FaultReport.id == report_id)
    if lock:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def list_by_reporter(s: Session, reporter_id: int, limit: int) -> list[FaultReport]:
    """``reporter_id``'s reports, newest first."""
    return list(s.execute(select(FaultReport).where(FaultReport.reporter_id == reporter_id)
                          .order_by(FaultReport.id.desc()).limit(limit)).scalars())


def list_replies(s: Session, report_id: int) -> list[FaultReply]:
    """A report's replies, oldest first."""
    return list(s.execute(select(FaultReply).where(FaultReply.report_id == report_id)
                          .order_by(FaultReply.id)).scalars())


def list_reports(s: Session, status: str, now: datetime, limit: int, offset: int) -> list[FaultReport]:
    """``status`` active (not resolved, the nearest deadline first), overdue (not resolved, past its
    deadline at ``now``), resolved (the latest resolution first); anything else: all, newest first."""
    stmt = select(FaultReport)
    if status == "active":
        stmt = stmt.where(FaultReport.status != "resolved").order_by(FaultReport.due_at, FaultReport.id)
    elif status == "overdue":
        stmt = stmt.where(FaultReport.status != "resolved", FaultReport.due_at < now).order_by(FaultReport.due_at)
    elif status == "resolved":
        stmt = stmt.where(FaultReport.status == "resolved").order_by(FaultReport.resolved_at.desc())
    else:
        stmt = stmt.order_by(FaultReport.id.desc())
    return list(s.execute(stmt.limit(limit).offset(offset)).scalars())


def count_reports(s: Session, now: datetime) -> dict[str, int]:
    """How many are active (not resolved), overdue at ``now`` and resolved (three statements)."""
    active = FaultReport.status != "resolved"
    return {
        "active": s.execute(select(func.count()).where(active)).scalar_one(),
        "overdue": s.execute(select(func.count()).where(active, FaultReport.due_at < now)).scalar_one(),
        "resolved": s.execute(select(func.count()).where(FaultReport.status == "resolved")).scalar_one(),
    }


def list_overdue_unescalated(s: Session, now: datetime, limit: int) -> list[Any]:
    """(id, reporter id, title) of reports unresolved past their deadline and not escalated yet."""
    return list(s.execute(select(FaultReport.id, FaultReport.reporter_id, FaultReport.title).where(
        FaultReport.status != "resolved", FaultReport.due_at < now, FaultReport.escalated_at.is_(None))
        .limit(limit)).all())


def update_escalated(s: Session, report_id: int, now: datetime) -> bool:
    """Mark the report escalated at ``now`` unless it already is; True when this call did (a conditional
    update: one process claims it)."""
    return affected(s.execute(update(FaultReport).where(FaultReport.id == report_id,
                                                        FaultReport.escalated_at.is_(None))
                              .values(escalated_at=now))) != 0
