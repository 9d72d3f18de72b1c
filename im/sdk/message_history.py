"""Stored messages in the SDK: paging back through a conversation's history, and searching it."""

from typing import Any

from .connection import CoreClient


class MessageHistoryMixin(CoreClient):
    def get_history_message_list(
        self, conversation_id: str, start_seq: int | None = None, count: int = 20
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"conversation_id": conversation_id, "count": count}
        if start_seq is not None:
            params["start_seq"] = start_seq
        return self._object("get_history_message_list", **params)

    def search_messages(
        self,
        keyword: str,
        conversation_id: str | None = None,
        cursor: str | None = None,
        count: int = 100,
        send_id: str | None = None,
        content_types: list[int] | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> dict[str, Any]:
        """A page of matching messages, newest first; while `has_more`, pass its `cursor` for the next page
        (a page may be short, even empty, and still have more: the server bounds each call's work)."""
        params: dict[str, Any] = {"keyword": keyword, "count": count}
        for name, value in (
            ("conversation_id", conversation_id),
            ("cursor", cursor),
            ("send_id", send_id),
            ("content_types", content_types),
            ("start_time", start_time),
            ("end_time", end_time),
        ):
            if value is not None:
                params[name] = value
        return self._object("search_messages", **params)
