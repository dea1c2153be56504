"""Optional LDAP / Active Directory sync (issue 21 item 2): `mixun org ldap-sync [--dry-run]`.

The directory is read with ldap3 (paged search under the base DN) and each person found becomes one row
of HR's import (services/org_import.py), so the sync runs the very same plan/apply engine as
`mixun org import`: units made as people need them, people created, moved, renamed, re-titled,
departed; one transaction, audited (``org.ldap_synced``); a dry run prints exactly what would change and
changes nothing. Every run (dry or real, succeeded or not) is kept in ``directory_syncs`` and HR's
console shows the last one: when, the counts, and what went wrong.

A person's unit is the chain of ``ou`` components of their DN under the base DN, outermost first
(``uid=zhangsan,ou=信息科技部,ou=总行,dc=bank,dc=cn`` -> ``总行/信息科技部``), or an attribute when
``MIXUN_LDAP_ATTR_UNIT`` names one. A disabled Active Directory account (``userAccountControl`` bit 2),
or an entry whose ``MIXUN_LDAP_ATTR_STATUS`` attribute says one of ``MIXUN_LDAP_DEPARTED_VALUES``, is a
departure. People absent from the directory are left as they are, as with the import. Settings:
docs/organisation.md. The bind password (``MIXUN_LDAP_PASSWORD`` or ``MIXUN_LDAP_PASSWORD_FILE``) never
reaches a log, an error message or the audit trail.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mixun.db.models import DirectorySync
from mixun.domain.audit_actions import AuditAction
from mixun.services.org_import import Progress, apply_rows
from mixun.services.runtime import Ctx

log = logging.getLogger("mixun.ldap_sync")
SOURCE = "ldap"
AD_DISABLED = 0x2  # userAccountControl ACCOUNTDISABLE
MAX_ERRORS_KEPT = 50

# Attribute defaults: OpenLDAP's inetOrgPerson, and Active Directory's (MIXUN_LDAP_KIND=ad).
_DEFAULTS = {
    "openldap": {"username": "uid", "employee_no": "employeeNumber", "name": "cn", "position": "title",
                 "phone": "telephoneNumber", "unit": "", "status": "", "filter": "(&(objectClass=person)(employeeNumber=*))"},
    "ad": {"username": "sAMAccountName", "employee_no": "employeeID", "name": "displayName", "position": "title",
           "phone": "telephoneNumber", "unit": "", "status": "userAccountControl",
           "filter": "(&(objectCategory=person)(objectClass=user)(employeeID=*))"},
}


class LdapSyncError(Exception):
    """The directory could not be read (not configured, unreachable, bind refused, bad base DN). The
    message names what and where, never the password."""


@dataclass(frozen=True)
class LdapConfig:
    url: str
    bind_dn: str
    password: str = field(repr=False)
    base_dn: str
    kind: str = "openldap"
    attrs: Mapping[str, str] = field(default_factory=dict)
    user_filter: str = ""
    departed_values: tuple[str, ...] = ("departed", "inactive", "disabled", "离职")
    start_tls: bool = False
    ca_file: str = ""
    timeout: float = 10.0
    page_size: int = 500

    def describe(self) -> str:
        """Where and as whom, for messages (never the password)."""
        return f"{self.url} as {self.bind_dn or '(anonymous)'} under {self.base_dn}"


def config_from(extra: Mapping[str, str]) -> LdapConfig:
    """The LdapConfig MIXUN_LDAP_* describe; LdapSyncError naming what is missing or wrong."""
    def get(name: str, default: str = "") -> str:
        return (extra.get(f"MIXUN_LDAP_{name}") or default).strip()

    url, base = get("URL"), get("BASE_DN")
    if not url or not base:
        raise LdapSyncError("LDAP sync is not configured: set MIXUN_LDAP_URL and MIXUN_LDAP_BASE_DN "
                            "(docs/organisation.md)")
    if not url.lower().startswith(("ldap://", "ldaps://")):
        raise LdapSyncError(f"MIXUN_LDAP_URL must start with ldap:// or ldaps://, not {url[:40]!r}")
    kind = get("KIND", "openldap").lower()
    if kind not in _DEFAULTS:
        raise LdapSyncError(f"MIXUN_LDAP_KIND must be openldap or ad, not {kind!r}")
    password = extra.get("MIXUN_LDAP_PASSWORD", "")
    pw_file = get("PASSWORD_FILE")
    if pw_file:
        try:
            password = Path(pw_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LdapSyncError(f"MIXUN_LDAP_PASSWORD_FILE cannot be read: {exc.strerror}") from None
    defaults = _DEFAULTS[kind]
    attrs = {k: get(f"ATTR_{k.upper()}", defaults[k]) for k in
             ("username", "employee_no", "name", "position", "phone", "unit", "status")}
    try:
        timeout = float(get("TIMEOUT", "10"))
    except ValueError:
        raise LdapSyncError("MIXUN_LDAP_TIMEOUT must be a number of seconds") from None
    departed = tuple(v.strip().lower() for v in get("DEPARTED_VALUES", "departed,inactive,disabled,离职").split(",")
                     if v.strip())
    return LdapConfig(url=url, bind_dn=get("BIND_DN"), password=password, base_dn=base, kind=kind, attrs=attrs,
                      user_filter=get("USER_FILTER", defaults["filter"]), departed_values=departed,
                      start_tls=get("STARTTLS").lower() in ("1", "true", "yes"), ca_file=get("CA_FILE"),
                      timeout=timeout)


def _first(entry: Mapping[str, Any], attr: str) -> str:
    if not attr:
        return ""
    for key, value in entry.items():
        if key.lower() == attr.lower():
            if isinstance(value, list):
                value = value[0] if value else ""
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            return str(value).strip()
    return ""


def _unit_from_dn(dn: str, base_dn: str) -> str:
    """The OU chain of ``dn`` under ``base_dn``, outermost first, as a unit path."""
    from ldap3.utils.dn import parse_dn

    base_len = len(parse_dn(base_dn))
    parts = parse_dn(dn)
    inner = parts[1:len(parts) - base_len] if base_len else parts[1:]
    return "/".join(value for attr, value, _sep in reversed(inner) if attr.lower() == "ou")


def entry_row(cfg: LdapConfig, dn: str, entry: Mapping[str, Any]) -> dict[str, str]:
    """One directory entry as a row of HR's import."""
    a = cfg.attrs
    unit = _first(entry, a["unit"]) if a["unit"] else _unit_from_dn(dn, cfg.base_dn)
    status = "active"
    raw = _first(entry, a["status"])
    if raw:
        if cfg.kind == "ad" and a["status"].lower() == "useraccountcontrol":
            status = "departed" if raw.isdigit() and int(raw) & AD_DISABLED else "active"
        elif raw.lower() in cfg.departed_values:
            status = "departed"
    return {"employee_no": _first(entry, a["employee_no"]), "name": _first(entry, a["name"]), "unit": unit,
            "position": _first(entry, a["position"]), "phone": _first(entry, a["phone"]),
            "username": _first(entry, a["username"]), "status": status, "departure_reason": ""}


