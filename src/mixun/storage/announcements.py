"""Announcements: the announcement, its units, its files and one receipt per recipient (read, confirmed,
reminded). Who may publish or manage one, and what a view shows, is ``services/announcements.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from mixun.db.models import Unit, User
from mixun.db.models_people import Announcement, AnnouncementFile, AnnouncementReceipt, AnnouncementUnit
from mixun.errors import MixunError

# Receipts a status filter keeps (``list_receipt_people``).
RECEIPT_STATUSES = ("unread", "unconfirmed", "read", "all")


def _live(now: datetime) -> Any:
    return and_(Announcement.withdrawn_at.is_(None),
                or_(Announcement.expires_at.is_(None), Announcement.expires_at > now))


def find_announcement(s: Session, announcement_id: int) -> Announcement | None:
    return s.get(Announcement, announcement_id)


def add_units(s: Session, announcement_id: int, unit_ids: Sequence[int]) -> None:
    for uid in unit_ids:
        s.add(AnnouncementUnit(announcement_id=announcement_id, unit_id=uid))


# --- files ------------------------------------------------------------------------------------------

def get_file(s: Session, announcement_id: int, file_id: int) -> AnnouncementFile:
    """One of the announcement's files; ``not_found`` for another's or none."""
    f = s.get(AnnouncementFile, file_id)
    if f is None or f.announcement_id != announcement_id:
        raise MixunError("not_found")
    return f


def list_files(s: Session, announcement_ids: Sequence[int]) -> dict[int, list[AnnouncementFile]]:
    """{announcement id: its files in upload order} (no query for none)."""
    out: dict[int, list[AnnouncementFile]] = {}
    if announcement_ids:
        for f in s.execute(select(AnnouncementFile).where(AnnouncementFile.announcement_id.in_(announcement_ids))
                           .order_by(AnnouncementFile.id)).scalars():
            out.setdefault(int(f.announcement_id or 0), []).append(f)
    return out


def list_unattached_files(s: Session, file_ids: Sequence[int], uploader_id: int) -> list[AnnouncementFile]:
    """Those of ``file_ids`` that ``uploader_id`` uploaded and no announcement uses yet."""
    return list(s.execute(select(AnnouncementFile).where(
        AnnouncementFile.id.in_(file_ids), AnnouncementFile.uploader_id == uploader_id,
        AnnouncementFile.announcement_id.is_(None))).scalars().all())


# --- recipients and receipts -----------------------------------------------------------------------------

def list_audience(s: Session, unit_paths: Sequence[str]) -> list[tuple[int, list[str]]]:
    """(user id, roles) of every enabled person in the units ``unit_paths`` or below them; everyone enabled
    when ``unit_paths`` is empty."""
    people = select(User.id, User.roles).where(User.disabled.is_(False))
    if unit_paths:
        inside = select(Unit.id).where(or_(*[or_(Unit.path == p, Unit.path.startswith(p + "/")) for p in unit_paths]))
        people = people.where(User.unit_id.in_(inside))
    return [(uid, roles) for uid, roles in s.execute(people).all()]


def add_receipts(s: Session, announcement_id: int, user_ids: Sequence[int]) -> None:
    """One unread receipt per recipient, in one statement (none for no one)."""
    if user_ids:
        s.execute(insert(AnnouncementReceipt), [{"announcement_id": announcement_id, "user_id": uid} for uid in user_ids])


def get_receipt(s: Session, announcement_id: int, user_id: int) -> tuple[Announcement, AnnouncementReceipt]:
    """A recipient's announcement (not withdrawn) and their receipt; ``not_found`` for anyone else."""
    row = s.execute(select(Announcement, AnnouncementReceipt)
                    .join(AnnouncementReceipt, AnnouncementReceipt.announcement_id == Announcement.id)
                    .where(Announcement.id == announcement_id, AnnouncementReceipt.user_id == user_id,
                           Announcement.withdrawn_at.is_(None))).first()
    if row is None:
        raise MixunError("not_found")
    return row[0], row[1]


def list_received(s: Session, user_id: int, now: datetime, limit: int, offset: int
                  ) -> Sequence[Row[Announcement, datetime | None, datetime | None, str]]:
    """(announcement, read at, confirmed at, author's name) of the live announcements ``user_id``
    received, pinned first then newest."""
    return s.execute(
        select(Announcement, AnnouncementReceipt.read_at, AnnouncementReceipt.confirmed_at, User.name)
        .join(AnnouncementReceipt, AnnouncementReceipt.announcement_id == Announcement.id)
        .outerjoin(User, User.id == Announcement.author_id)
        .where(AnnouncementReceipt.user_id == user_id, _live(now))
        .order_by(Announcement.pinned.desc(), Announcement.created_at.desc(), Announcement.id.desc())
        .offset(offset).limit(limit)).all()


