"""Conversations (one row each, holding the seq counter) and each user's state in them."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow
from .enums import RecvMsgOpt, SessionType

# The names the services import; SessionType is the one definition.
SINGLE = SessionType.SINGLE
GROUP = SessionType.GROUP


class Conversation(Base):
    """`si_<smaller>~<larger>` (one-to-one) or `sg_<group_id>`; `max_seq` is the last seq handed out."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    conversation_type: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Allocated with UPDATE ... SET max_seq = max_seq + 1 RETURNING inside the insert's transaction.
    max_seq: Mapped[int] = mapped_column(Integer, default=0)
    latest_msg_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationState(Base):
    """One user's view of a conversation: read position, settings, and which seqs they may read."""

    __tablename__ = "conversation_states"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.conversation_id"), primary_key=True, index=True
    )
    conversation_type: Mapped[int] = mapped_column(Integer)
    # The peer for one-to-one, the group for groups.
    peer_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    has_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    # First seq this user may read (a group member reads from the seq at which they joined).
    min_seq: Mapped[int] = mapped_column(Integer, default=1)
    # Last seq this user may read, once they left a group; None while they belong.
    max_readable_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    recv_msg_opt: Mapped[int] = mapped_column(Integer, default=RecvMsgOpt.NORMAL)
    draft_text: Mapped[str] = mapped_column(Text, default="")
    draft_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Deleted by the user: hidden from their list until a new message arrives.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A user's rows with every column the total, get_max_seqs and the list's order read: those read
    # the index alone, never the table (a heavy user has thousands of rows spread over it).
    __table_args__ = (
        Index(
            "ix_conversation_states_user_list",
            "user_id",
            "hidden",
            "recv_msg_opt",
            "is_pinned",
            "conversation_id",
            "has_read_seq",
            "min_seq",
            "max_readable_seq",
        ),
    )
