"""Account applications (an employee's account asked for, approved step by step, then allocated)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import AccountApplication
from mixun.errors import MixunError


def get_application(s: Session, application_id: int, *, lock: bool = False) -> AccountApplication:
    app = s.get(AccountApplication, application_id, with_for_update=lock)
    if app is None:
        raise MixunError("not_found")
    return app


def find_open_id_by_employee_no(s: Session, employee_no: str, statuses: Sequence[str]) -> int | None:
    """An application for ``employee_no`` still in one of ``statuses``, if any."""
    return s.execute(select(AccountApplication.id).where(AccountApplication.employee_no == employee_no,
                                                         AccountApplication.status.in_(statuses))).scalar()


def list_applications(s: Session, *, statuses: Sequence[str] | None = None, applicant_id: int | None = None,
                      limit: int | None = None, offset: int = 0) -> list[AccountApplication]:
    """Newest first: all of them, or those in ``statuses`` / filed by ``applicant_id``; ``limit`` from
    ``offset``."""
    stmt = select(AccountApplication).order_by(AccountApplication.id.desc())
    if statuses is not None:
        stmt = stmt.where(AccountApplication.status.in_(statuses))
    if applicant_id is not None:
        stmt = stmt.where(AccountApplication.applicant_id == applicant_id)
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    return list(s.execute(stmt).scalars())
