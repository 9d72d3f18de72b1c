"""Python SDK for the IM server, following OpenIM's client SDK (snake_case names)."""
from .core import CoreClient
from .errors import IMError
from .friends import FriendListener, FriendsMixin
from .listeners import ConnListener, LoginStatus
from .users import UsersMixin


class IMClient(FriendsMixin, UsersMixin, CoreClient):
    """initSDK: `IMClient(server_url, platform_id=5)`; every call blocks until the server answers."""


__all__ = ["IMClient", "IMError", "ConnListener", "FriendListener", "LoginStatus"]
