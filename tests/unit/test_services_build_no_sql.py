"""The services whose nouns have a storage module build no SQL themselves: their queries are in
``src/mixun/storage/`` (docs/adr/0012-*.md, docs/adr/0019-*.md). The import contract
``services-use-storage`` keeps the tables' models out of the event log's service, and
``services-build-no-sql`` keeps SQLAlchemy itself out of auth, users, directory, scim, org, functions and
faults; this catches a query written inline again in any of them."""

from __future__ import annotations

import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "src" / "mixun" / "services"
# Each service and the statements it no longer builds (the ORM's ``s.add`` of a new row stays a
# service's: the row is the use case's).
MOVED = ("events.py", "announcements.py", "drafts.py", "group_life.py", "applications.py", "approvals.py",
         "group_requests.py", "faults.py", "functions.py", "org.py", "users.py", "directory.py", "scim.py",
         "auth.py")
# SQLAlchemy's statement constructors and raw ``text`` (not a method such as ``dict.update``), a table handed to
# ``bulk``, and a look-up by primary key.
BUILDS = re.compile(r"(?<![.\w])(select|insert|update|delete|text)\(|\.__table__\b|\b(session|s)\.get\(")


def test_moved_services_build_no_sql() -> None:
    found = [f"{name}:{n}: {line.strip()}" for name in MOVED
             for n, line in enumerate((SERVICES / name).read_text(encoding="utf-8").splitlines(), 1)
             if BUILDS.search(line) and not line.lstrip().startswith("#")]
    assert found == []


def test_the_check_sees_an_inline_query() -> None:
    """The pattern is not blind: the statements it must catch match."""
    for line in ("rows = s.execute(select(User.id))", "s.execute(delete(UserEvent).where(x))",
                 "r.insert_columns(EventPayload.__table__, cols)", "a = s.get(Announcement, 1)",
                 's.execute(text("DELETE FROM login_throttle"))'):
        assert BUILDS.search(line), line
    for line in ("stored_events.list_events(s, uid, 0, 10)", "last.update(seen)", "files.get(a.id, [])", "s.add(f)",
                 "title = _dlp_text(ctx, title)"):
        assert not BUILDS.search(line), line
