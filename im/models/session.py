"""Login sessions (one per token) and the live sockets attached to them."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, ts, utcnow


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    platform_id: Mapped[int] = mapped_column(Integer)
    # sha256 of the token: a stolen database does not yield usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # logout | kicked | admin
    revoke_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "user_id": self.user_id,
            "platform_id": self.platform_id,
            "created_at": ts(self.created_at),
            "last_seen_at": ts(self.last_seen_at),
            "expires_at": ts(self.expires_at),
            "revoked_at": ts(self.revoked_at),
            "revoke_reason": self.revoke_reason,
        }


class Connection(Base):
    """One connected socket. Presence is these rows, so every process sees the same truth."""

    __tablename__ = "connections"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("login_sessions.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    platform_id: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_connections_user_platform", "user_id", "platform_id"),)
