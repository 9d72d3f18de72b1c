"""Errors the SDK raises: the server's codes, plus a few of its own for what happens client-side."""

from typing import Any

NETWORK_ERROR = 10001
TIMEOUT = 10002
NOT_LOGGED_IN = 10003
ALREADY_LOGGED_IN = 10004


class IMError(Exception):
    """A failed call: `code` is the server's errCode (or one of the client codes above)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.data = data
