"""Login, sessions, passwords and two-factor.

Tokens are random and stored only as their SHA-256. A failed attempt's counter and audit record are
committed before the error goes back, so a client cannot roll back its own failures.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import ipaddress
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError

from mixun import metrics
from mixun.db.models import KnownClient, LoginAlert, PasswordHistory, RecoveryCode, User
from mixun.db.models import Session as DbSession
from mixun.domain.audit_actions import AuditAction
from mixun.domain.events import EventType
from mixun.domain.passwords import configured_words, password_rule_failures
from mixun.domain.roles import ADMIN_ROLES, Role, needs_totp, permissions_for
from mixun.errors import MixunError
from mixun.services import audit, events, rules_gate
from mixun.services.people import find_user_by_username, get_user, unit_path
from mixun.services.runtime import Ctx, Principal, PrincipalCache, Runtime
from mixun.storage import Session
from mixun.storage import credentials as credential_store
from mixun.storage import login_alerts as login_alert_store
from mixun.storage import login_throttle as throttle_store
from mixun.storage import sessions as session_store
from mixun.storage import users as user_store

_DUMMY_HASH: str | None = None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def address_allowed(rt: Runtime, ip: str) -> bool:
    """Whether ``ip`` is inside MIXUN_ALLOWED_NETWORKS; the decision is kept per address, so checking
    every request and connection costs one dictionary lookup."""
    decisions = rt.address_decisions
    hit = decisions.get(ip)
    if hit is None:
        try:
            addr = ipaddress.ip_address(ip)
            hit = any(addr in net for net in rt.settings.allowed_networks)
        except ValueError:
            hit = False
        if len(decisions) > 10_000:
            decisions.clear()
        decisions[ip] = hit
    return hit


def network_allowed(ctx: Ctx) -> bool:
    return address_allowed(ctx.rt, ctx.ip)


def require_address(ctx: Ctx) -> None:
    """Every request and WebSocket connection comes from an allowed network, not only the login."""
    if not address_allowed(ctx.rt, ctx.ip):
        raise MixunError("address_not_allowed")


# Counters of unknown usernames not failed for this long are dropped (a real account's count stays
# until its next success or lockout; this keeps the table from growing for ever).
UNKNOWN_NAME_KEEP_SECONDS = 30 * 86400


class LoginThrottle:
    """Failed logins counted by address (a wall against guessing across many accounts, and against one
    address locking many people out) and for unknown usernames, which lock exactly as real ones do, so
    the answers never tell which usernames exist. Kept in the database (``login_throttle``), so every
    server process (``--workers N``, several hosts) counts the same failures."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt

    @staticmethod
    def address_key(ip: str) -> str:
        return f"addr:{ip}"[:80]

    def name_key(self, name: str) -> str:
        """A keyed digest, never the typed text (people type their password into the username field)."""
        digest = hmac.new(self.rt.keys.master, b"login-throttle:" + name.strip().lower().encode("utf-8", "replace"),
                          hashlib.sha256)
        return "name:" + digest.hexdigest()[:40]

    def _row(self, key: str) -> tuple[int, float, float] | None:
        with self.rt.db.read() as s:
            return throttle_store.find_count(s, key)

    def address_blocked(self, ip: str, limit: int, window: float) -> bool:
        row = self._row(self.address_key(ip))
        return row is not None and row[0] >= limit and row[1] > time.time() - window

    def unknown_locked_until(self, name: str) -> float:
        row = self._row(self.name_key(name))
        return row[2] if row is not None and row[2] > time.time() else 0.0

    @staticmethod
    def _count(s: Session, key: str, now: float, window: float) -> int:
        """One more failure for ``key`` in one statement (no lost counts between processes); a window
        that has passed starts again at this failure. Returns the count."""
        return throttle_store.add_failure(s, key, now, window)

    def address_failed(self, s: Session, ip: str, window: float) -> None:
        now = time.time()
        self._count(s, self.address_key(ip), now, window)
        if secrets.randbelow(64) == 0:  # now and then, forget what no longer counts
            throttle_store.delete_stale(s, now, window, UNKNOWN_NAME_KEEP_SECONDS)

    def unknown_failed(self, s: Session, name: str, threshold: int, minutes: float) -> float:
        """Count a failure for an unknown name; returns the lock's end when this one locks it, else 0.
        ``window_start`` is the last failure here: the count lasts until a lockout, as a real one does."""
        key, now = self.name_key(name), time.time()
        count = self._count(s, key, now, UNKNOWN_NAME_KEEP_SECONDS)
        throttle_store.update_window_start(s, key, now)
        if count < threshold:
            return 0.0
        until = now + minutes * 60
        throttle_store.update_locked(s, key, until)
        return until


