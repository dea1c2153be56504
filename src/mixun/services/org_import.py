"""HR's import (issue 21 item 2, A3): `mixun org import FILE [--dry-run]` reads HR's list of people (CSV or
JSON) and makes Mixun follow it: units created, people created, moved, renamed, re-titled, departed.

One transaction: a real run commits everything or nothing (an error in any row, or an interruption,
leaves the database as it was); a dry run runs the very same code and rolls it back, so what it prints is
exactly what a real run would do. Columns: docs/organisation.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from mixun.db.models import SearchKey, Unit, User
from mixun.domain.audit_actions import AuditAction
from mixun.domain.names import pinyin_keys, search_keys
from mixun.domain.roles import Role, is_privileged
from mixun.errors import MixunError
from mixun.services import audit, users
from mixun.services.runtime import Ctx
from mixun.storage import events as stored_events

COLUMNS = ("employee_no", "name", "unit", "position", "phone", "username", "status", "departure_reason")
REQUIRED = ("employee_no", "name", "unit")
STATUSES = ("active", "departed")
UNUSABLE_PASSWORD = "!hr-import"  # noqa: S105 - not a password: no hash matches it, sysadmin issues the first one
Progress = Callable[[int, int], None]


class ImportFileError(ValueError):
    """The file cannot be read as HR's list (its encoding, format or columns)."""


@dataclass
class Outcome:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("created", "moved", "renamed", "updated", "verified", "departed", "unchanged", "units_created"), 0))
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "counts": self.counts, "rows": self.rows, "errors": self.errors,
                "sha256": self.digest}


class _Rollback(Exception):
    """Raised at the end of a dry run (or on row errors) to roll the transaction back."""


