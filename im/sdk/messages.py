"""Messages in the SDK: the message listener, and sending (with retry), revoking, deleting, typing.

How received messages reach the listener exactly once is in message_sync.py; paging back and
searching in message_history.py; uploads and downloads of files in transport.py.
"""

import time
import uuid
from typing import Any

from .errors import NETWORK_ERROR, TIMEOUT, IMError
from .listeners import EVENT_ROUTES
from .message_history import MessageHistoryMixin
from .message_sync import MessageSyncMixin

SEND_ATTEMPTS = 3


class AdvancedMsgListener:
    """Message callbacks; they run on the SDK's callback thread, one at a time, in order."""

    def on_recv_new_message(self, msg: dict[str, Any]) -> None:
        pass

    def on_recv_c2c_read_receipt(self, receipts: list[Any]) -> None:
        pass

    def on_new_recv_message_revoked(self, revoked: dict[str, Any]) -> None:
        pass

    def on_msg_deleted(self, msg: dict[str, Any]) -> None:
        """I deleted this message for myself (on any of my terminals, this one included)."""


EVENT_ROUTES["recv_c2c_read_receipt"] = ("message", "on_recv_c2c_read_receipt")
EVENT_ROUTES["new_recv_message_revoked"] = ("message", "on_new_recv_message_revoked")
EVENT_ROUTES["msg_deleted"] = ("message", "on_msg_deleted")


class MessagesMixin(MessageHistoryMixin, MessageSyncMixin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listeners["message"] = AdvancedMsgListener()

    def set_advanced_msg_listener(self, listener: AdvancedMsgListener) -> None:
        self._listeners["message"] = listener

    def send_message(
        self,
        recv_id: str | None = None,
        content_type: int | None = None,
        content: dict[str, Any] | None = None,
        client_msg_id: str | None = None,
        *,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Send to recv_id, or to a group with group_id=...; on a timeout or network error retry with the
        same client_msg_id (stored once)."""
        target = {"group_id": group_id} if group_id is not None else {"recv_id": recv_id}
        client_msg_id = client_msg_id or uuid.uuid4().hex
        with self._sending_own(client_msg_id):
            delay = 0.5
            for attempt in range(SEND_ATTEMPTS):
                try:
                    msg: dict[str, Any] = self._call(
                        "send_message",
                        **target,
                        content_type=content_type,
                        content=content,
                        client_msg_id=client_msg_id,
                    )
                    break
                except IMError as exc:
                    if exc.code not in (TIMEOUT, NETWORK_ERROR) or attempt == SEND_ATTEMPTS - 1:
                        raise
                    time.sleep(delay)
                    delay *= 2
            self._sent(msg)
        return msg

    def revoke_message(
        self, conversation_id: str, client_msg_id: str | None = None, seq: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"conversation_id": conversation_id}
        if client_msg_id is not None:
            params["client_msg_id"] = client_msg_id
        if seq is not None:
            params["seq"] = seq
        return self._object("revoke_message", **params)

    def delete_message(self, conversation_id: str, seq: int) -> None:
        self._call("delete_message", conversation_id=conversation_id, seq=seq)

    def typing_status_update(self, recv_id: str, msg_tip: str) -> None:
        self._call("typing_status_update", recv_id=recv_id, msg_tip=msg_tip)