def login_throttle(rt: Runtime) -> LoginThrottle:
    """The throttle's state is in the database: every process counts the same failures."""
    return LoginThrottle(rt)


def _address_limit(rt: Runtime) -> int:
    return int(rt.settings.extra.get("MIXUN_LOGIN_ADDRESS_LIMIT", "20"))


@dataclass
class LoginResult:
    token: str
    user: dict[str, Any]
    must_change_password: bool
    must_enroll_totp: bool
    must_accept_rules: bool = False


def _verify_password(ctx: Ctx, password_hash: str, password: str) -> bool:
    try:
        return ctx.rt.hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _fail(ctx: Ctx, code: str, username: str, user: User | None, reason: str, counted: bool = False,
          **details: Any) -> MixunError:
    """Record a failed login in its own committed transaction and return the error to raise. ``counted``:
    the attempt was already added to the account's failures before the password was checked."""
    settings = ctx.rt.settings
    metrics.LOGIN_FAILURES.labels(reason).inc()
    throttle = login_throttle(ctx.rt)
    locked_now = False
    with ctx.rt.db.write() as s:
        if reason in ("bad_password", "bad_otp", "unknown_user", "locked"):
            throttle.address_failed(s, ctx.ip, settings.lockout_minutes * 60)
        if user is None and reason == "unknown_user":  # locks as a real account would: no username probing
            locked_now = throttle.unknown_failed(s, username, settings.lockout_threshold,
                                                 settings.lockout_minutes) > 0
        if user is not None and reason in ("bad_password", "bad_otp"):
            u = user_store.find_user(s, user.id)
            assert u is not None
            if not counted:
                u.failed_logins += 1
            if u.failed_logins >= settings.lockout_threshold:
                now = datetime.now(UTC)
                u.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                u.failed_logins = 0
                locked_now = True
                audit.record(s, ctx, AuditAction.AUTH_ACCOUNT_LOCKED, target=f"user:{u.id}", outcome="success",
                             actor_id=u.id, minutes=settings.lockout_minutes)
                _flag(s, ctx, u, ["locked_out"], now)
        audit.record(s, ctx, AuditAction.AUTH_LOGIN_FAILED, target=f"user:{user.id}" if user else "",
                     outcome="failure", actor_id=user.id if user else None,
                     username=user.username if user else _unknown_name(ctx, username), reason=reason)
    if locked_now:
        metrics.LOCKOUTS.inc()
        details["locked"] = True
    return MixunError(code, **details)


def _unknown_name(ctx: Ctx, typed: str) -> str:
    """What the audit trail keeps of a username that names no account: a keyed digest, never the text
    (people type their password into the username field). The same text gives the same digest, so the
    auditor still sees repeated attempts at one name."""
    digest = hmac.new(ctx.rt.keys.master, b"login-name:" + typed.encode("utf-8", "replace"), hashlib.sha256)
    return "unknown:" + digest.hexdigest()[:16]


def _typed_name(s: Session, ctx: Ctx, typed: str) -> str:
    """A typed username as the audit trail may keep it: the account's own name, or a digest (above)."""
    name = typed.strip()[:64]
    known = user_store.find_username(s, name) if name else None
    return known or _unknown_name(ctx, typed)


def _flag(s: Session, ctx: Ctx, u: User, reasons: list[str], now: datetime) -> None:
    """A login alert for the person and for every secadmin (login alerts console, live notice)."""
    alert = LoginAlert(user_id=u.id, ip=ctx.ip, user_agent=ctx.client[:300], reasons=reasons)
    s.add(alert)
    s.flush()
    audit.record(s, ctx, AuditAction.AUTH_LOGIN_FLAGGED, target=f"user:{u.id}", reasons=reasons)
    body = {"alert": {"id": alert.id, "user_id": u.id, "username": u.username, "name": u.name,
                      "ip": ctx.ip, "reasons": reasons, "created_at": now.isoformat()}}
    secadmins = [uid for uid, roles in user_store.list_all_roles(s) if Role.SECADMIN.value in roles]
    events.emit(s, ctx, set(secadmins) | {u.id}, EventType.SECURITY_LOGIN_FLAGGED, body)


