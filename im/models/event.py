"""The per-user event log: every notification a user must see, numbered by a per-user seq."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, ts, utcnow


class UserEvent(Base):
    __tablename__ = "user_events"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "data": self.data, "created_at": ts(self.created_at)}
