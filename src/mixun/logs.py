"""Logging for the `mixun` command: every record is formatted through ``RedactingFormatter``.

SQLAlchemy's ``hide_parameters`` keeps a statement's values out of its errors, but the database's own
message may quote them: PostgreSQL adds ``DETAIL: Key (employee_no)=(…) already exists`` to a unique
violation and ``DETAIL: Failing row contains (…)`` (the whole row: a message's text, an ID number)
to a NOT NULL or check violation, and psycopg puts that in the exception's text, which a logged
traceback prints. The constraint's name on the first line says what failed; the values stay out.
"""

from __future__ import annotations

import logging
import re

# A DETAIL line of a PostgreSQL error (psycopg's exception text, SQLAlchemy's wrapping of it).
_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return _DETAIL.sub(r"\1 (values withheld from the log)", text) if "DETAIL:" in text else text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: int = logging.WARNING) -> None:
    """The root logger writes to stderr through ``RedactingFormatter`` (uvicorn's own loggers keep
    theirs: they never print database errors)."""
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(FORMAT))