def login(ctx: Ctx, username: str, password: str, otp: str | None) -> LoginResult:
    global _DUMMY_HASH
    settings = ctx.rt.settings
    if not network_allowed(ctx):
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.AUTH_LOGIN_REFUSED, outcome="failure", username=_typed_name(s, ctx, username),
                         reason="network_not_allowed")
        raise MixunError("network_not_allowed")
    if login_throttle(ctx.rt).address_blocked(ctx.ip, _address_limit(ctx.rt), settings.lockout_minutes * 60):
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.AUTH_LOGIN_REFUSED, outcome="failure", username=_typed_name(s, ctx, username),
                         reason="too_many_attempts")
        raise MixunError("too_many_attempts")
    now = datetime.now(UTC)
    with ctx.rt.db.read() as s:
        user = find_user_by_username(s, username)
        if user is not None:
            s.expunge(user)
    if user is None:
        until = login_throttle(ctx.rt).unknown_locked_until(username)
        if until:
            raise _fail(ctx, "account_locked", username, None, "locked",
                        locked_until=datetime.fromtimestamp(until, UTC).isoformat())
        if _DUMMY_HASH is None:
            _DUMMY_HASH = ctx.rt.hasher.hash(secrets.token_hex(8))
        _verify_password(ctx, _DUMMY_HASH, password)  # same cost as a real user: no username probing
        raise _fail(ctx, "invalid_credentials", username, None, "unknown_user")
    if user.locked_until and user.locked_until > now:
        raise _fail(ctx, "account_locked", username, user, "locked",
                    locked_until=user.locked_until.isoformat())
    if not _verify_password(ctx, user.password_hash, password):
        raise _fail(ctx, "invalid_credentials", username, user, "bad_password")
    if user.disabled:
        raise _fail(ctx, "account_disabled", username, user, "disabled")
    if user.totp_enabled:
        if not otp:
            raise MixunError("otp_required")
        if not _check_otp_or_recovery(ctx, user, otp):
            raise _fail(ctx, "otp_required", username, user, "bad_otp")

    token = secrets.token_urlsafe(32)
    # The session starts when it is made: the password hash (argon2) and the one-time code took their
    # time, and a clock read before them would eat into a short idle limit.
    now = datetime.now(UTC)
    with ctx.rt.db.write() as s:
        u = get_user(s, user.id)
        had_failures = u.failed_logins > 0
        u.failed_logins = 0
        u.locked_until = None
        u.last_login_at = now
        if ctx.rt.hasher.check_needs_rehash(u.password_hash):
            u.password_hash = ctx.rt.hasher.hash(password)
        expired = u.password_changed_at + timedelta(days=settings.password_max_age_days) < now
        if expired:
            u.must_change_password = True
        sess = DbSession(user_id=u.id, token_hash=_sha(token), created_at=now, last_seen_at=now,
                         expires_at=now + timedelta(hours=settings.session_absolute_hours),
                         ip=ctx.ip, user_agent=ctx.client[:300])
        s.add(sess)
        s.flush()
        ctx_user = Ctx(rt=ctx.rt, ip=ctx.ip, client=ctx.client, locale=ctx.locale,
                       principal=_principal(u, sess.id, settings.totp_required_for_all))
        reasons = _unusual_login_reasons(s, ctx, u, had_failures, now)
        audit.record(s, ctx_user, AuditAction.AUTH_LOGIN_SUCCEEDED, target=f"user:{u.id}", session_id=sess.id,
                     password_expired=expired)
        if reasons:
            _flag(s, ctx_user, u, reasons, now)
        principal = _principal(u, sess.id, settings.totp_required_for_all,
                               must_accept_rules=rules_gate.needs_acceptance(s, u.id, now))
        view = me_view(s, u, principal)
    return LoginResult(token=token, user=view, must_change_password=principal.must_change_password,
                       must_enroll_totp=principal.must_enroll_totp, must_accept_rules=principal.must_accept_rules)


