"""Friend lists, friend applications and blacklists (each one-directional, as in OpenIM)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow
from .enums import HandleResult


class Friend(Base):
    """`friend_user_id` is in `owner_user_id`'s friend list; the reverse row is a separate fact."""

    __tablename__ = "friends"

    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    friend_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True, index=True)
    remark: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FriendApplication(Base):
    """One row per (from, to) pair: applying again while pending updates it."""

    __tablename__ = "friend_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    to_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    req_msg: Mapped[str] = mapped_column(String(255), default="")
    handle_result: Mapped[int] = mapped_column(Integer, default=HandleResult.PENDING)
    handle_msg: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("from_user_id", "to_user_id"),)


class Black(Base):
    """`block_user_id` is on `owner_user_id`'s blacklist."""

    __tablename__ = "blacks"

    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    block_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
