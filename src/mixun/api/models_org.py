"""Response models of routes/org.py: account applications, HR's unit tree and people, the directory
sync's status and the requests for groups with other units (ADR 0018: open TypedDicts, closed in the
document; each names its builder and follows its field order)."""

from __future__ import annotations

from typing import NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from mixun.api.models import OUT
from mixun.api.models_consoles_a import (
    Departure as Departure,  # one builder, one model (HR's and sysadmin's departures)
)

# ---- account applications -------------------------------------------------------------------------------


@with_config(OUT)
class OrgPerson(TypedDict):
    """``services.applications._person`` / ``services.group_requests._person``: an account named in a view."""

    id: int
    name: str
    username: str


@with_config(OUT)
class ApplicationStep(TypedDict):
    """One step of an application: a decision (``by`` its decider) or a step skipped (``by`` null)."""

    stage: str
    decision: str
    by: OrgPerson | None
    at: str
    reason: str


@with_config(OUT)
class Application(TypedDict):
    """``services.applications._view``: an account application and where it stands (``waiting_for``: the
    role deciding next, null once decided; ``user_id``: the account made for it)."""

    id: int
    status: str
    name: str
    employee_no: str
    unit_id: int
    unit: str
    position: str
    phone: str | None
    functions: list[str]
    username: str | None
    note: str
    applicant: OrgPerson | None
    created_at: str
    steps: list[ApplicationStep]
    user_id: int | None
    reject_reason: str
    waiting_for: str | None
    can_decide: bool


@with_config(OUT)
class ApplicationDecided(Application):
    """``services.applications.approve``: at sysadmin's step the account is made and the answer carries its
    one-time ``password``, this once."""

    password: NotRequired[str]


@with_config(OUT)
class Applications(TypedDict):
    """``services.applications.list_applications``."""

    applications: list[Application]
    todo_count: int
    next_offset: int | None


# ---- HR: the unit tree ----------------------------------------------------------------------------------

@with_config(OUT)
class OrgUnit(TypedDict):
    """``services.org._unit_view``: a unit, closed or not, with the people directly in it."""

    id: int
    name: str
    path: str
    parent_id: int | None
    closed: bool
    people: int


@with_config(OUT)
class OrgUnits(TypedDict):
    units: list[OrgUnit]


@with_config(OUT)
class UnitCreated(TypedDict):
    """``services.users.create_unit``."""

    id: int
    name: str
    path: str
    parent_id: int | None


@with_config(OUT)
class UnitMerged(TypedDict):
    """``services.org.merge_unit``: the unit merged (now closed) and the one it went into."""

    merged: OrgUnit
    into: OrgUnit
    people_moved: int
    sub_units_moved: int


# ---- HR: people -----------------------------------------------------------------------------------------

@with_config(OUT)
class OrgPersonRow(TypedDict):
    """``services.org._person_view``: a person as HR's list shows them."""

    id: int
    username: str
    name: str
    employee_no: str | None
    unit_id: int | None
    unit: str
    position: str
    phone: str | None
    hr_verified: bool
    departed: bool
    departure_reason: str | None
    disabled: bool
    administrator: bool
    privileged: bool


@with_config(OUT)
class OrgPeople(TypedDict):
    """``services.org.list_people``."""

    people: list[OrgPersonRow]
    next_offset: int | None


@with_config(OUT)
class OrgPersonUpdated(OrgPersonRow):
    """``services.org.update_person``: the person after HR's correction, with the fields that changed."""

    changed: list[str]


# ---- HR: the directory sync -----------------------------------------------------------------------------

@with_config(OUT)
class LdapSyncError(TypedDict):
    zh: str
    en: str


@with_config(OUT)
class LdapSyncRun(TypedDict):
    """``services.ldap_sync.last_sync``: the last run, its counts and errors (in both languages)."""

    started_at: str
    finished_at: str | None
    dry_run: bool
    ok: bool
    counts: dict[str, int]
    errors: list[LdapSyncError]


@with_config(OUT)
class LdapSyncStatus(TypedDict):
    """Whether the sync is configured, and its last run (null: it never ran)."""

    configured: bool
    last: LdapSyncRun | None


# ---- requests for groups with other units ---------------------------------------------------------------

@with_config(OUT)
class GroupRequestMember(TypedDict):
    id: int
    name: str
    unit: str


@with_config(OUT)
class GroupRequest(TypedDict):
    """``services.group_requests._view``: a requested group and where it stands (``approvers``: the unit
    heads who may decide it while it is pending)."""

    id: int
    name: str
    status: str
    requester: OrgPerson | None
    unit: str
    members: list[GroupRequestMember]
    created_at: str
    decided_by: OrgPerson | None
    decided_at: str | None
    reason: str
    conversation_id: int | None
    approvers: list[OrgPerson]
    can_decide: bool


@with_config(OUT)
class GroupRequests(TypedDict):
    """``services.group_requests.list_requests``."""

    requests: list[GroupRequest]
    todo_count: int
