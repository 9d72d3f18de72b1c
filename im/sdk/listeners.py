"""What a program hears: login status codes, listener base classes with no-op defaults (named as in
OpenIM's SDK), the tables routing server events to them, and the one thread their callbacks run on."""

import logging
import queue
import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Any, TypeVar

log = logging.getLogger("im.sdk")


class LoginStatus(IntEnum):
    LOGGED_IN = 101
    LOGGING_IN = 102
    LOGIN_FAILED = 103
    LOGGED_OUT = 201


class ConnListener:
    """Connection state. Callbacks run on the SDK's callback thread, one at a time, in order."""

    def on_connecting(self) -> None:
        pass

    def on_connect_success(self) -> None:
        pass

    def on_connect_failed(self, code: int, message: str) -> None:
        pass

    def on_kicked_offline(self) -> None:
        pass

    def on_user_token_expired(self) -> None:
        pass

    def on_resync_required(self) -> None:
        """Events were missed beyond the server's retention: reload lists in full."""


# Event-log type -> (listener slot, method). Each feature module adds its own entries.
EVENT_ROUTES: dict[str, tuple[str, str]] = {}

# Event-log type -> (listener slot, method, records): one event standing for several callbacks, one
# per record that `records(data)` finds in its data. Each feature module adds its own entries.
EVENT_BATCHES: dict[str, tuple[str, str, Callable[[Any], list[Any]]]] = {}


class CallbackThread:
    """Runs listener callbacks one at a time, in order; user exceptions are logged, never raised."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="im-sdk-callbacks", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue fn(*args) behind the callbacks submitted before it."""
        self._queue.put((fn, args))

    def _run(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:
                log.exception("listener callback %s raised", getattr(fn, "__name__", fn))


Method = TypeVar("Method", bound=Callable[..., Any])


def socket_event(name: str) -> Callable[[Method], Method]:
    """Mark a client method as the handler of a server socket event."""

    def mark(fn: Method) -> Method:
        marked: Any = fn
        marked._im_socket_event = name
        return fn

    return mark


def after_connect(fn: Method) -> Method:
    """Mark a client method to run after every successful (re)connect, to catch up."""
    marked: Any = fn
    marked._im_after_connect = True
    return fn


def socket_handlers(cls: type) -> list[tuple[str, str]]:
    """(socket event, method name) of each method of cls marked with socket_event."""
    found = []
    for name in dir(cls):
        event = getattr(getattr(cls, name, None), "_im_socket_event", None)
        if event:
            found.append((event, name))
    return found


def after_connect_methods(cls: type) -> list[str]:
    """The names of the methods of cls marked with after_connect, in name order."""
    return [name for name in dir(cls) if getattr(getattr(cls, name, None), "_im_after_connect", False)]