def list_pending(s: Session, user_id: int, now: datetime, limit: int) -> Sequence[Row[int, str, bool]]:
    """(id, title, must confirm) of the live announcements ``user_id`` has still to read or confirm."""
    return s.execute(
        select(Announcement.id, Announcement.title, Announcement.must_confirm)
        .join(AnnouncementReceipt, AnnouncementReceipt.announcement_id == Announcement.id)
        .where(AnnouncementReceipt.user_id == user_id, _live(now),
               or_(AnnouncementReceipt.read_at.is_(None),
                   and_(Announcement.must_confirm.is_(True), AnnouncementReceipt.confirmed_at.is_(None))))
        .order_by(Announcement.pinned.desc(), Announcement.created_at.desc()).limit(limit)).all()


def list_counts(s: Session, announcement_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """{announcement id: (read, confirmed)} (no query for none)."""
    if not announcement_ids:
        return {}
    rows = s.execute(select(AnnouncementReceipt.announcement_id,
                            func.sum(case((AnnouncementReceipt.read_at.is_not(None), 1), else_=0)),
                            func.sum(case((AnnouncementReceipt.confirmed_at.is_not(None), 1), else_=0)))
                     .where(AnnouncementReceipt.announcement_id.in_(announcement_ids))
                     .group_by(AnnouncementReceipt.announcement_id)).all()
    return {int(i): (int(r or 0), int(c or 0)) for i, r, c in rows}


def list_published(s: Session, author_id: int | None, limit: int, offset: int
                   ) -> Sequence[Row[Announcement, str]]:
    """(announcement, author's name), newest first: ``author_id``'s, or everyone's for None."""
    stmt = select(Announcement, User.name).outerjoin(User, User.id == Announcement.author_id)
    if author_id is not None:
        stmt = stmt.where(Announcement.author_id == author_id)
    return s.execute(stmt.order_by(Announcement.id.desc()).offset(offset).limit(limit)).all()


def list_unit_paths(s: Session, announcement_ids: Sequence[int]) -> dict[int, list[str]]:
    """{announcement id: the paths of the units it went to} (no query for none)."""
    units: dict[int, list[str]] = {}
    if announcement_ids:
        for aid, path in s.execute(select(AnnouncementUnit.announcement_id, Unit.path)
                                   .join(Unit, Unit.id == AnnouncementUnit.unit_id)
                                   .where(AnnouncementUnit.announcement_id.in_(announcement_ids))).all():
            units.setdefault(aid, []).append(path)
    return units


def list_receipt_people(s: Session, announcement_id: int, status: str, limit: int, offset: int
                        ) -> Sequence[Row[int, str, str, str, datetime | None, datetime | None, datetime | None]]:
    """Recipients with their receipt (``id``, ``name``, ``username``, ``path``, ``read_at``,
    ``confirmed_at``, ``reminded_at``) by user id: those who have not read it (``unread``), not confirmed
    it (``unconfirmed``), read it (``read``) or ``all``."""
    stmt = (select(User.id, User.name, User.username, Unit.path, AnnouncementReceipt.read_at,
                   AnnouncementReceipt.confirmed_at, AnnouncementReceipt.reminded_at)
            .join(AnnouncementReceipt, AnnouncementReceipt.user_id == User.id)
            .outerjoin(Unit, Unit.id == User.unit_id).where(AnnouncementReceipt.announcement_id == announcement_id))
    if status == "unread":
        stmt = stmt.where(AnnouncementReceipt.read_at.is_(None))
    elif status == "unconfirmed":
        stmt = stmt.where(AnnouncementReceipt.confirmed_at.is_(None))
    elif status == "read":
        stmt = stmt.where(AnnouncementReceipt.read_at.is_not(None))
    return s.execute(stmt.order_by(User.id).offset(offset).limit(limit)).all()


def _outstanding(a: Announcement) -> Any:
    return AnnouncementReceipt.confirmed_at.is_(None) if a.must_confirm else AnnouncementReceipt.read_at.is_(None)


def list_outstanding(s: Session, a: Announcement) -> list[int]:
    """The recipients who have not read ``a`` (not confirmed it, when it must be confirmed)."""
    return list(s.execute(select(AnnouncementReceipt.user_id)
                          .where(AnnouncementReceipt.announcement_id == a.id, _outstanding(a))).scalars())


def mark_outstanding_reminded(s: Session, a: Announcement, now: datetime) -> None:
    """Stamp ``now`` as reminded on the receipts ``list_outstanding`` names."""
    s.execute(update(AnnouncementReceipt).where(AnnouncementReceipt.announcement_id == a.id, _outstanding(a))
              .values(reminded_at=now))


def list_recipient_contacts(s: Session, announcement_id: int) -> Sequence[Row[int, str | None, str]]:
    """(user id, phone, username) of every recipient, by user id."""
    return s.execute(select(User.id, User.phone, User.username).join(
        AnnouncementReceipt, AnnouncementReceipt.user_id == User.id).where(
        AnnouncementReceipt.announcement_id == announcement_id).order_by(User.id)).all()
