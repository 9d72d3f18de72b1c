"""Socket calls that do not outlive their connection, and which calls may be sent again over REST."""

import threading
from typing import Any

import socketio

# What a socket call answers when its connection closed before the answer came.
DROPPED = object()

# Operations that change nothing, or whose repetition changes nothing more: a call of these that
# the socket dropped before its answer is sent again over REST. Every other call fails at once
# with NETWORK_ERROR, since it may or may not have taken effect.
_READ_PREFIXES = ("get_", "search_", "check_")
_REPEATABLE = {
    "sync_events",
    "pull_messages",
    "error_codes",
    # revoking a revoked token changes nothing (the retry answers a token error)
    "logout",
}


def retry_safe(name: str, params: dict[str, Any]) -> bool:
    """Whether a call may be sent again without knowing if the first one took effect.

    A send carries a client_msg_id, and the server answers a second send with one it already stored
    with the first message, unchanged (also when the two race): so a send may be sent again.
    """
    if name == "send_message":
        return bool(params.get("client_msg_id"))
    return name in _REPEATABLE or name.startswith(_READ_PREFIXES)


class Socket(socketio.Client):  # type: ignore[misc]  # python-socketio ships no types
    """A Socket.IO client that knows the calls waiting for an answer on it, to wake them when it closes.

    python-socketio's own call() waits out its whole timeout when the connection drops meanwhile.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calls_lock = threading.Lock()
        self._waiting: set[threading.Event] = set()
        self._closed = False

    def call_or_drop(self, name: str, params: dict[str, Any], timeout: float) -> Any:
        """The answer's envelope, or DROPPED if the connection closed first; TimeoutError after `timeout`."""
        done, answer = threading.Event(), []

        def answered(*args: Any) -> None:
            answer.append(args[0] if args else None)
            done.set()

        with self._calls_lock:
            if self._closed:
                return DROPPED
            self._waiting.add(done)
        try:
            self.emit(name, params, callback=answered)
            if not done.wait(timeout):
                raise socketio.exceptions.TimeoutError()
        finally:
            with self._calls_lock:
                self._waiting.discard(done)
        return answer[0] if answer else DROPPED

    def drop_waiting(self) -> None:
        """The connection is gone: no answer will come, so wake every call waiting for one."""
        with self._calls_lock:
            self._closed = True
            waiting, self._waiting = self._waiting, set()
        for done in waiting:
            done.set()
