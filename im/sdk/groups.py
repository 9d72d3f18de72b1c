"""Group calls of the SDK and the group listener (OpenIM's OnJoinedGroupAdded and friends)."""

from collections.abc import Callable, Iterable
from typing import Any

from .listeners import EVENT_BATCHES, EVENT_ROUTES
from .messages import MessagesMixin


class GroupListener:
    """Group changes. Each callback gets the group info, member info or application as a dict."""

    def on_joined_group_added(self, group_info: dict[str, Any]) -> None:
        pass

    def on_joined_group_deleted(self, group_info: dict[str, Any]) -> None:
        pass

    def on_group_member_added(self, member_info: dict[str, Any]) -> None:
        pass

    def on_group_member_deleted(self, member_info: dict[str, Any]) -> None:
        pass

    def on_group_application_added(self, application: dict[str, Any]) -> None:
        pass

    def on_group_application_deleted(self, application: dict[str, Any]) -> None:
        pass

    def on_group_application_accepted(self, application: dict[str, Any]) -> None:
        pass

    def on_group_application_rejected(self, application: dict[str, Any]) -> None:
        pass

    def on_group_info_changed(self, group_info: dict[str, Any]) -> None:
        pass

    def on_group_member_info_changed(self, member_info: dict[str, Any]) -> None:
        pass

    def on_group_dismissed(self, group_info: dict[str, Any]) -> None:
        pass


# Changes to members reach every member as one notice in the group conversation (by seq, live and on
# catch-up alike), not as events in each member's log: content type -> the callback of each record
# in the notice's detail.members.
MEMBER_NOTICES = {
    1509: "on_group_member_added",
    1510: "on_group_member_added",
    1504: "on_group_member_deleted",
    1508: "on_group_member_deleted",
    1507: "on_group_member_info_changed",
    1512: "on_group_member_info_changed",
    1513: "on_group_member_info_changed",
    1516: "on_group_member_info_changed",
    1517: "on_group_member_info_changed",
    1518: "on_group_member_info_changed",
}
KICKED = 1508


def _added_applications(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**data["application"], "from_user_id": uid} for uid in data["from_user_ids"]]


# A call about many applications tells the managers in one event that lists them: event type -> the
# callback of each application in it (once per application, as if each had come as an event).
APPLICATION_BATCHES: dict[str, tuple[str, Callable[[Any], list[Any]]]] = {
    "group_applications_added": ("on_group_application_added", _added_applications),
    "group_applications_deleted": ("on_group_application_deleted", lambda data: data["applications"]),
}

for _type, (_method, _records) in APPLICATION_BATCHES.items():
    EVENT_BATCHES[_type] = ("group", _method, _records)

for _name in [n for n in vars(GroupListener) if n.startswith("on_")]:
    if _name not in MEMBER_NOTICES.values():
        EVENT_ROUTES[_name[3:]] = ("group", _name)


class GroupsMixin(MessagesMixin):
    def set_group_listener(self, listener: GroupListener) -> None:
        self._listeners["group"] = listener

    def _on_stored_message(self, msg: dict[str, Any]) -> None:
        """A group notice about members: hand each member record to the group listener."""
        super()._on_stored_message(msg)
        method = MEMBER_NOTICES.get(msg.get("content_type", 0))
        content = msg.get("content")
        detail = content.get("detail") if isinstance(content, dict) else None
        if method is None or not isinstance(detail, dict) or not isinstance(detail.get("members"), list):
            return
        extra = {"reason": detail.get("reason", "")} if msg["content_type"] == KICKED else {}
        for member in detail["members"]:
            if isinstance(member, dict):
                self._emit_callback("group", method, {**member, **extra})

    def create_group(
        self,
        group_name: str,
        member_user_ids: Iterable[str],
        admin_user_ids: Iterable[str] = (),
        face_url: str = "",
        introduction: str = "",
        notification: str = "",
        need_verification: int = 0,
    ) -> dict[str, Any]:
        return self._object(
            "create_group",
            group_name=group_name,
            member_user_ids=list(member_user_ids),
            admin_user_ids=list(admin_user_ids),
            face_url=face_url,
            introduction=introduction,
            notification=notification,
            need_verification=need_verification,
        )

    def get_joined_group_list(self) -> list[dict[str, Any]]:
        return self._objects("get_joined_group_list")

    def get_groups_info(self, group_ids: Iterable[str]) -> list[dict[str, Any]]:
        return self._objects("get_groups_info", group_ids=list(group_ids))

    def set_group_info(self, group_id: str, **fields: Any) -> dict[str, Any]:
        return self._object("set_group_info", group_id=group_id, **fields)

    def join_group(self, group_id: str, req_msg: str = "") -> dict[str, Any]:
        return self._object("join_group", group_id=group_id, req_msg=req_msg)

    def quit_group(self, group_id: str) -> None:
        self._call("quit_group", group_id=group_id)

    def dismiss_group(self, group_id: str) -> None:
        self._call("dismiss_group", group_id=group_id)

    def invite_user_to_group(self, group_id: str, user_ids: Iterable[str]) -> dict[str, Any]:
        return self._object("invite_user_to_group", group_id=group_id, user_ids=list(user_ids))

    def kick_group_member(self, group_id: str, user_ids: Iterable[str], reason: str = "") -> None:
        self._call("kick_group_member", group_id=group_id, user_ids=list(user_ids), reason=reason)

    def transfer_group_owner(self, group_id: str, new_owner_id: str) -> dict[str, Any]:
        return self._object("transfer_group_owner", group_id=group_id, new_owner_id=new_owner_id)

    def set_group_member_role_level(self, group_id: str, user_id: str, role_level: int) -> dict[str, Any]:
        return self._object("set_group_member_role_level", group_id=group_id, user_id=user_id, role_level=role_level)

    def set_group_member_nickname(self, group_id: str, user_id: str, nickname: str) -> dict[str, Any]:
        return self._object("set_group_member_nickname", group_id=group_id, user_id=user_id, nickname=nickname)

    def change_group_mute(self, group_id: str, is_mute: bool) -> dict[str, Any]:
        return self._object("change_group_mute", group_id=group_id, is_mute=is_mute)

    def change_group_member_mute(self, group_id: str, user_id: str, mute_seconds: int) -> dict[str, Any]:
        return self._object("change_group_member_mute", group_id=group_id, user_id=user_id, mute_seconds=mute_seconds)

    def get_group_member_list(self, group_id: str, offset: int = 0, count: int = 100) -> list[dict[str, Any]]:
        return self._objects("get_group_member_list", group_id=group_id, offset=offset, count=count)

    def get_group_members_info(self, group_id: str, user_ids: Iterable[str]) -> list[dict[str, Any]]:
        return self._objects("get_group_members_info", group_id=group_id, user_ids=list(user_ids))

    def get_recv_group_application_list(self) -> list[dict[str, Any]]:
        return self._objects("get_recv_group_application_list")

    def get_send_group_application_list(self) -> list[dict[str, Any]]:
        return self._objects("get_send_group_application_list")

    def accept_group_application(self, group_id: str, from_user_id: str, handle_msg: str = "") -> dict[str, Any]:
        return self._object(
            "accept_group_application", group_id=group_id, from_user_id=from_user_id, handle_msg=handle_msg
        )

    def refuse_group_application(self, group_id: str, from_user_id: str, handle_msg: str = "") -> dict[str, Any]:
        return self._object(
            "refuse_group_application", group_id=group_id, from_user_id=from_user_id, handle_msg=handle_msg
        )
