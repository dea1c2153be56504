"""Roles, permissions and who holds which: the data behind the single permission gate.

三员分立: sysadmin, secadmin and auditor are separate accounts with disjoint powers, none of which
can alter or erase the audit trail.
"""

from __future__ import annotations

import functools
from enum import StrEnum


class Role(StrEnum):
    EMPLOYEE = "employee"
    UNIT_HEAD = "unit_head"
    HR = "hr"
    SYSADMIN = "sysadmin"
    SECADMIN = "secadmin"
    AUDITOR = "auditor"
    COMPLIANCE = "compliance"


ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})
# Roles that may only be granted by `mixun init` / the CLI, never through the API.
RESERVED_ROLES = ADMIN_ROLES
# Roles for which two-factor login is mandatory.
TOTP_REQUIRED_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR, Role.COMPLIANCE})


class Perm(StrEnum):
    PUBLIC = "public"  # no login at all
    SESSION = "session"  # any logged-in session, even one that must change its password first
    TOTP_SETUP = "totp.setup"  # a session past the password change, enrolling its two-factor
    ACCOUNT = "account"  # an active, fully set-up session: own sessions, own two-factor
    DIRECTORY_READ = "directory.read"
    CHAT = "chat.use"
    ADMIN_USERS = "admin.users"
    ADMIN_UNITS = "admin.units"
    ADMIN_SESSIONS = "admin.sessions"
    SECURITY_ALERTS = "security.alerts"
    AUDIT_READ = "audit.read"
    DLP_MANAGE = "dlp.manage"
    ARCHIVE_SEARCH = "archive.search"
    REVIEW = "review.decide"  # the review queue: DLP holds and reported messages (C4, D8)
    ADMIN_USERS_READ = "admin.users.read"  # the people list (sysadmin manages accounts, secadmin grants roles)
    ADMIN_ROLES = "admin.roles"  # granting and removing roles (授权): secadmin's, not sysadmin's
    APPROVALS = "admin.approvals"  # the second administrator's approval of a request on a privileged account
    RULES = "rules.accept"  # a set-up session that has still to accept the current rules (reads and accepts them)
    RULES_MANAGE = "rules.manage"  # publishing the usage and confidentiality rules (secadmin)
    RULES_REPORT = "rules.report"  # who has and has not accepted them
    ANNOUNCE = "announcements.publish"  # publishing announcements (unit heads: to their own units only)
    FUNCTIONS_MANAGE = "functions.manage"  # per-unit / per-person function switches and group limits
    ACCOUNT_REVIEW = "accounts.review"  # the periodic and on-demand account review
    OPS_MONITOR = "ops.monitor"  # operations alerts and the notifications' dead-letter list (issue 22)
    FAULTS_HANDLE = "faults.handle"  # the fault-report queue: assign, answer, resolve (issue 22)
    REPORTS = "reports.inspection"  # the inspection report (issue 22)
    APPLICATIONS = "account.applications"  # file account applications; decide the step one's role owns (A1)
    ORG_MANAGE = "org.manage"  # HR: the org tree, people's units, positions and real names, departures (A2-A4)
    SCIM = "scim"  # HR's system over SCIM 2.0: its own bearer token (`mixun scim token`), held by no role
    DRIVE_REPORTS = "drive.reports"  # reported drive files: check and remove (secadmin)
    KEYS_STATUS = "keys.status"  # the key management status, read-only (secadmin, auditor): docs/keys.md


_STAFF = {Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.CHAT}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.EMPLOYEE: frozenset(_STAFF),
    Role.UNIT_HEAD: frozenset(_STAFF | {Perm.ANNOUNCE}),
    Role.HR: frozenset(_STAFF | {Perm.ADMIN_UNITS, Perm.ANNOUNCE}),
    Role.COMPLIANCE: frozenset(_STAFF | {Perm.ARCHIVE_SEARCH, Perm.REVIEW, Perm.RULES_REPORT}),
    Role.SYSADMIN: frozenset({Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.ADMIN_USERS, Perm.ADMIN_UNITS,
                              Perm.ADMIN_SESSIONS, Perm.ADMIN_USERS_READ, Perm.APPROVALS, Perm.ANNOUNCE,
                              Perm.ACCOUNT_REVIEW, Perm.OPS_MONITOR, Perm.FAULTS_HANDLE, Perm.REPORTS}),
    Role.SECADMIN: frozenset({Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.ADMIN_SESSIONS, Perm.SECURITY_ALERTS,
                              Perm.DLP_MANAGE, Perm.REVIEW, Perm.ADMIN_USERS_READ, Perm.ADMIN_ROLES,
                              Perm.APPROVALS, Perm.RULES_MANAGE, Perm.RULES_REPORT, Perm.FUNCTIONS_MANAGE,
                              Perm.ACCOUNT_REVIEW, Perm.REPORTS, Perm.DRIVE_REPORTS}),
    Role.AUDITOR: frozenset({Perm.ACCOUNT, Perm.AUDIT_READ, Perm.RULES_REPORT, Perm.REPORTS}),
}


# Issue 21 (people and the organisation), added apart from the table above so its lines stay as merged.
# Anyone with a staff account, and sysadmin who allocates, works account applications; HR owns the tree
# and real names but no content access and no role-granting (docs/organisation.md).
_ORG_GRANTS: dict[Role, frozenset[Perm]] = {
    Role.EMPLOYEE: frozenset({Perm.APPLICATIONS}),
    Role.UNIT_HEAD: frozenset({Perm.APPLICATIONS}),
    Role.HR: frozenset({Perm.APPLICATIONS, Perm.ORG_MANAGE}),
    Role.COMPLIANCE: frozenset({Perm.APPLICATIONS}),
    Role.SYSADMIN: frozenset({Perm.APPLICATIONS}),
}
for _role, _extra in _ORG_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _extra

# Issue 20: the key management status (`mixun keys status`) in the console, read-only, for the security
# administrator and the auditor; rotating and destroying keys stay CLI operations on the server.
for _role in (Role.SECADMIN, Role.AUDITOR):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Perm.KEYS_STATUS}


def permissions_for(roles: list[str] | tuple[str, ...] | frozenset[str] | set[str]) -> frozenset[Perm]:
    return _permissions(frozenset(roles))


@functools.lru_cache(maxsize=256)
def _permissions(roles: frozenset[str]) -> frozenset[Perm]:
    """One shared set per combination of roles (every cached principal points at it)."""
    perms: set[Perm] = {Perm.PUBLIC, Perm.SESSION}
    for name in roles:
        try:
            perms |= ROLE_PERMISSIONS[Role(name)]
        except ValueError:
            continue
    return frozenset(perms)


def valid_role(name: str) -> bool:
    return name in Role._value2member_map_


def needs_totp(roles: list[str] | frozenset[str] | set[str], required_for_all: bool = False) -> bool:
    return required_for_all or any(r in TOTP_REQUIRED_ROLES for r in roles)


# Accounts whose every administrative change needs a second administrator's approval (issue 19):
# the three administrators and the compliance officers who can read the archive.
PRIVILEGED_ROLES = ADMIN_ROLES | {Role.COMPLIANCE}


def is_administrator(roles: list[str] | tuple[str, ...]) -> bool:
    """Holds sysadmin, secadmin or auditor: not staff, so not in the directory and not a chat partner."""
    return any(r in ADMIN_ROLES for r in roles)


def is_privileged(roles: list[str] | tuple[str, ...]) -> bool:
    return any(r in PRIVILEGED_ROLES for r in roles)
