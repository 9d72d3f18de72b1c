"""Conversations in the SDK: lists, settings, read state, and their listener.

A conversation is a dict as in docs/protocol.md. Its read state: `has_read_seq` (how far I have read)
and, one-to-one, `peer_has_read_seq` (how far the peer has read my messages; what the last
`on_recv_c2c_read_receipt` said), so read marks can be drawn right after a fresh start.
"""

import logging
from typing import Any

from .connection import CoreClient
from .errors import IMError
from .listeners import EVENT_ROUTES, after_connect, socket_event

log = logging.getLogger("im.sdk")


def single_conversation_id(a: str, b: str) -> str:
    """The id of the one-to-one conversation of users a and b (docs/protocol.md): `si_<smaller>~<larger>`.

    Prefer the id the server answers with (`get_one_conversation(user_id=...)`, messages, the list)."""
    low, high = sorted((a, b))
    return f"si_{low}~{high}"


def group_conversation_id(group_id: str) -> str:
    return f"sg_{group_id}"


class ConversationListener:
    """Conversation callbacks; they run on the SDK's callback thread, one at a time, in order."""

    def on_sync_server_start(self) -> None:
        pass

    def on_sync_server_finish(self) -> None:
        pass

    def on_sync_server_failed(self) -> None:
        pass

    def on_new_conversation(self, conversations: list[Any]) -> None:
        pass

    def on_conversation_changed(self, conversations: list[Any]) -> None:
        pass

    def on_total_unread_message_count_changed(self, total: int) -> None:
        pass


EVENT_ROUTES["new_conversation"] = ("conversation", "on_new_conversation")
EVENT_ROUTES["conversation_changed"] = ("conversation", "on_conversation_changed")
# The total unread count is not in the event log: the server pushes `total_unread_message_count_changed`
# {"total": N} to every terminal when it changes, and the SDK asks once after each (re)connect.


class ConversationsMixin(CoreClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listeners["conversation"] = ConversationListener()
        self._unread_pushes = 0  # pushes heard: an answer asked for before one of them is older than it

    def set_conversation_listener(self, listener: ConversationListener) -> None:
        self._listeners["conversation"] = listener

    def get_all_conversation_list(self) -> list[dict[str, Any]]:
        return self._objects("get_all_conversation_list")

    def get_conversation_list_split(self, offset: int, count: int) -> list[dict[str, Any]]:
        return self._objects("get_conversation_list_split", offset=offset, count=count)

    def get_one_conversation(self, conversation_id: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
        """By id, or (user_id) the one-to-one conversation with that user, created empty if needed."""
        if user_id is not None:
            return self._object("get_one_conversation", user_id=user_id)
        return self._object("get_one_conversation", conversation_id=conversation_id)

    def get_multiple_conversation(self, conversation_ids: list[str]) -> list[dict[str, Any]]:
        return self._objects("get_multiple_conversation", conversation_ids=list(conversation_ids))

    def pin_conversation(self, conversation_id: str, is_pinned: bool) -> dict[str, Any]:
        return self._object("pin_conversation", conversation_id=conversation_id, is_pinned=is_pinned)

    def set_conversation_recv_message_opt(self, conversation_id: str, opt: int) -> dict[str, Any]:
        return self._object("set_conversation_recv_message_opt", conversation_id=conversation_id, opt=opt)

    def set_conversation_draft(self, conversation_id: str, text: str) -> dict[str, Any]:
        return self._object("set_conversation_draft", conversation_id=conversation_id, text=text)

    def delete_conversation(self, conversation_id: str) -> None:
        self._call("delete_conversation", conversation_id=conversation_id)

    def get_total_unread_msg_count(self) -> int:
        total: int = self._call("get_total_unread_msg_count")
        return total

    @socket_event("total_unread_message_count_changed")
    def _on_total_unread(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("total"), int):
            self._unread_pushes += 1
            self._emit_callback("conversation", "on_total_unread_message_count_changed", data["total"])

    @after_connect
    def _sync_total_unread(self) -> None:
        """What changed while this terminal was away reaches it as one total, asked once."""
        heard = self._unread_pushes
        try:
            total = self._call("get_total_unread_msg_count")
        except IMError as exc:
            log.warning("total unread count after connect failed: %s", exc)
            return
        if heard == self._unread_pushes:
            self._emit_callback("conversation", "on_total_unread_message_count_changed", total)

    def mark_conversation_message_as_read(self, conversation_id: str) -> dict[str, Any]:
        return self._object("mark_conversation_message_as_read", conversation_id=conversation_id)
