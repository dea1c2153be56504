"""The `mixun` command's logs never quote the values PostgreSQL puts in an error's DETAIL line (a
unique key's value, the whole failing row), while the error itself stays readable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import fresh_database, need

ID_NUMBER = "11010519491231002X"
PHONE = "13800138000"

SCRIPT = r"""
import logging, sys
from sqlalchemy import create_engine, text
from mixun import logs

logs.configure()
log = logging.getLogger("mixun.probe")
engine = create_engine(sys.argv[1].replace("postgresql://", "postgresql+psycopg://"), hide_parameters=True)
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE probe (phone text UNIQUE, body text NOT NULL, note text)"))
    conn.execute(text("INSERT INTO probe VALUES (:p, 'x', NULL)"), {"p": sys.argv[2]})
for sql in ("INSERT INTO probe VALUES (:p, 'y', NULL)", "INSERT INTO probe VALUES ('other', NULL, :n)"):
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), {"p": sys.argv[2], "n": sys.argv[3]})
    except Exception:
        log.exception("a write failed")
# uvicorn configures its own loggers when the server starts, and logs an unexpected error of a request
# again ("Exception in ASGI application") through a handler of its own.
import logging.config, uvicorn.config
logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
try:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO probe VALUES ('third', NULL, :n)"), {"n": sys.argv[3]})
except Exception:
    logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
"""


def test_database_error_details_stay_out_of_the_log(tmp_path: Path) -> None:
    from tests.conftest import _pg_available

    need("postgresql", _pg_available())
    url, cleanup = fresh_database("postgresql", tmp_path)
    try:
        # The ID number on the text's second line: a failing row quotes the text as it is, newlines and all.
        out = subprocess.run([sys.executable, "-c", SCRIPT, url, PHONE, f"客户资料\n身份证 {ID_NUMBER}"],
                             capture_output=True, text=True, timeout=60)
    finally:
        cleanup()
    log = out.stderr
    assert log.count("a write failed") == 2 and log.count("Exception in ASGI application") == 1, log[-2000:]
    assert "The above exception was the direct cause" in log  # the tracebacks themselves are whole
    assert "probe_phone_key" in log and "not-null constraint" in log  # what failed is still said
    assert "DETAIL: (values withheld from the log)" in log
    assert PHONE not in log and ID_NUMBER not in log


def test_redact_leaves_other_text_alone() -> None:
    from mixun.logs import redact

    assert redact("no detail here") == "no detail here"
    text = 'duplicate key value violates unique constraint "users_employee_no_key"\nDETAIL:  Key (employee_no)=(E1) already exists.\n[SQL: INSERT]'
    assert redact(text) == ('duplicate key value violates unique constraint "users_employee_no_key"\n'
                            "DETAIL: (values withheld from the log)\n[SQL: INSERT]")
