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
    DRIVE_REPORTS = "drive.reports"  # reported drive files: check and remove (secadmin)


_STAFF = {Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.CHAT}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.EMPLOYEE: frozenset(_STAFF),
    Role.UNIT_HEAD: frozenset(_STAFF),
    Role.HR: frozenset(_STAFF | {Perm.ADMIN_UNITS}),
    Role.COMPLIANCE: frozenset(_STAFF | {Perm.ARCHIVE_SEARCH, Perm.REVIEW}),
    Role.SYSADMIN: frozenset({Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.ADMIN_USERS, Perm.ADMIN_UNITS,
                              Perm.ADMIN_SESSIONS, Perm.ADMIN_USERS_READ, Perm.APPROVALS}),
    Role.SECADMIN: frozenset({Perm.ACCOUNT, Perm.DIRECTORY_READ, Perm.ADMIN_SESSIONS, Perm.SECURITY_ALERTS,
                              Perm.DLP_MANAGE, Perm.REVIEW, Perm.ADMIN_USERS_READ, Perm.ADMIN_ROLES,
                              Perm.APPROVALS, Perm.DRIVE_REPORTS}),
    Role.AUDITOR: frozenset({Perm.ACCOUNT, Perm.AUDIT_READ}),
}


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
