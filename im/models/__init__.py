"""SQLAlchemy models; importing this package registers every table."""

from .base import UTCDateTime, ts, utcnow  # noqa: F401
from .conversation import GROUP, SINGLE, Conversation, ConversationState  # noqa: F401
from .event import UserEvent  # noqa: F401
from .friend import Black, Friend, FriendApplication  # noqa: F401
from .group import Group, GroupApplication, GroupLeftMute, GroupMember  # noqa: F401
from .message import Message, MessageDeletion, MessageFile, UploadedFile  # noqa: F401
from .node import Node  # noqa: F401
from .session import Connection, LoginSession  # noqa: F401
from .user import User  # noqa: F401
