"""Login status codes and listener base classes with no-op defaults, named as in OpenIM's SDK."""

from enum import IntEnum


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
