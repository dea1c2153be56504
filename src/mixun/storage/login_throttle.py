"""Failed sign-ins counted per address and per unknown name, shared by every process (services/auth.py
decides the limits and what a lockout means)."""

from __future__ import annotations

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from mixun.db.models import LoginFailureCount

# One more failure in one statement (no lost counts between processes); a window that has passed starts
# again at this failure.
_COUNT = text(
    "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (:k, 1, :now, 0) "
    "ON CONFLICT (key) DO UPDATE SET "
    "failures = CASE WHEN login_throttle.window_start <= :cutoff THEN 1 ELSE login_throttle.failures + 1 END, "
    "window_start = CASE WHEN login_throttle.window_start <= :cutoff THEN :now "
    "ELSE login_throttle.window_start END "
    "RETURNING failures")


def find_count(s: Session, key: str) -> tuple[int, float, float] | None:
    """(failures, window start, locked until) for ``key``, if any."""
    row = s.execute(select(LoginFailureCount.failures, LoginFailureCount.window_start,
                           LoginFailureCount.locked_until).where(LoginFailureCount.key == key)).first()
    return None if row is None else (int(row[0]), float(row[1]), float(row[2]))


def add_failure(s: Session, key: str, now: float, window: float) -> int:
    """Count one failure for ``key`` (a window older than ``window`` seconds starts again); returns the count."""
    return int(s.execute(_COUNT, {"k": key, "now": now, "cutoff": now - window}).scalar_one())


def delete_stale(s: Session, now: float, address_window: float, name_keep: float) -> None:
    """Forget address counts whose window has passed and unknown-name counts neither locked nor recent."""
    s.execute(delete(LoginFailureCount).where(
        LoginFailureCount.key.startswith("addr:"), LoginFailureCount.window_start <= now - address_window))
    s.execute(delete(LoginFailureCount).where(
        LoginFailureCount.key.startswith("name:"), LoginFailureCount.locked_until <= now,
        LoginFailureCount.window_start <= now - name_keep))


def update_window_start(s: Session, key: str, now: float) -> None:
    s.execute(update(LoginFailureCount).where(LoginFailureCount.key == key).values(window_start=now))


def update_locked(s: Session, key: str, until: float) -> None:
    """Lock ``key`` until ``until``; its count starts again."""
    s.execute(update(LoginFailureCount).where(LoginFailureCount.key == key).values(failures=0, locked_until=until))
