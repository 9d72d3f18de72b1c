"""limits' memory storage without its expiry timer thread (written for limits 5.8.0).

Relies on two name-mangled methods of `limits.storage.MemoryStorage`: `__schedule_expiry`, which
`incr`, `decr` and `acquire_entry` call to restart a 10 ms `threading.Timer` whenever the last one
has ended, and `__expire_events`, which that timer runs to drop expired counters.

Why, measured under gevent with 2,000 greenlets each counting twice 20 ms apart (as a socket's
handler greenlet does): with the library's storage each greenlet that restarted the timer got a dummy
thread registered in `threading._active` for its whole life (1.0 per greenlet, 7.4-8.1 KiB resident
more each) and one hit cost 51-65 us of CPU; with this one no thread and 10-13 us. In `make bench
--size small` (SQLite), connections: 49.0 KiB per socket with the library's storage, 48.3 with this
one; throughput: CPU per send 0.98 and 1.26 ms against 0.97 and 1.07 (two runs each, noisy).
"""

from limits.storage import MemoryStorage

TARGETS = {"limits": "5.8.0"}


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, its stale counters dropped by the process's sweeper once a second.

    The library drops them from a timer thread it starts again every 10 ms from whichever greenlet
    counted last; here nothing is started and `expire()` does the same work when called. Counters
    expire when read whatever the sweep does, so limits stay exact.
    """

    def _MemoryStorage__schedule_expiry(self) -> None:
        pass

    def expire(self) -> None:
        # name-mangled, so invisible to the type checker as an attribute of this subclass
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
