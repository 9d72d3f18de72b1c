"""Messages (stored once per conversation), per-user deletions, and uploaded files."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, ts, utcnow
from .enums import MessageStatus

# The names the services import; MessageStatus is the one definition.
STATUS_OK = MessageStatus.OK
STATUS_REVOKED = MessageStatus.REVOKED


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_msg_id: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.conversation_id"))
    conversation_type: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    send_id: Mapped[str] = mapped_column(String(64))
    recv_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_msg_id: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The words search looks at (text, or a file's name), case-folded (services.search.fold); emptied on
    # revoke. Indexed by migration 0005: FTS5 table messages_fts on SQLite, pg_trgm GIN on PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[int] = mapped_column(Integer, default=MessageStatus.OK)
    send_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("send_id", "client_msg_id", name="uq_messages_sender_client_msg"),
    )

    def public(self) -> dict[str, Any]:
        return message_public(self)


PUBLIC_COLUMNS = (
    "server_msg_id",
    "client_msg_id",
    "conversation_id",
    "conversation_type",
    "seq",
    "send_id",
    "recv_id",
    "group_id",
    "content_type",
    "content",
    "status",
    "send_time",
    "revoked_at",
)


def message_public(m: Any) -> dict[str, Any]:
    """The message object of the protocol, from anything with the PUBLIC_COLUMNS as attributes.

    That is a Message, a Row of those columns, or a namespace built from a RETURNING row.
    """
    return {
        "server_msg_id": m.server_msg_id,
        "client_msg_id": m.client_msg_id,
        "conversation_id": m.conversation_id,
        "conversation_type": m.conversation_type,
        "seq": m.seq,
        "send_id": m.send_id,
        "recv_id": m.recv_id,
        "group_id": m.group_id,
        "content_type": m.content_type,
        "content": m.content,
        "status": m.status,
        "send_time": ts(m.send_time),
        "revoked_time": ts(m.revoked_at),
    }


class MessageDeletion(Base):
    """A message a user removed for themselves only."""

    __tablename__ = "message_deletions"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)


class UploadedFile(Base):
    """A file stored under the upload directory by its random id; the name is only for download."""

    __tablename__ = "uploaded_files"

    file_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uploader_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(100))
    is_picture: Mapped[bool] = mapped_column(default=False)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageFile(Base):
    """Which message carries which upload: who may see the message may download the file."""

    __tablename__ = "message_files"

    file_id: Mapped[str] = mapped_column(ForeignKey("uploaded_files.file_id"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)

    __table_args__ = (Index("ix_message_files_conversation_seq", "conversation_id", "seq"),)