def _unusual_login_reasons(s: Session, ctx: Ctx, u: User, had_failures: bool, now: datetime) -> list[str]:
    reasons: list[str] = []
    fingerprint = _sha(f"{ctx.ip}|{ctx.client}")
    known = credential_store.list_known_clients(s, u.id)
    if fingerprint not in known:
        if known:  # the very first login of an account is not "unusual"
            reasons.append("new_client")
        s.add(KnownClient(user_id=u.id, fingerprint=fingerprint))
    settings = ctx.rt.settings
    local_hour = (now + timedelta(hours=settings.work_timezone_offset_hours)).hour
    start, end = settings.work_hours
    if not (start <= local_hour < end):
        reasons.append("outside_working_hours")
    if had_failures:
        reasons.append("after_failures")
    # Another live session of this account from another machine (address or client): one account, one
    # person, so two places at once is worth a look.
    idle = timedelta(minutes=settings.session_idle_minutes)
    others = session_store.list_live_places(s, u.id, now, now - idle)
    if any(ip != ctx.ip or ua != ctx.client[:300] for ip, ua in others):
        reasons.append("concurrent_session")
    return reasons


def _check_otp_or_recovery(ctx: Ctx, user: User, otp: str) -> bool:
    code = otp.strip().replace(" ", "")
    secret = ctx.rt.keys.decrypt_small(user.totp_secret_enc, "totp").decode() if user.totp_secret_enc else ""
    if secret and code.isdigit() and len(code) == 6:
        totp = pyotp.TOTP(secret)
        now = datetime.now(UTC)
        for offset in (-1, 0, 1):
            at = now + timedelta(seconds=30 * offset)
            step = int(at.timestamp()) // 30
            if step > user.totp_last_step and secrets.compare_digest(totp.at(at), code):
                with ctx.rt.db.write() as s:  # a code is good once (no replay)
                    credential_store.update_totp_last_step(s, user.id, step)
                return True
        return False
    with ctx.rt.db.write() as s:
        row = credential_store.find_unused_recovery_code(s, user.id, _sha(code.lower()))
        if row is None:
            return False
        row.used_at = datetime.now(UTC)
        audit.record(s, ctx, AuditAction.AUTH_RECOVERY_CODE_USED, target=f"user:{user.id}", actor_id=user.id)
        return True


def _principal(u: User, session_id: int | None, totp_for_all: bool, locked: bool = False,
               must_accept_rules: bool = False) -> Principal:
    roles = tuple(u.roles)
    return Principal(
        user_id=u.id, username=u.username, name=u.name, roles=roles, perms=permissions_for(roles),
        session_id=session_id, must_change_password=u.must_change_password,
        must_enroll_totp=needs_totp(list(roles), totp_for_all) and not u.totp_enabled, locked=locked,
        must_accept_rules=must_accept_rules,
    )


CACHE_SECONDS = 60.0
# A session's activity is noted (in memory) at most once a second: precise enough that a session in use
# never idles out early, whatever the limit. The database learns it in batches (flush_touches).
TOUCH_SECONDS = 1.0


def flush_touches(rt: Runtime) -> int:
    """Write the sessions' pending last-seen times in one transaction; returns how many."""
    cache = principal_cache(rt)
    touches = cache.take_touches()
    if not touches:
        return 0
    try:
        with rt.db.write() as s:  # one statement whatever the number (a thousand clients: 1 against 1,000)
            session_store.update_last_seen(s, touches)
    except Exception:
        cache.restore_touches(touches)
        raise
    return len(touches)


def principal_cache(rt: Runtime) -> PrincipalCache:
    return rt.principal_cache


def account_changed(s: Session, ctx: Ctx, user_id: int) -> None:
    """After commit, every process forgets cached sessions of this account."""
    from mixun.db.engine import on_commit

    notify = ctx.rt.notify
    cache = principal_cache(ctx.rt)
    bump_epoch(s)
    def after() -> None:
        cache.forget(user_ids=[user_id])
        notify({"control": "account_changed", "user_ids": [user_id]})

    on_commit(s, after)


def bump_epoch(s: Session) -> None:
    """Move the revocation epoch in this transaction: every server drops its session cache when it sees
    the move (within WATCH_SECONDS), whichever process made the change (the CLI included)."""
    session_store.bump_epoch(s)


def read_epoch(rt: Any) -> int:
    with rt.db.read() as s:
        return int(session_store.find_epoch(s) or 0)


def touch_session(rt: Any, session_id: int) -> None:
    """A client's own WebSocket frame is activity, as a request is (server pushes are not)."""
    principal_cache(rt).touch_session(session_id, datetime.now(UTC))


