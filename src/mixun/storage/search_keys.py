"""The directory's search keys: a person's name, pinyin, initials, username, employee number and
position prefixes (domain/names.py builds them; services/users.index_user decides who has any)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from mixun.db.models import SearchKey


def delete_keys(s: Session, user_id: int) -> None:
    # No ORM synchronisation: nothing holds SearchKey objects, and scanning the session for them costs
    # O(loaded objects) per call (an HR import holds every person in its session).
    s.execute(delete(SearchKey).where(SearchKey.user_id == user_id).execution_options(synchronize_session=False))


def insert_keys(s: Session, user_id: int, keys: Iterable[tuple[str, int]]) -> None:
    """One executemany of ``(key, rank)`` rows for the person."""
    s.execute(insert(SearchKey), [{"user_id": user_id, "key": k, "rank": r} for k, r in keys])