def read_rows(path: Path) -> tuple[list[dict[str, str]], str]:
    """(rows, sha256) of a CSV (UTF-8, with or without BOM, header row) or JSON file (a list of objects,
    or {"people": [...]})."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is not UTF-8 text") from exc
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"not valid JSON: {exc}") from exc
        if isinstance(data, dict):
            data = data.get("people")
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise ImportFileError('JSON must be a list of people (objects) or {"people": [...]}')
        rows = [{k: "" if v is None else str(v) for k, v in item.items()} for item in data]
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise ImportFileError("the CSV file is empty")
        rows = [{(k or "").strip(): (v or "") for k, v in r.items()} for r in reader]
        fields = [(f or "").strip() for f in reader.fieldnames]
        unknown = [f for f in fields if f not in COLUMNS]
        missing = [f for f in REQUIRED if f not in fields]
        if unknown or missing:
            raise ImportFileError(f"columns: unknown {unknown}, missing {missing}; expected {list(COLUMNS)}")
    for r in rows:
        unknown = [k for k in r if k not in COLUMNS]
        if unknown:
            raise ImportFileError(f"unknown field(s) {unknown}; expected {list(COLUMNS)}")
    return rows, digest


def run_import(ctx: Ctx, path: Path, dry_run: bool, progress: Progress | None = None) -> dict[str, Any]:
    rows, digest = read_rows(path)
    return apply_rows(ctx, rows, dry_run, progress, source=path.name, digest=digest)


def apply_rows(ctx: Ctx, rows: list[dict[str, str]], dry_run: bool, progress: Progress | None = None,
               source: str = "", digest: str = "", action: AuditAction = AuditAction.ORG_IMPORTED) -> dict[str, Any]:
    """The plan/apply engine of HR's import, also the LDAP sync's (``action`` org.ldap_synced)."""
    out = Outcome(dry_run=dry_run, digest=digest)
    try:
        with ctx.rt.db.write() as s:
            _apply(s, ctx, rows, out, progress or (lambda _d, _t: None))
            if out.errors:
                raise _Rollback
            audit.record(s, ctx, action, target="org", source=source[:200], sha256=digest,
                         rows=len(rows), **out.counts, **({} if ctx.principal else {"actor": "cli"}))  # type: ignore[arg-type]
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    return out.as_dict()


class _State:
    """What the import has loaded once: people by employee number, units by path, taken usernames."""

    def __init__(self, s: Session) -> None:
        self.people = {u.employee_no: u for u in s.execute(select(User).where(User.employee_no.is_not(None))).scalars()}
        self.units = {u.path: u for u in s.execute(select(Unit)).scalars()}
        self.usernames = {n.lower() for n in s.execute(select(func.lower(User.username))).scalars()}
        self.pending: list[dict[str, Any]] = []  # new people not yet written (create_people_txn)
        self.created: set[str] = set()


def _unit(s: Session, ctx: Ctx, st: _State, out: Outcome, path: str) -> Unit:
    parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    parent: Unit | None = None
    for i in range(len(parts)):
        sub = "/".join(parts[: i + 1])
        unit = st.units.get(sub)
        if unit is None:
            unit = Unit(name=parts[i], path=sub, parent_id=parent.id if parent else None)
            s.add(unit)
            s.flush()
            st.units[sub] = unit
            out.counts["units_created"] += 1
            audit.record(s, ctx, AuditAction.UNIT_CREATED, target=f"unit:{unit.id}", path=sub, source="import")
        elif unit.closed_at is not None:
            raise MixunError("unit_closed", path=sub)
        parent = unit
    assert parent is not None
    return parent


def _username(st: _State, row: dict[str, str]) -> str:
    wanted = row.get("username", "").strip()
    if wanted:
        if not all(c.isalnum() or c in "._-" for c in wanted) or len(wanted) > 64:
            raise MixunError("validation_failed", ("用户名只能包含字母、数字和 . _ -",
                                                   "A username may hold only letters, digits and . _ -"), field="username")
        if wanted.lower() in st.usernames:
            raise MixunError("username_taken", username=wanted)
        return wanted
    base = "".join(c for c in row["employee_no"].lower() if c.isalnum() or c in "._-") or "user"
    candidate, n = base, 1
    while candidate in st.usernames:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create_person_txn(s: Session, ctx: Ctx, *, username: str, name: str, employee_no: str, unit: Unit,
                      position: str, phone: str | None, source: str) -> User:
    """A person HR's system knows: an employee account with no usable password (sysadmin issues the first
    one-time password: 重置密码), HR-verified."""
    full, initials = pinyin_keys(name)
    user = User(username=username, name=name, name_pinyin=full, name_initials=initials, employee_no=employee_no,
                phone=phone or None, unit_id=unit.id, position=position, roles=[Role.EMPLOYEE.value],
                password_hash=UNUSABLE_PASSWORD, must_change_password=True, password_changed_at=datetime.now(UTC),
                hr_verified=True)
    s.add(user)
    s.flush()
    users.index_user(s, user)
    stored_events.add_counter(s, user.id)
    audit.record(s, ctx, AuditAction.ACCOUNT_CREATED, target=f"user:{user.id}", username=username, roles=[Role.EMPLOYEE.value],
                 unit=unit.path, source=source)
    return user


BATCH = 1000  # new people written per statement


def create_people_txn(s: Session, ctx: Ctx, people: list[dict[str, Any]], source: str) -> list[int]:
    """Many new people at once (the import's creations): users, search keys, event counters and one
    ``account.created`` audit record each, in a few statements. Each entry: username, name, employee_no,
    unit (a Unit), position, phone."""
    if not people:
        return []
    now = datetime.now(UTC)
    rows = []
    for p in people:
        full, initials = pinyin_keys(p["name"])
        rows.append({"username": p["username"], "name": p["name"], "name_pinyin": full, "name_initials": initials,
                     "employee_no": p["employee_no"], "phone": p["phone"] or None, "unit_id": p["unit"].id,
                     "position": p["position"], "roles": [Role.EMPLOYEE.value], "password_hash": UNUSABLE_PASSWORD,
                     "must_change_password": True, "password_changed_at": now, "hr_verified": True,
                     "created_at": now})
    ids = list(s.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), rows))
    keys = [{"user_id": uid, "key": k, "rank": r} for uid, p in zip(ids, people, strict=True)
            for k, r in search_keys(p["name"], p["username"], p["employee_no"], p["position"])]
    if keys:
        s.execute(insert(SearchKey), keys)
    stored_events.add_counters(s, ids)
    audit.record_many(s, ctx, [(AuditAction.ACCOUNT_CREATED, f"user:{uid}", {
        "username": p["username"], "roles": [Role.EMPLOYEE.value], "unit": p["unit"].path, "source": source})
        for uid, p in zip(ids, people, strict=True)])
    return ids


def _apply(s: Session, ctx: Ctx, rows: list[dict[str, str]], out: Outcome, progress: Progress) -> None:
    from mixun.services.org import apply_hr_fields

    st = _State(s)
    st.pending = []
    seen: set[str] = set()
    total = len(rows)
    for i, raw in enumerate(rows, start=1):
        line = i + 1  # the header is line 1 of a CSV; for JSON it is the item's position + 1
        row = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        try:
            missing = [k for k in REQUIRED if not row[k]]
            if missing:
                raise MixunError("validation_failed", (f"缺少：{'、'.join(missing)}", f"missing: {', '.join(missing)}"),
                                 field=missing[0])
            status = row["status"].lower() or "active"
            if status not in STATUSES:
                raise MixunError("validation_failed", ("状态只能是 active 或 departed", "status is active or departed"),
                                 field="status")
            if row["employee_no"] in seen:
                raise MixunError("validation_failed", ("工号在文件中重复", "The employee number repeats in the file"),
                                 field="employee_no")
            seen.add(row["employee_no"])
            entry = _row(s, ctx, st, out, row, status, apply_hr_fields)
            out.counts[entry["action"]] += 1
            if entry["action"] != "unchanged":
                out.rows.append({"line": line, **entry})
        except MixunError as exc:
            out.errors.append({"line": line, "employee_no": row["employee_no"], "code": exc.code,
                               "message": exc.message_for("en"), "message_zh": exc.message_for("zh-CN"), **{k: v for k, v in exc.details.items()
                                                                    if k in ("field", "path", "username")}})
        if len(st.pending) >= BATCH or i == total:
            create_people_txn(s, ctx, st.pending, "import")
            st.pending = []
        if i % 200 == 0 or i == total:
            progress(i, total)


def _row(s: Session, ctx: Ctx, st: _State, out: Outcome, row: dict[str, str], status: str,
         apply_hr_fields: Any) -> dict[str, Any]:
    no = row["employee_no"]
    user = st.people.get(no)
    base = {"employee_no": no, "name": row["name"]}
    if user is None:
        if status == "departed":
            return {**base, "action": "unchanged", "note": "departed, no account"}
        unit = _unit(s, ctx, st, out, row["unit"])
        username = _username(st, row)
        st.pending.append({"username": username, "name": row["name"], "employee_no": no, "unit": unit,
                           "position": row["position"], "phone": row["phone"] or None})
        st.created.add(no)
        st.usernames.add(username.lower())
        return {**base, "action": "created", "username": username, "unit": unit.path}
    if is_privileged(user.roles):
        raise MixunError("hr_privileged_account", username=user.username)
    if user.departed_at is not None:
        if status == "departed":
            return {**base, "action": "unchanged"}
        raise MixunError("account_departed", username=user.username)
    if status == "departed":
        reason = row["departure_reason"] or "other"
        if reason not in users.DEPARTURE_REASONS:
            raise MixunError("validation_failed", ("离职原因不正确", "Unknown departure reason"), field="departure_reason")
        users._apply_depart(s, ctx, user, {"reason": reason, "pledged": False, "source": "import"}, None)
        return {**base, "action": "departed", "reason": reason}
    unit = _unit(s, ctx, st, out, row["unit"])
    old_unit = next((u.path for u in st.units.values() if u.id == user.unit_id), "") if user.unit_id != unit.id else unit.path
    changes: dict[str, Any] = {"name": row["name"], "unit_id": unit.id}
    if row["position"]:
        changes["position"] = row["position"]
    if row["phone"]:
        changes["phone"] = row["phone"]
    was_verified = user.hr_verified
    changed = apply_hr_fields(s, ctx, user, changes, "import")
    if not changed:
        return {**base, "action": "unchanged" if was_verified else "verified"}
    detail: dict[str, Any] = {"changes": sorted(changed)}
    if "unit" in changed:
        return {**base, "action": "moved", "from": old_unit, "to": unit.path, **detail}
    if "name" in changed:
        return {**base, "action": "renamed", "from": changed["name"]["from"], **detail}
    return {**base, "action": "updated", **detail}