def cached_principal(ctx: Ctx, token: str, browser: bool = True) -> Principal | None:
    """The principal behind a token when the cache can tell without the database (no I/O: the event
    loop calls it directly); None when ``authenticate`` must look."""
    if not token:
        return None
    now = datetime.now(UTC)
    key = _sha(token)
    cache = principal_cache(ctx.rt)
    hit = cache.get(key)
    if hit is None:
        return None
    principal, expires_at, last_seen, cached_at = hit
    settings = ctx.rt.settings
    idle = timedelta(minutes=settings.session_idle_minutes)
    seen = cache.last_activity(principal.session_id or 0)
    if seen is not None and seen > last_seen:
        last_seen = seen
    idle_lock = settings.idle_lock_minutes if browser else 0
    if not principal.locked and idle_lock > 0 and last_seen + timedelta(minutes=idle_lock) <= now:
        return None  # the session is due to be locked: authenticate does it
    if time.monotonic() - cached_at < CACHE_SECONDS and expires_at > now and last_seen + idle > now:
        if (now - last_seen).total_seconds() > TOUCH_SECONDS:
            cache.touch(key, principal.session_id or 0, now)
        return principal
    return None


def authenticate(ctx: Ctx, token: str, browser: bool = True) -> Principal:
    """The principal behind a bearer token or session cookie; 401 when missing, expired or revoked.

    ``browser``: the token came as the session cookie, so the idle lock applies (a session with no
    activity for MIXUN_IDLE_LOCK_MINUTES is locked, as its page would be); API clients that send the
    token themselves have no lock screen, only the idle timeout."""
    if not token:
        raise MixunError("not_authenticated")
    hit = cached_principal(ctx, token, browser)
    if hit is not None:
        return hit
    settings = ctx.rt.settings
    now = datetime.now(UTC)
    key = _sha(token)
    cache = principal_cache(ctx.rt)
    generation = cache.generation
    idle = timedelta(minutes=settings.session_idle_minutes)
    with ctx.rt.db.read() as s:
        row = session_store.find_with_user(s, key)
        pending_rules = row is not None and rules_gate.needs_acceptance(s, row[1].id, now)
    if row is None:
        raise MixunError("not_authenticated")
    sess, user = row
    if sess.revoked_at is not None or user.disabled:
        raise MixunError("session_expired")
    last_seen = max([t for t in (sess.last_seen_at, cache.pending_touch(sess.id), cache.last_activity(sess.id))
                     if t is not None])
    if sess.expires_at <= now or last_seen + idle <= now:
        with ctx.rt.db.write() as s:
            session_store.update_revoked_one(s, sess.id, now)
            audit.record(s, ctx, AuditAction.SESSION_EXPIRED, target=f"session:{sess.id}", actor_id=user.id)
        raise MixunError("session_expired")
    locked = sess.locked_at is not None
    idle_lock = settings.idle_lock_minutes if browser else 0
    if not locked and idle_lock > 0 and last_seen + timedelta(minutes=idle_lock) <= now:
        # Nobody used the session for the idle-lock time (no request, no frame of the client's own):
        # it is locked on the server, as the page would have locked it.
        _set_locked(ctx, sess.id, user.id, True, "idle")
        locked = True
        generation = cache.generation
    principal = _principal(user, sess.id, settings.totp_required_for_all, locked, pending_rules)
    cache.put(key, (principal, sess.expires_at, last_seen, time.monotonic()), generation)
    if (now - last_seen).total_seconds() > TOUCH_SECONDS:
        cache.touch(key, sess.id, now)
    return principal


def _set_locked(ctx: Ctx, session_id: int, user_id: int, locked: bool, why: str) -> None:
    with ctx.rt.db.write() as s:
        _set_locked_txn(s, ctx, session_id, user_id, locked, why)


def _set_locked_txn(s: Session, ctx: Ctx, session_id: int, user_id: int, locked: bool, why: str) -> None:
    from mixun.db.engine import on_commit

    session_store.update_locked(s, session_id, datetime.now(UTC) if locked else None)
    audit.record(s, ctx, AuditAction.AUTH_SCREEN_LOCKED if locked else AuditAction.AUTH_SCREEN_UNLOCKED,
                 target=f"session:{session_id}", actor_id=user_id, reason=why)
    bump_epoch(s)
    cache, notify = principal_cache(ctx.rt), ctx.rt.notify
    control = "sessions_locked" if locked else "sessions_unlocked"
    def after() -> None:
        cache.forget(session_ids=[session_id])
        notify({"control": control, "session_ids": [session_id]})

    on_commit(s, after)


