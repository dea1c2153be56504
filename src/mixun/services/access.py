"""The single permission gate. Every API route and CLI action goes through ``require``."""

from __future__ import annotations

from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.services.runtime import Principal


def require(principal: Principal | None, perm: Perm) -> Principal | None:
    if perm is Perm.PUBLIC:
        return principal
    if principal is None:
        raise MixunError("not_authenticated")
    if perm is Perm.SESSION:
        return principal
    if principal.must_change_password:
        raise MixunError("password_change_required")
    if perm is Perm.TOTP_SETUP:
        return principal
    if principal.must_enroll_totp:
        raise MixunError("totp_enrollment_required")
    if perm is Perm.RULES:
        return principal
    if principal.must_accept_rules:
        raise MixunError("rules_acceptance_required")
    if perm not in principal.perms:
        raise MixunError("forbidden")
    return principal
