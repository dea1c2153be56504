"""Who is reached how (issue 22 item 9): people's phones and e-mail addresses for the notifier, the
configured supervisor for alerts and escalations, and the dead-letter list for the console.

A person's e-mail address comes from ``MIXUN_EMAIL_ADDRESS``, a template such as
``{username}@bank.example`` (banks give staff addresses by their login names); without it nobody is
e-mailed. The supervisor is ``MIXUN_ESCALATION_EMAIL`` and ``MIXUN_ESCALATION_PHONE`` (comma-separated).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.config import Settings
from mixun.db import sealed
from mixun.db.models import User
from mixun.domain.roles import Perm
from mixun.services import access, texts
from mixun.services.runtime import Ctx, Runtime


def email_of(settings: Settings, username: str) -> str | None:
    template = settings.extra.get("MIXUN_EMAIL_ADDRESS", "")
    return template.replace("{username}", username) if template and "@" in template else None


def contacts(s: Session, settings: Settings, user_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """(phone, e-mail) by user id."""
    if not user_ids:
        return {}
    rows = s.execute(select(User.id, User.phone, User.username).where(User.id.in_(user_ids))).all()
    return {uid: (phone, email_of(settings, username)) for uid, phone, username in rows}


def notify_users(s: Session, ctx: Ctx, user_ids: list[int], text: str, subject: str) -> None:
    """After this transaction commits, tell these people through every configured channel."""
    from mixun.db.engine import on_commit

    gateway = ctx.rt.notifier
    if gateway is None or not user_ids:
        return
    reach = contacts(s, ctx.rt.settings, user_ids)

    def deliver() -> None:
        for uid in user_ids:
            phone, email = reach.get(uid, (None, None))
            gateway.send(uid, phone, text, email=email, subject=subject)

    on_commit(s, deliver)


def supervisor_contacts(settings: Settings) -> list[tuple[str | None, str | None]]:
    extra = settings.extra
    emails = [e.strip() for e in extra.get("MIXUN_ESCALATION_EMAIL", "").split(",") if e.strip()]
    phones = [p.strip() for p in extra.get("MIXUN_ESCALATION_PHONE", "").split(",") if p.strip()]
    return [(None, e) for e in emails] + [(p, None) for p in phones]


def notify_supervisor(ctx: Ctx, text: str, subject: str) -> int:
    """Tell the configured supervisor (alerts, escalations) now; how many addresses were given it."""
    gateway = ctx.rt.notifier
    reach = supervisor_contacts(ctx.rt.settings)
    if gateway is None:
        return 0
    for phone, email in reach:
        gateway.send(0, phone, text, email=email, subject=subject)
    return len(reach)


def sealer(rt: Runtime) -> Callable[[str], str]:
    """How the notifier seals a notification's text at rest (the outbox and the dead-letter list hold
    message previews, fault titles, announcements): the key ring's ``notify`` key of the month."""
    return lambda text: texts.seal_scoped(rt, texts.NOTIFY_SCOPE, datetime.now(UTC), text)


def opener(text: str) -> str:
    """A notification text as stored (sealed, or plain from before) opened for sending or showing."""
    return sealed.open_text(text) if sealed.is_sealed(text) else text


def outbox(rt: Runtime) -> list[dict[str, Any]]:
    """The outbox's notifications with their texts opened, oldest first (what a gateway sends)."""
    from mixun import notify

    return notify.read_outbox(rt.settings.data_dir, opener)


def dead_letters(ctx: Ctx, limit: int = 200) -> dict[str, Any]:
    """The notifications given up after their retries, for the system administrator."""
    from mixun import notify

    access.require(ctx.principal, Perm.OPS_MONITOR)
    rows = notify.read_dead_letters(ctx.rt.settings.data_dir, limit, opener)
    return {"dead_letters": rows, "total": notify.count_dead_letters(ctx.rt.settings.data_dir)}