def read_directory(cfg: LdapConfig) -> list[dict[str, str]]:
    """Every person under the base DN matching the filter, as import rows (paged, so Active Directory's
    1,000-entry limit does not cut the list short)."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    tls = None
    if cfg.url.lower().startswith("ldaps://") or cfg.start_tls:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cfg.ca_file or None)
    server = ldap3.Server(cfg.url, connect_timeout=cfg.timeout, tls=tls, get_info=ldap3.NONE)
    wanted = sorted({v for v in cfg.attrs.values() if v})
    try:
        conn = ldap3.Connection(server, user=cfg.bind_dn or None, password=cfg.password or None,
                                receive_timeout=max(1, int(cfg.timeout)), raise_exceptions=True, read_only=True,
                                auto_referrals=False)
        if cfg.start_tls:
            conn.open()
            conn.start_tls()
        conn.bind()
    except LDAPException as exc:
        # ldap3's messages carry the server's words and the DN, never the password; keep only the class
        # and the result description to be sure.
        raise LdapSyncError(f"cannot bind to {cfg.describe()}: {type(exc).__name__}"
                            f"{': ' + str(getattr(exc, 'description', '') or '') if getattr(exc, 'description', '') else ''}"
                            ) from None
    try:
        rows = []
        for item in conn.extend.standard.paged_search(cfg.base_dn, cfg.user_filter, search_scope=ldap3.SUBTREE,
                                                      attributes=wanted, paged_size=cfg.page_size, generator=True):
            if item.get("type") != "searchResEntry":
                continue
            rows.append(entry_row(cfg, item["dn"], item.get("attributes") or {}))
        return rows
    except LDAPException as exc:
        raise LdapSyncError(f"cannot search {cfg.describe()}: {type(exc).__name__}"
                            f"{': ' + str(getattr(exc, 'description', '') or '') if getattr(exc, 'description', '') else ''}"
                            ) from None
    finally:
        conn.unbind()


def _record(ctx: Ctx, started: datetime, dry_run: bool, ok: bool, counts: Mapping[str, int],
            errors: list[dict[str, str]]) -> None:
    """One run kept; each error in Chinese and English (HR's console shows the reader's language)."""
    with ctx.rt.db.write() as s:
        s.add(DirectorySync(source=SOURCE, started_at=started, finished_at=datetime.now(UTC), dry_run=dry_run,
                            ok=ok, counts=dict(counts), errors=errors[:MAX_ERRORS_KEPT]))


def run_sync(ctx: Ctx, extra: Mapping[str, str], dry_run: bool, progress: Progress | None = None
             ) -> dict[str, Any]:
    """Read the directory and apply it as HR's import would; the outcome as the import's (counts, rows,
    errors) plus ``entries`` read. LdapSyncError when the directory cannot be read (recorded too)."""
    started = datetime.now(UTC)
    try:
        cfg = config_from(extra)
        rows = read_directory(cfg)
    except LdapSyncError as exc:
        log.warning("ldap sync failed: %s", exc)
        _record(ctx, started, dry_run, False, {}, [{"zh": f"无法读取目录，未做任何更改：{exc}", "en": str(exc)}])
        raise
    out = apply_rows(ctx, rows, dry_run, progress, source=f"ldap {cfg.url} {cfg.base_dn}"[:200],
                     action=AuditAction.ORG_LDAP_SYNCED)
    errors = [{"zh": f"工号 {e.get('employee_no') or '?'}：{e['message_zh']}" + (f"（{e['field']}）" if e.get("field") else ""),
               "en": f"{e.get('employee_no') or '?'}: {e['message']}" + (f" ({e['field']})" if e.get("field") else "")}
              for e in out["errors"]]
    _record(ctx, started, dry_run, not errors, out["counts"], errors)
    out["entries"] = len(rows)
    return out


def last_sync(ctx: Ctx) -> dict[str, Any] | None:
    """The last run, for HR's console; None when the sync has never run."""
    with ctx.rt.db.read() as s:
        row = s.execute(select(DirectorySync).where(DirectorySync.source == SOURCE)
                        .order_by(DirectorySync.id.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            return None
        return {"started_at": row.started_at.isoformat(), "finished_at": row.finished_at.isoformat()
                if row.finished_at else None, "dry_run": row.dry_run, "ok": row.ok, "counts": row.counts,
                "errors": row.errors}