def lock_session(ctx: Ctx) -> None:
    """Lock the caller's session on the server: every call but unlock, logout and a minimal /me answers
    423 session_locked, and its WebSocket connections are closed (4023) until it is unlocked."""
    assert ctx.principal is not None and ctx.principal.session_id
    _set_locked(ctx, ctx.principal.session_id, ctx.user_id, True, "requested")


def unlock_session(ctx: Ctx, password: str) -> None:
    """Unlock with the account's password. Attempts count toward the account lockout; a locked-out account
    cannot be unlocked by guessing, and reaching the lockout ends the session."""
    assert ctx.principal is not None
    now = datetime.now(UTC)
    threshold = ctx.rt.settings.lockout_threshold
    with ctx.rt.db.write() as s:
        # The attempt counts before the password is checked, in one statement: guesses sent at once cannot
        # all be checked against a counter none of them has raised yet.
        taken = credential_store.update_failed_login(s, ctx.user_id, threshold, now)
        user = get_user(s, ctx.user_id)
        s.expunge(user)
    if not taken:
        until = user.locked_until.isoformat() if user.locked_until and user.locked_until > now else None
        raise _fail(ctx, "account_locked", user.username, user, "locked", locked_until=until)
    if not _verify_password(ctx, user.password_hash, password):
        err = _fail(ctx, "invalid_credentials", user.username, user, "bad_password", counted=True)
        if err.details.get("locked"):
            with ctx.rt.db.write() as s:
                _revoke(s, ctx, [ctx.principal.session_id or 0], "locked_out")
            raise MixunError("account_locked", locked=True)
        raise err
    with ctx.rt.db.write() as s:
        u = get_user(s, user.id)
        u.failed_logins = 0
        _set_locked_txn(s, ctx, ctx.principal.session_id or 0, user.id, False, "password")


