"""The per-user event log: every notification a user must see, numbered by a per-user seq."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, ts, utcnow


class UserEvent(db.Model):
    __tablename__ = "user_events"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def public(self) -> dict:
        return {"seq": self.seq, "type": self.type, "data": self.data, "created_at": ts(self.created_at)}
