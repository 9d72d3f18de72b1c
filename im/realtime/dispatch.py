"""The one gate every socket event passes before any work: rate limits per socket and per user, a
bounded number of a socket's events running and waiting, and the close of a socket refused too often.

python-socketio reads a socket's frames in one task and, out of the box, starts a new task for each
event (`async_handlers`), so one socket writing 20,000 cheap events in a burst started 20,000 tasks
that every other socket's events then queued behind. The gate takes the server's event dispatch
(`Server._handle_event`, through im/adapters/socketio.py), in the reading task, before any handler:
the operations', the group-commit ones' (which hand their call to the writer of im/group_commit.py)
and the unknown-event one alike.

- Each event is counted against `socket_event_socket` (this socket) and `socket_event_user` (every
  socket of its user in this process), sliding windows as in im/ratelimit.py, with the limits named
  and configured there. Over either, the ack is the RateLimited envelope (1008, `data` `{limit,
  reset_at}`) and the event runs nothing. The counters live in process memory, a few attribute
  updates per event: a shared store would cost a round trip per event, and what they protect, the
  process's time, is per process too.
- At most IM_SOCKET_EVENT_CONCURRENCY events of one socket run at once; each runner takes the next
  waiting event when it is done, so a socket has at most that many tasks. At most
  IM_SOCKET_EVENT_BACKLOG more wait; one beyond is refused the same way (limit `socket_event_backlog`).
- A socket refused REFUSALS_TO_CLOSE times within REFUSAL_WINDOW seconds is closed: the ack of that
  refusal says so (`data.closing` true), then Socket.IO's disconnect (the client sees "io server
  disconnect" and does not reconnect by itself) and the transport's close.
- A reading task yields to the others every YIELD_EVERY events that wait, are refused or dropped
  (counted over the process), and a runner between two events, so that a burst already in a
  socket's buffer is read and run at the pace of everyone else's work, not before it.
"""

import collections
import itertools
import logging
import threading
import time
import weakref
from typing import Any

from flask import Flask

from .. import errors
from ..adapters import socketio as socketio_adapter

log = logging.getLogger(__name__)

REFUSALS_TO_CLOSE = 100
REFUSAL_WINDOW = 10.0
YIELD_EVERY = 16
_STATE = "im.socket_gate"  # a socket's gate state, in its Engine.IO environ
# One socket event as python-socketio dispatches it: (sid, eio_sid, [event, *args], namespace, ack id).
Event = tuple[str, str, list[Any], str, int | None]
_LIMITS = "im_socket_gate"  # the app's limits and per-user windows, in its extensions


