"""SQLAlchemy models; importing this package registers every table."""

from .base import Base, UTCDateTime, ts, utcnow
from .conversation import GROUP, SINGLE, Conversation, ConversationState
from .enums import (
    GroupRole,
    GroupStatus,
    GroupVerification,
    HandleResult,
    JoinSource,
    MessageStatus,
    RecvMsgOpt,
    SessionType,
)
from .event import UserEvent
from .friend import Black, Friend, FriendApplication
from .group import Group, GroupApplication, GroupLeftMute, GroupMember
from .message import Message, MessageDeletion, MessageFile, UploadedFile
from .node import Node
from .session import Connection, LoginSession
from .user import User

__all__ = [
    "GROUP",
    "SINGLE",
    "Base",
    "Black",
    "Connection",
    "Conversation",
    "ConversationState",
    "Friend",
    "FriendApplication",
    "Group",
    "GroupApplication",
    "GroupLeftMute",
    "GroupMember",
    "GroupRole",
    "GroupStatus",
    "GroupVerification",
    "HandleResult",
    "JoinSource",
    "LoginSession",
    "Message",
    "MessageDeletion",
    "MessageFile",
    "MessageStatus",
    "Node",
    "RecvMsgOpt",
    "SessionType",
    "UTCDateTime",
    "UploadedFile",
    "User",
    "UserEvent",
    "ts",
    "utcnow",
]
