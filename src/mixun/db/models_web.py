"""State the staff web client keeps on the server rather than in the browser (which holds no content)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from mixun.db.models import Base
from mixun.db.sealed import SealedText
from mixun.db.types import UTCDateTime, utcnow


class Draft(Base):
    """An unsent composer text, per person and conversation: it survives a reload or another device."""

    __tablename__ = "drafts"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    text: Mapped[str] = mapped_column(SealedText)  # sealed (db/sealed.py)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
