"""A listener that records every callback, so a test can wait for one without sleeping blindly."""

import threading
import time


class Recorder:
    """Use as any SDK listener: every `on_*` call is recorded as (name, args)."""

    def __init__(self, client=None):
        self.calls: list[tuple[str, tuple]] = []
        self.statuses: dict[str, int] = {}
        self._client = client
        self._cond = threading.Condition()

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def record(*args):
            with self._cond:
                self.calls.append((name, args))
                if self._client is not None:
                    self.statuses[name] = self._client.get_login_status()
                self._cond.notify_all()

        return record

    def names(self) -> list[str]:
        with self._cond:
            return [name for name, _ in self.calls]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def args(self, name: str) -> list[tuple]:
        with self._cond:
            return [args for n, args in self.calls if n == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[tuple]:
        """Block until `name` was called `count` times; fail the test after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for n, _ in self.calls if n == name) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{name} x{count} not seen in {timeout}s; saw {self.names()}")
                self._cond.wait(left)
            return [args for n, args in self.calls if n == name]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{message} not met within {timeout}s")
