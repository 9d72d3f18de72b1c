"""Rate limits on operations and connections (the `limits` library, counted in Redis when several
processes share a deployment, in process memory otherwise).

Sliding-window counters: two counters per key, the current window's and the previous one's, weighted
by how far the window has moved. A moving window keeps one entry per attempt instead, and the memory
storage sweeps every entry of every key each 10 ms while attempts come in: with a few thousand users
signed in within the minute that sweep cost about 0.1 ms of CPU per send, against about 0.02 ms now.
The in-memory counters are limits' own storage without its expiry thread (im/adapters/limits.py).
"""

from typing import NoReturn

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from . import errors
from .adapters.limits import SweptMemoryStorage

# name -> default limit; each can be overridden with IM_RATE_LIMIT_<NAME> (e.g. "20/minute").
DEFAULT_LIMITS = {
    "login_user": "10/minute",
    "login_address": "120/minute",
    # old-password checks of change_password per account: a stolen session must not guess quickly
    "change_password_user": "5/minute",
    # refused admin calls (wrong or missing secret) per address; only refusals count, and while over
    # the limit no secret is even compared, so guessing stops
    "admin_failure_address": "10/minute",
    "register_address": "60/minute",
    "connect_address": "300/minute",
    # generous enough for programs (bots, imports) sending in bursts through the SDK
    "send_message_user": "100/second",
    # each search reads every message the caller may see that matches: a page now and then, not a stream
    "search_messages_user": "30/minute",
    "upload_user": "30/minute",
    # per (caller, target): what one user can make another user's terminals hear
    "add_friend_pair": "5/hour",
    "typing_status_update_pair": "30/minute",
    # every socket event, counted in each process's memory by the gate (im/realtime/dispatch.py):
    # per user across all their sockets, and per socket
    "socket_event_user": "400/second",
    "socket_event_socket": "200/second",
}


def limits_from_env(env) -> dict[str, str]:
    return {name: env.get(f"IM_RATE_LIMIT_{name.upper()}", spec) for name, spec in DEFAULT_LIMITS.items()}


class RateLimiter:
    def __init__(self, app):
        self.enabled = app.config["IM_RATE_LIMITS_ENABLED"]
        # A configuration naming only some limits keeps the defaults of the others.
        specs = {**DEFAULT_LIMITS, **app.config["IM_RATE_LIMITS"]}
        self.items = {name: parse(spec) for name, spec in specs.items()}
        self.storage = _storage(app.config)
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)

    def hit(self, name: str, key: str | None) -> None:
        """Count one attempt of `name` for `key`; raise RateLimited when over the limit."""
        if not self.enabled or key is None:
            return
        if not self._limiter.hit(self.items[name], name, str(key)):
            self._refuse(name, key)

    def check(self, name: str, key: str | None) -> None:
        """Raise RateLimited when `key` has used up `name`, without counting an attempt."""
        if self.enabled and key is not None and not self._limiter.test(self.items[name], name, str(key)):
            self._refuse(name, key)

    def _refuse(self, name: str, key: str) -> NoReturn:
        item = self.items[name]
        reset = self._limiter.get_window_stats(item, name, str(key)).reset_time
        raise errors.RateLimited(
            f"too many requests ({name}: {item})", data={"limit": name, "reset_at": int(reset * 1000)}
        )


def _storage(config):
    """Counters every node shares in Redis, under the deployment's own prefix; else in memory."""
    if config["IM_MESSAGE_QUEUE"]:
        return storage_from_string(
            config["IM_MESSAGE_QUEUE"], key_prefix=f"{config['IM_MESSAGE_QUEUE_CHANNEL']}-limits"
        )
    return SweptMemoryStorage()


def expire_stale() -> None:
    """Free the counters of keys no longer counting (in-process storage; Redis expires its own)."""
    storage = current_app.extensions["im_rate_limiter"].storage
    if isinstance(storage, SweptMemoryStorage):
        storage.expire()


def hit(name: str, key: str | None) -> None:
    current_app.extensions["im_rate_limiter"].hit(name, key)


def check(name: str, key: str | None) -> None:
    current_app.extensions["im_rate_limiter"].check(name, key)


def init_app(app) -> None:
    app.extensions["im_rate_limiter"] = RateLimiter(app)
