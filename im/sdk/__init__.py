"""Python SDK for the IM server, following OpenIM's client SDK (snake_case names)."""

from .connection import CoreClient
from .conversations import ConversationListener, ConversationsMixin, group_conversation_id, single_conversation_id
from .errors import IMError
from .friends import FriendListener, FriendsMixin
from .groups import GroupListener, GroupsMixin
from .listeners import ConnListener, LoginStatus
from .messages import AdvancedMsgListener, MessagesMixin
from .users import UserListener, UsersMixin


class IMClient(GroupsMixin, MessagesMixin, ConversationsMixin, FriendsMixin, UsersMixin, CoreClient):
    """initSDK: `IMClient(server_url, platform_id=5)`; every call blocks until the server answers."""


__all__ = [
    "IMClient",
    "IMError",
    "ConnListener",
    "LoginStatus",
    "FriendListener",
    "AdvancedMsgListener",
    "ConversationListener",
    "GroupListener",
    "UserListener",
    "single_conversation_id",
    "group_conversation_id",
]