class _Window:
    """One key's sliding-window counter: the previous window's count weighted by what is left of it
    (the `limits` library's SlidingWindowCounter), kept in memory."""

    __slots__ = ("amount", "period", "start", "count", "previous", "__weakref__")

    def __init__(self, amount: int, period: float, now: float):
        self.amount, self.period = amount, period
        self.start, self.count, self.previous = now, 0, 0

    def full(self, now: float) -> bool:
        elapsed = now - self.start
        if elapsed >= self.period:
            passed = int(elapsed // self.period)
            self.previous = self.count if passed == 1 else 0
            self.count = 0
            self.start += passed * self.period
            elapsed -= passed * self.period
        return self.previous * (self.period - elapsed) / self.period + self.count >= self.amount

    def reset_at(self, now: float) -> int:
        """When the current window ends, in epoch milliseconds."""
        return int((time.time() + self.start + self.period - now) * 1000)


class _Limits:
    """An app's settings for the gate, and the windows of its users with a socket in this process."""

    def __init__(self, app: Flask) -> None:
        limiter = app.extensions["im_rate_limiter"]
        self.enabled = limiter.enabled
        self.per_user = limiter.items["socket_event_user"]
        self.per_socket = limiter.items["socket_event_socket"]
        self.concurrency = max(1, app.config["IM_SOCKET_EVENT_CONCURRENCY"])
        self.backlog = max(0, app.config["IM_SOCKET_EVENT_BACKLOG"])
        # A user's window lives while one of their sockets here holds it.
        self.users: weakref.WeakValueDictionary[str, _Window] = weakref.WeakValueDictionary()
        # Counters and queues are shared by a socket's reader and its runners (threads in threading
        # mode); under gevent and eventlet the lock is never contended.
        self.lock = threading.Lock()

    def window(self, item, now: float) -> _Window:
        return _Window(item.amount, float(item.get_expiry()), now)

    def user_window(self, user_id: str, now: float) -> _Window:
        with self.lock:
            window = self.users.get(user_id)
            if window is None:
                window = self.users[user_id] = self.window(self.per_user, now)
            return window


class _Socket:
    """One socket's counters, its running events and its waiting ones."""

    __slots__ = ("limits", "user", "own", "running", "waiting", "refused", "refused_since", "closed")

    def __init__(self, limits: _Limits, user: _Window | None, now: float):
        self.limits, self.user = limits, user
        self.own = limits.window(limits.per_socket, now)
        self.running = 0
        self.waiting: collections.deque[Event] = collections.deque()
        self.refused, self.refused_since, self.closed = 0, now, False

    def over_limit(self, now: float) -> tuple[str, str, int] | None:
        """(limit, its spec, reset_at) of the limit this event would pass, else None and the event
        is counted in both windows."""
        limits = self.limits
        if not limits.enabled:
            return None
        user, own = self.user, self.own
        if user is not None and user.full(now):
            return "socket_event_user", str(limits.per_user), user.reset_at(now)
        if own.full(now):
            return "socket_event_socket", str(limits.per_socket), own.reset_at(now)
        if user is not None:
            user.count += 1
        own.count += 1
        return None

    def refuse(self, now: float) -> bool:
        """Count a refusal; True (and closed from now on) when it is the one too many."""
        if now - self.refused_since > REFUSAL_WINDOW:
            self.refused, self.refused_since = 0, now
        self.refused += 1
        self.closed = self.refused >= REFUSALS_TO_CLOSE
        return self.closed


def _limits(app) -> _Limits:
    limits = app.extensions.get(_LIMITS)
    if limits is None:
        limits = app.extensions[_LIMITS] = _Limits(app)
    return limits


def connected(environ: dict, user_id: str) -> None:
    """Give a socket that has just connected its gate state, counted under its user from now on."""
    limits, now = _limits(environ["flask.app"]), time.monotonic()
    environ[_STATE] = _Socket(limits, limits.user_window(user_id, now), now)


def _state(environ: dict) -> _Socket:
    """The state of a socket connected without connected(): counted per socket only."""
    sock = environ[_STATE] = _Socket(_limits(environ["flask.app"]), None, time.monotonic())
    return sock


def install(server) -> None:
    """Put the gate in front of every event handler of this python-socketio server.

    It takes the place of python-socketio's dispatch, which checks the socket is connected and
    starts the handler's task; the handler itself runs as python-socketio runs it, which sends the
    ack (im/adapters/socketio.py).
    """
    seen = itertools.count(1)

    def pace() -> None:
        """Yield now and then while reading events that will wait, be refused or be dropped: a
        burst already in a socket's buffer (or the rest of one to a socket being closed, whose
        close must get its turn) is then read at the pace of everyone else's work. Events that run
        at once do not yield here: a socket within its concurrency sends no more than that before
        its reader waits for the network anyway, and yielding there cost 10-25% more CPU per send
        in `make bench` (its batches of group commit got smaller)."""
        if next(seen) % YIELD_EVERY == 0 and server.async_handlers:
            server.sleep(0)

    def handle_event(eio_sid, namespace, id, data):
        namespace = namespace or "/"
        environ = socketio_adapter.environ(server, eio_sid)
        sock = environ.get(_STATE) if environ is not None else None
        if sock is not None and sock.closed:
            return pace()
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        # A packet without an event name raises here, in the reader, as python-socketio's own
        # dispatch does: Engine.IO logs it as a malformed packet (im/logfilters.py).
        server.logger.info('received event "%s" from %s [%s]', data[0], sid, namespace)
        if environ is None or not server.manager.is_connected(sid, namespace):
            server.logger.warning("%s is not connected to namespace %s", sid, namespace)
            return pace()
        if sock is None:
            sock = _state(environ)
        call = (sid, eio_sid, data, namespace, id)
        limits, now, queued, closing = sock.limits, time.monotonic(), False, False
        with limits.lock:
            refusal = sock.over_limit(now)
            # Without async handlers (Flask-SocketIO's test client) an admitted event runs right
            # here, one at a time, so only async dispatch counts runners and a backlog.
            if refusal is None and server.async_handlers:
                if sock.running < limits.concurrency:
                    sock.running += 1
                elif len(sock.waiting) < limits.backlog:
                    sock.waiting.append(call)
                    queued = True
                else:
                    refusal = ("socket_event_backlog", f"{limits.backlog} waiting", int(time.time() * 1000))
            if refusal is not None:
                closing = sock.refuse(now)
        if queued:
            pace()
        elif refusal is not None:
            _refuse(server, call, *refusal, closing)
            pace()
        elif not server.async_handlers:
            socketio_adapter.run_event(server, *call)
        else:
            server.start_background_task(_run, server, sock, call)

    socketio_adapter.take_event_dispatch(server, handle_event)


def _run(server, sock: _Socket, call: Event) -> None:
    """Run a socket's event, then its waiting ones, one after another, until none waits.

    Between two events the runner yields: a handler that never waits (SQLite, an answer from
    memory) would otherwise run the whole backlog before any other socket's event got a turn.
    """
    lock = sock.limits.lock
    while True:
        try:
            socketio_adapter.run_event(server, *call)
        except Exception:
            log.exception("socket event %r failed", call[2][0] if call[2] else None)
        with lock:
            if sock.closed:
                sock.waiting.clear()  # their acks could not reach the client any more
            if not sock.waiting:
                sock.running -= 1
                return
            call = sock.waiting.popleft()
        server.sleep(0)


def _refuse(server, call: Event, limit: str, detail: str, reset_at: int, closing: bool) -> None:
    """Answer 1008 without running the event; start the close of a socket refused too often."""
    sid, eio_sid, _data, namespace, id = call
    if id is not None:
        message = f"too many socket events ({limit}: {detail})"
        data = {"limit": limit, "reset_at": reset_at}
        if closing:
            message += f"; {REFUSALS_TO_CLOSE} refused within {REFUSAL_WINDOW:g} s, this socket is closed"
            data["closing"] = True
        envelope = errors.RateLimited(message, data=data).envelope()
        socketio_adapter.send_ack(server, eio_sid, namespace, id, [envelope])
    if closing:
        log.warning("socket %s closed after %d refused events (%s)", sid, REFUSALS_TO_CLOSE, limit)
        server.start_background_task(_close, server, sid, eio_sid, namespace)


def _close(server, sid: str, eio_sid: str, namespace: str) -> None:
    """Socket.IO's disconnect (which the client hears), then the transport's close: a client that
    ignores the first gets nothing more read."""
    try:
        server.disconnect(sid, namespace=namespace)
        server.eio.disconnect(eio_sid)
    except Exception:
        log.exception("could not close socket %s", sid)
