"""Accounts made without HR's number get one HR's files never hold (issue 21: the seeded administrators'
E000001… collided with HR's own numbers): ADM-… for administrators and compliance officers, MX-… for
anyone else; migration 0022 renumbers the old placeholders and leaves HR's numbers alone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from mixun.db.migrate import alembic_config
from mixun.db.models import Unit, User
from mixun.services.users import placeholder_employee_no


def test_placeholders() -> None:
    assert placeholder_employee_no(1, ["sysadmin"]) == "ADM-000001"
    assert placeholder_employee_no(7, ["compliance"]) == "ADM-000007"
    assert placeholder_employee_no(42, ["employee"]) == "MX-000042"


def test_migration_renumbers_old_placeholders_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0020")
    engine = sa.create_engine(url)
    with Session(engine) as s:  # the models of head; users and units are as at 0020 but for a length
        unit = Unit(name="总行", path="总行")
        s.add(unit)
        s.flush()
        for uid, no, roles, verified in ((1, "E000001", ["sysadmin"], False), (2, "E000002", ["employee"], False),
                                         (3, "E000777", ["employee"], True), (4, "E000004", ["employee"], True)):
            s.add(User(id=uid, username=f"u{uid}", name=f"人{uid}", name_pinyin="", name_initials="", employee_no=no,
                       unit_id=unit.id, position="", roles=roles, password_hash="x", hr_verified=verified))
        s.commit()
    command.upgrade(cfg, "head")
    with engine.begin() as c:
        got = dict(c.execute(sa.text("SELECT id, employee_no FROM users ORDER BY id")).all())
    engine.dispose()
    # the old placeholders renumbered; HR's numbers (verified, or not the account's own id) untouched
    assert got == {1: "ADM-000001", 2: "MX-000002", 3: "E000777", 4: "E000004"}
