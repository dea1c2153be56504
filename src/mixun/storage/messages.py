"""Messages: look-ups by id and by the sender's client_id, a conversation's page of messages, their
attachments, and the read positions and senders the views and read receipts need. The send path's own
batch statements are in ``sendpath/batch.py`` (one per step for a whole batch)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mixun.db.models import Attachment, Member, Message, User
from mixun.errors import MixunError

# The files inside a secure pack, kept (encrypted with our keys) for the compliance archive only.
ARCHIVE_ONLY = "pack_original"
# (user id, name, phone, read seq, read at) of a member other than the sender, for read receipts.
ReceiptRow = tuple[int, str, str | None, int, datetime | None]


def get_message(s: Session, message_id: int) -> Message:
    msg = s.get(Message, message_id)
    if msg is None:
        raise MixunError("not_found")
    return msg


def find_by_client_id(s: Session, sender_id: int, client_id: str) -> Message | None:
    """The message a sender sent with this client_id (unique per sender)."""
    return s.execute(select(Message).where(Message.sender_id == sender_id, Message.client_id == client_id)
                     ).scalar_one_or_none()


def list_page(s: Session, conversation_id: int, joined_seq: int, after_seq: int | None, before_seq: int | None,
              limit: int) -> list[Message]:
    """Up to ``limit`` messages after ``joined_seq`` in seq order: the newest before ``before_seq`` (and
    after ``after_seq``) when it is given, otherwise the oldest after ``after_seq``."""
    stmt = select(Message).where(Message.conversation_id == conversation_id, Message.seq > joined_seq)
    return _window(s, stmt, after_seq, before_seq, limit)


def _window(s: Session, stmt: Any, after_seq: int | None, before_seq: int | None, limit: int) -> list[Message]:
    """The page of ``stmt``'s messages: the newest ``limit`` before ``before_seq`` (and after ``after_seq``)
    when it is given, otherwise the oldest ``limit`` after ``after_seq``; in seq order either way."""
    if before_seq is not None:
        stmt = stmt.where(Message.seq < before_seq)
        if after_seq is not None:
            stmt = stmt.where(Message.seq > after_seq)
        return list(s.execute(stmt.order_by(Message.seq.desc()).limit(limit)).scalars())[::-1]
    stmt = stmt.where(Message.seq > (after_seq or 0))
    return list(s.execute(stmt.order_by(Message.seq).limit(limit)).scalars())


def list_member_page(s: Session, conversation_id: int, user_id: int, after_seq: int | None,
                     before_seq: int | None, limit: int) -> list[Message]:
    """``list_page`` for the member ``user_id``, the membership read in the same query (its
    ``joined_seq`` bounds the page): the rows when ``user_id`` is a member, none otherwise. An empty
    answer does not tell a non-member from an empty page: the caller checks the membership then."""
    stmt = (select(Message).join(Member, (Member.conversation_id == Message.conversation_id)
                                 & (Member.user_id == user_id))
            .where(Message.conversation_id == conversation_id, Message.seq > Member.joined_seq))
    return _window(s, stmt, after_seq, before_seq, limit)


def list_members_reads_and_names(s: Session, conversation_id: int) -> tuple[list[tuple[int, int]], dict[int, str]]:
    """One conversation's [(member id, read seq), …] (as ``list_read_positions``) and its members'
    names, in one query."""
    reads: list[tuple[int, int]] = []
    names: dict[int, str] = {}
    for uid, rs, name in s.execute(select(Member.user_id, Member.read_seq, User.name)
                                   .join(User, User.id == Member.user_id)
                                   .where(Member.conversation_id == conversation_id)).all():
        reads.append((uid, rs))
        names[uid] = name
    return reads, names


def list_attachments(s: Session, message_ids: Iterable[int], *, archive: bool = False) -> list[Attachment]:
    """The attachments of these messages in id order; ``archive`` adds the files kept inside secure packs
    (members never see those)."""
    stmt = select(Attachment).where(Attachment.message_id.in_(list(message_ids))).order_by(Attachment.id)
    if not archive:
        stmt = stmt.where(Attachment.kind != ARCHIVE_ONLY)
    return list(s.execute(stmt).scalars())


def list_read_positions(s: Session, conversation_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """{conversation id: [(member id, read seq), …]}."""
    out: dict[int, list[tuple[int, int]]] = {}
    for cid, uid, rs in s.execute(select(Member.conversation_id, Member.user_id, Member.read_seq)
                                  .where(Member.conversation_id.in_(list(conversation_ids)))).all():
        out.setdefault(cid, []).append((uid, rs))
    return out


def list_phones(s: Session, user_ids: Iterable[int]) -> dict[int, str | None]:
    """{user id: phone} (urgent messages show their recipients' phones to the sender)."""
    return dict(s.execute(select(User.id, User.phone).where(User.id.in_(list(user_ids)))).all())


def list_senders_between(s: Session, conversation_id: int, after_seq: int, upto_seq: int, excluding: int,
                         limit: int = 500) -> set[int]:
    """Who sent the messages in (after_seq, upto_seq] of a conversation, other than ``excluding``."""
    return set(s.execute(select(Message.sender_id).where(
        Message.conversation_id == conversation_id, Message.seq > after_seq, Message.seq <= upto_seq,
        Message.sender_id != excluding).distinct().limit(limit)).scalars())


def list_receipt_rows(s: Session, conversation_id: int, sender_id: int) -> list[ReceiptRow]:
    """Every member of the conversation but the sender, with name, phone and read position."""
    rows = s.execute(select(Member.user_id, User.name, User.phone, Member.read_seq, Member.read_at)
                     .join(User, User.id == Member.user_id)
                     .where(Member.conversation_id == conversation_id, Member.user_id != sender_id)).all()
    return [(uid, nm, ph, rs, ra) for uid, nm, ph, rs, ra in rows]