def session_states(ctx: Ctx, session_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """(alive, locked) among these sessions: one query per 500 ids, for the live-connection watch."""
    ids = list(session_ids)
    now = datetime.now(UTC)
    alive: set[int] = set()
    locked: set[int] = set()
    with ctx.rt.db.read() as s:
        for i in range(0, len(ids), 500):
            for sid, locked_at in session_store.list_live_states(s, ids[i:i + 500], now):
                alive.add(sid)
                if locked_at is not None:
                    locked.add(sid)
    return alive, locked


def expire_idle(ctx: Ctx, session_ids: Iterable[int]) -> list[int]:
    """End those of these sessions that have had no activity for the idle limit, in any process this one
    can see (its own touches and the database's); returns the ones ended."""
    ids = list(session_ids)
    if not ids:
        return []
    flush_touches(ctx.rt)
    cache = principal_cache(ctx.rt)
    now = datetime.now(UTC)
    idle = timedelta(minutes=ctx.rt.settings.session_idle_minutes)
    with ctx.rt.db.read() as s:
        rows = session_store.list_unrevoked_seen(s, ids)
    stale: list[tuple[int, int]] = []
    for sid, uid, seen in rows:
        local = cache.last_activity(sid)
        last = max(seen, local) if local is not None else seen
        if last + idle <= now:
            stale.append((sid, uid))
        else:  # another process saw it lately: remember that here, so it is not looked up every second
            cache.touch_session_seen(sid, last)
    if not stale:
        return []
    with ctx.rt.db.write() as s:
        for sid, uid in stale:
            audit.record(s, ctx, AuditAction.SESSION_EXPIRED, target=f"session:{sid}", actor_id=uid, reason="idle")
        return _revoke(s, ctx, [sid for sid, _ in stale], "idle")


def sessions_alive(ctx: Ctx, session_ids: Iterable[int]) -> set[int]:
    """Which of these sessions are still valid: one query per 500 ids, for the live-connection sweep."""
    ids = list(session_ids)
    now = datetime.now(UTC)
    alive: set[int] = set()
    with ctx.rt.db.read() as s:
        for i in range(0, len(ids), 500):
            alive.update(session_store.list_live_ids(s, ids[i:i + 500], now))
    return alive


def logout(ctx: Ctx) -> None:
    assert ctx.principal is not None
    with ctx.rt.db.write() as s:
        _revoke(s, ctx, [ctx.principal.session_id or 0], "logout")
        audit.record(s, ctx, AuditAction.AUTH_LOGOUT, target=f"session:{ctx.principal.session_id}")


def _revoke(s: Session, ctx: Ctx, session_ids: list[int], reason: str) -> list[int]:
    now = datetime.now(UTC)
    ids = session_store.update_revoked(s, session_ids, now)
    if ids:
        bump_epoch(s)
        notify = ctx.rt.notify
        cache = principal_cache(ctx.rt)
        from mixun.db.engine import on_commit

        def after() -> None:
            cache.forget(session_ids=ids)
            notify({"control": "sessions_revoked", "session_ids": ids, "reason": reason})

        on_commit(s, after)
    return ids


def revoke_user_sessions_txn(s: Session, ctx: Ctx, user_id: int, reason: str,
                             keep: int | None = None) -> list[int]:
    ids = session_store.list_active_ids(s, user_id)
    return _revoke(s, ctx, [i for i in ids if i != keep], reason)


def logout_all(ctx: Ctx) -> int:
    assert ctx.principal is not None
    with ctx.rt.db.write() as s:
        ids = revoke_user_sessions_txn(s, ctx, ctx.user_id, "logout_all")
        audit.record(s, ctx, AuditAction.AUTH_LOGOUT_ALL, target=f"user:{ctx.user_id}", sessions=len(ids))
    return len(ids)


def list_sessions(ctx: Ctx, user_id: int | None = None) -> list[dict[str, Any]]:
    flush_touches(ctx.rt)
    now = datetime.now(UTC)
    idle = timedelta(minutes=ctx.rt.settings.session_idle_minutes)
    with ctx.rt.db.read() as s:
        rows = session_store.list_live_with_names(s, now, now - idle, user_id, 200)
    current = ctx.principal.session_id if ctx.principal else None
    return [{"id": r[0].id, "user_id": r[0].user_id, "username": r[1], "name": r[2],
             "created_at": r[0].created_at.isoformat(), "last_seen_at": r[0].last_seen_at.isoformat(),
             "ip": r[0].ip, "user_agent": r[0].user_agent, "current": r[0].id == current} for r in rows]


def end_own_session(ctx: Ctx, session_id: int) -> None:
    with ctx.rt.db.write() as s:
        sess = session_store.find_session(s, session_id)
        if sess is None or sess.user_id != ctx.user_id:
            raise MixunError("not_found")
        _revoke(s, ctx, [session_id], "ended_by_user")
        audit.record(s, ctx, AuditAction.SESSION_ENDED, target=f"session:{session_id}")


def change_password(ctx: Ctx, old_password: str, new_password: str) -> None:
    settings = ctx.rt.settings
    with ctx.rt.db.read() as s:
        user = get_user(s, ctx.user_id)
        s.expunge(user)
    if not _verify_password(ctx, user.password_hash, old_password):
        with ctx.rt.db.write() as s:
            audit.record(s, ctx, AuditAction.AUTH_PASSWORD_CHANGE_FAILED, target=f"user:{user.id}", outcome="failure",
                         reason="bad_old_password")
        raise MixunError("invalid_credentials", ("原密码不正确", "The current password is wrong"))
    failures = password_rule_failures(new_password, user.username, configured_words(settings.extra))
    with ctx.rt.db.read() as s:
        history = credential_store.list_password_hashes(s, user.id, settings.password_history)
    if any(_verify_password(ctx, h, new_password) for h in history):
        failures.append("reused")
    if failures:
        raise MixunError("weak_password", rules=failures)
    new_hash = ctx.rt.hasher.hash(new_password)
    with ctx.rt.db.write() as s:
        u = get_user(s, user.id)
        u.password_hash = new_hash
        u.password_changed_at = datetime.now(UTC)
        u.must_change_password = False
        s.add(PasswordHistory(user_id=u.id, password_hash=new_hash))
        revoke_user_sessions_txn(s, ctx, u.id, "password_changed", keep=ctx.principal.session_id
                                 if ctx.principal else None)
        audit.record(s, ctx, AuditAction.AUTH_PASSWORD_CHANGED, target=f"user:{u.id}")
        account_changed(s, ctx, u.id)


# --- two-factor -----------------------------------------------------------------------------------

def totp_enroll(ctx: Ctx) -> dict[str, str]:
    import qrcode
    import qrcode.image.svg

    secret = pyotp.random_base32()
    with ctx.rt.db.write() as s:
        u = get_user(s, ctx.user_id)
        if u.totp_enabled:
            raise MixunError("totp_already_enabled")
        u.totp_secret_enc = ctx.rt.keys.encrypt_small(secret.encode(), "totp")
        audit.record(s, ctx, AuditAction.AUTH_TOTP_ENROLLMENT_STARTED, target=f"user:{u.id}")
        uri = pyotp.TOTP(secret).provisioning_uri(name=u.username, issuer_name="Mixun 密讯")
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    img.save(buf)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": buf.getvalue().decode()}


def totp_verify(ctx: Ctx, otp: str) -> list[str]:
    with ctx.rt.db.read() as s:
        u = get_user(s, ctx.user_id)
        s.expunge(u)
    if u.totp_enabled or not u.totp_secret_enc:
        raise MixunError("totp_not_started")
    secret = ctx.rt.keys.decrypt_small(u.totp_secret_enc, "totp").decode()
    if not pyotp.TOTP(secret).verify(otp.strip(), valid_window=1):
        raise MixunError("invalid_otp")
    codes = [secrets.token_hex(5) for _ in range(10)]
    with ctx.rt.db.write() as s:
        user = get_user(s, u.id)
        user.totp_enabled = True
        user.totp_last_step = int(datetime.now(UTC).timestamp()) // 30
        for old in credential_store.list_recovery_codes(s, u.id):
            s.delete(old)
        for c in codes:
            s.add(RecoveryCode(user_id=u.id, code_hash=_sha(c)))
        audit.record(s, ctx, AuditAction.AUTH_TOTP_ENABLED, target=f"user:{u.id}")
        account_changed(s, ctx, u.id)
    return codes


def totp_disable(ctx: Ctx, password: str) -> None:
    assert ctx.principal is not None
    if needs_totp(list(ctx.principal.roles), ctx.rt.settings.totp_required_for_all):
        raise MixunError("totp_required_for_role")
    with ctx.rt.db.read() as s:
        u = get_user(s, ctx.user_id)
        ok = _verify_password(ctx, u.password_hash, password)
    if not ok:
        raise MixunError("invalid_credentials", ("密码不正确", "The password is wrong"))
    with ctx.rt.db.write() as s:
        user = get_user(s, ctx.user_id)
        user.totp_enabled = False
        user.totp_secret_enc = None
        audit.record(s, ctx, AuditAction.AUTH_TOTP_DISABLED, target=f"user:{user.id}")
        account_changed(s, ctx, user.id)


# --- views ----------------------------------------------------------------------------------------

def me_view(s: Session, u: User, principal: Principal | None = None) -> dict[str, Any]:
    if principal is not None and principal.locked:  # a locked session learns only whose lock screen it is
        return {"id": u.id, "username": u.username, "name": u.name, "locked": True,
                "must_change_password": False, "must_enroll_totp": False, "roles": []}
    return {
        "id": u.id, "username": u.username, "name": u.name, "employee_no": u.employee_no, "phone": u.phone,
        "unit": unit_path(s, u.unit_id), "unit_id": u.unit_id, "position": u.position,
        "status": u.work_status, "work_status": u.work_status, "roles": list(u.roles),
        "is_admin": any(r in ADMIN_ROLES for r in u.roles), "hr_verified": u.hr_verified,
        "totp_enabled": u.totp_enabled,
        "must_change_password": principal.must_change_password if principal else u.must_change_password,
        "must_enroll_totp": principal.must_enroll_totp if principal else False,
        "must_accept_rules": principal.must_accept_rules if principal else False,
        "locked": False,
    }


def me(ctx: Ctx) -> dict[str, Any]:
    with ctx.rt.db.read() as s:
        return me_view(s, get_user(s, ctx.user_id), ctx.principal)


def login_alerts(ctx: Ctx, user_id: int | None, limit: int = 50) -> list[dict[str, Any]]:
    with ctx.rt.db.read() as s:
        rows = login_alert_store.list_alerts(s, user_id, limit)
    return [{"id": a.id, "user_id": a.user_id, "username": un, "name": nm, "ip": a.ip,
             "user_agent": a.user_agent, "reasons": list(a.reasons), "created_at": a.created_at.isoformat()}
            for a, un, nm in rows]
