"""The policies in force and the retention group of a conversation's data keys (ADR 0020, "Groups").

Apart from services/retention.py (the run, holds, policy changes) so that the writers of message text
(services/texts.py, on the send path) can name a new data key's group without reaching the services the
run uses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import Conversation, Member, MembershipLog, Unit, User
from mixun.db.models_archive import LegalHold, RetentionPolicy
from mixun.domain import retention as rules


def policies(s: Session) -> dict[str, rules.Policy]:
    """The policies in force: the defaults, overridden by those set."""
    out = rules.defaults()
    for p in s.execute(select(RetentionPolicy)).scalars():
        out[p.scope] = rules.Policy(p.scope, p.messages_days, p.files_days)
    return out


def key_groups(s: Session, conversation_ids: list[int]) -> dict[int, str]:
    """The retention group of each conversation's new data keys (``rules.key_group``): the policies that
    govern its participants' messages now (``rules.resolve``, the rule the retention run uses), or
    ``hold:<id>`` under a legal hold that names the conversation. Only precision depends on it: a period
    key is destroyed when nothing wrapped under it is left, whatever the group's policy is by then."""
    if not conversation_ids:
        return {}
    found = policies(s)
    kinds = {int(c): str(k) for c, k in s.execute(select(Conversation.id, Conversation.kind)
                                                  .where(Conversation.id.in_(conversation_ids))).all()}
    held = set(s.execute(select(LegalHold.conversation_id).where(
        LegalHold.released_at.is_(None), LegalHold.conversation_id.in_(conversation_ids))).scalars())
    units: dict[int, set[str]] = {c: set() for c in conversation_ids}
    for table in (Member, MembershipLog):
        for cid, path in s.execute(select(table.conversation_id, Unit.path)
                                   .join(User, User.id == table.user_id)
                                   .outerjoin(Unit, Unit.id == User.unit_id)
                                   .where(table.conversation_id.in_(conversation_ids))).all():
            units[int(cid)].add(path or "")
    return {c: rules.key_group(found, kinds.get(c, ""), units[c], c if c in held else None) for c in conversation_ids}
