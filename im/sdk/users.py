"""User calls of the SDK, and the UserListener that hears changes to the user's own profile."""

from typing import Any

from .connection import CoreClient
from .listeners import EVENT_ROUTES


class UserListener:
    """The signed-in user's own profile; callbacks run on the SDK's callback thread, in event-log order."""

    def on_self_info_updated(self, user_info: dict[str, Any]) -> None:
        """My nickname or face changed (on any of my terminals, this one included)."""


EVENT_ROUTES["self_info_updated"] = ("user", "on_self_info_updated")


class UsersMixin(CoreClient):
    def set_user_listener(self, listener: UserListener) -> None:
        self._listeners["user"] = listener

    def get_self_user_info(self) -> dict[str, Any]:
        return self._object("get_self_user_info")

    def get_users_info(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return self._objects("get_users_info", user_ids=list(user_ids))

    def set_self_info(self, nickname: str | None = None, face_url: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("nickname", nickname), ("face_url", face_url)) if v is not None}
        return self._object("set_self_info", **params)

    def get_users_online_status(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return self._objects("get_users_online_status", user_ids=list(user_ids))
