"""Logging for the `mixun` command: every record passes ``Redact`` before it is written.

SQLAlchemy's ``hide_parameters`` keeps a statement's values out of its errors, but the database's own
message may quote them: PostgreSQL adds ``DETAIL: Key (employee_no)=(…) already exists`` to a unique
violation and ``DETAIL: Failing row contains (…)`` (the whole row: a message's text, an ID number,
over several lines if the text has them) to a NOT NULL or check violation, and ``LINE 1: …`` quotes the
statement, whose values a round of statements carries inline (``db.bulk``). psycopg puts all of that in
the exception's text, which a logged traceback prints: ours, and uvicorn's "Exception in ASGI
application" for the same error. The first line (the constraint's name, the kind of error) still
says what failed.
"""

from __future__ import annotations

import logging
import re

WITHHELD = "(values withheld from the log)"
# From a DETAIL or LINE line of a PostgreSQL error up to the next part of the error text (its HINT,
# CONTEXT, SQLAlchemy's [SQL: …] or background note), the next part of a traceback, or the end.
_NEXT = (r"HINT:|CONTEXT:|\[SQL:|\[parameters|\(Background|The above exception|During handling of the above"
         r"|Traceback \(most recent call last\)")
_QUOTING = re.compile(rf"^(\s*)(DETAIL:|LINE \d+:).*?(?=^\s*(?:{_NEXT})|\Z)", re.MULTILINE | re.DOTALL)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers with handlers of their own that do not pass records to the root logger's.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error")


def redact(text: str) -> str:
    if "DETAIL:" not in text and "LINE " not in text:
        return text
    return _QUOTING.sub(lambda m: f"{m.group(1)}{m.group(2)} {WITHHELD}\n", text)


class Redact(logging.Filter):
    """Rewrites a record's message and traceback text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure(level: int = logging.WARNING) -> None:
    """The root logger writes to stderr; its handlers and the server's loggers redact (the filter on
    a logger stays when uvicorn configures its handlers later). Called by the `mixun` command and by
    each worker process of `mixun serve --workers N`."""
    logging.basicConfig(level=level, format=FORMAT)
    redact_filter = Redact()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(redact_filter)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Redact) for f in logger.filters):
            logger.addFilter(redact_filter)
