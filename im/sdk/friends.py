"""Friend and blacklist calls of the SDK, and the FriendListener that hears their changes."""

from typing import Any

from .connection import CoreClient
from .listeners import EVENT_ROUTES


class FriendListener:
    """Friend-list, application and blacklist changes, each called with the changed item as a dict.

    Callbacks run on the SDK's callback thread, one at a time, in event-log order.
    """

    def on_friend_application_added(self, application: dict[str, Any]) -> None:
        pass

    def on_friend_application_deleted(self, application: dict[str, Any]) -> None:
        pass

    def on_friend_application_accepted(self, application: dict[str, Any]) -> None:
        pass

    def on_friend_application_rejected(self, application: dict[str, Any]) -> None:
        pass

    def on_friend_added(self, friend: dict[str, Any]) -> None:
        pass

    def on_friend_deleted(self, friend: dict[str, Any]) -> None:
        pass

    def on_friend_info_changed(self, friend: dict[str, Any]) -> None:
        pass

    def on_black_added(self, black: dict[str, Any]) -> None:
        pass

    def on_black_deleted(self, black: dict[str, Any]) -> None:
        pass


# Event-log type = callback name without `on_` (e.g. "friend_added" -> on_friend_added).
EVENT_ROUTES.update({name[len("on_") :]: ("friend", name) for name in vars(FriendListener) if name.startswith("on_")})


class FriendsMixin(CoreClient):
    def set_friend_listener(self, listener: FriendListener) -> None:
        self._listeners["friend"] = listener

    def get_friend_list(self) -> list[dict[str, Any]]:
        return self._objects("get_friend_list")

    def get_designated_friends_info(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return self._objects("get_designated_friends_info", user_ids=list(user_ids))

    def search_friends(
        self, keyword: str, search_user_id: bool = True, search_nickname: bool = True, search_remark: bool = True
    ) -> list[dict[str, Any]]:
        return self._objects(
            "search_friends",
            keyword=keyword,
            search_user_id=search_user_id,
            search_nickname=search_nickname,
            search_remark=search_remark,
        )

    def check_friend(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return self._objects("check_friend", user_ids=list(user_ids))

    def add_friend(self, to_user_id: str, req_msg: str = "") -> dict[str, Any]:
        return self._object("add_friend", to_user_id=to_user_id, req_msg=req_msg)

    def set_friend_remark(self, user_id: str, remark: str) -> dict[str, Any]:
        return self._object("set_friend_remark", user_id=user_id, remark=remark)

    def delete_friend(self, user_id: str) -> dict[str, Any]:
        return self._object("delete_friend", user_id=user_id)

    def get_recv_friend_application_list(self) -> list[dict[str, Any]]:
        return self._objects("get_recv_friend_application_list")

    def get_send_friend_application_list(self) -> list[dict[str, Any]]:
        return self._objects("get_send_friend_application_list")

    def accept_friend_application(self, from_user_id: str, handle_msg: str = "") -> dict[str, Any]:
        return self._object("accept_friend_application", from_user_id=from_user_id, handle_msg=handle_msg)

    def refuse_friend_application(self, from_user_id: str, handle_msg: str = "") -> dict[str, Any]:
        return self._object("refuse_friend_application", from_user_id=from_user_id, handle_msg=handle_msg)

    def delete_friend_application(self, to_user_id: str) -> dict[str, Any]:
        return self._object("delete_friend_application", to_user_id=to_user_id)

    def add_black(self, user_id: str) -> dict[str, Any]:
        return self._object("add_black", user_id=user_id)

    def remove_black(self, user_id: str) -> dict[str, Any]:
        return self._object("remove_black", user_id=user_id)

    def get_black_list(self) -> list[dict[str, Any]]:
        return self._objects("get_black_list")
