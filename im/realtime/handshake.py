"""Engine.IO connections that have not yet completed the Socket.IO CONNECT: a deadline and a cap per address.

Opening an Engine.IO connection (the handshake GET, or a WebSocket upgrade) needs no token: the token
is only checked when the client sends the Socket.IO CONNECT, and Engine.IO's pings keep a connection
alive that never sends it. So such a connection is counted from its Engine.IO handshake until its
CONNECT is accepted (`accepted`) or it closes; one that is still waiting after `IM_HANDSHAKE_TIMEOUT`
seconds is closed, and an address that already holds `IM_MAX_UNAUTHENTICATED_PER_ADDRESS` of them is
refused at the handshake with HTTP 401 and errCode 1008. The count is per process.

It wraps the `connect` and `disconnect` handlers python-socketio registers on its Engine.IO server,
and closes a late connection at once: both go through im/adapters/engineio.py (which says what of
Engine.IO they use and for which release); the rest is Engine.IO's public API.
"""

import logging
import threading
import time

from .. import errors
from ..adapters import engineio as engineio_adapter

log = logging.getLogger(__name__)


class HandshakeGuard:
    """The connections of one Engine.IO server waiting for their Socket.IO CONNECT."""

    def __init__(self, eio, timeout: float, max_per_address: int):
        self.eio = eio
        self.timeout = timeout
        self.max_per_address = max_per_address
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, float]] = {}  # eio sid -> (address, deadline)
        self._per_address: dict[str, int] = {}
        self._sweeping = False
        self._connect = engineio_adapter.handler(eio, "connect")
        self._disconnect = engineio_adapter.handler(eio, "disconnect")
        eio.on("connect", self._on_eio_connect)
        eio.on("disconnect", self._on_eio_disconnect)

    def pending_count(self, address: str | None = None) -> int:
        with self._lock:
            return len(self._pending) if address is None else self._per_address.get(address, 0)

    def _on_eio_connect(self, sid, environ):
        address = environ.get("REMOTE_ADDR") or "-"
        with self._lock:
            held = self._per_address.get(address, 0)
            if self.max_per_address and held >= self.max_per_address:
                refused = True
            else:
                refused = False
                self._per_address[address] = held + 1
                self._pending[sid] = (address, time.monotonic() + self.timeout)
                start_sweeper = not self._sweeping and self.timeout > 0
                self._sweeping = self._sweeping or start_sweeper
        if refused:
            log.info("refused an Engine.IO connection from %s: %d already wait for their CONNECT", address, held)
            # Engine.IO answers a handler's refusal with 401 and this object as the JSON body
            return errors.RateLimited("too many connections from this address without CONNECT").envelope()
        if start_sweeper:
            self.eio.start_background_task(self._sweep_while_pending)
        answer = self._connect(sid, environ) if self._connect is not None else None
        if answer is not None and answer is not True:
            self._forget(sid)  # refused further down: Engine.IO drops it without a disconnect event
        return answer

    def _on_eio_disconnect(self, sid, reason=None):
        self._forget(sid)
        if self._disconnect is not None:
            return self._disconnect(sid, reason)
        return None

    def accepted(self, eio_sid: str) -> None:
        """The Socket.IO CONNECT of this Engine.IO connection was accepted: it no longer counts."""
        self._forget(eio_sid)

    def _forget(self, sid) -> None:
        with self._lock:
            entry = self._pending.pop(sid, None)
            if entry is not None:
                left = self._per_address[entry[0]] - 1
                if left:
                    self._per_address[entry[0]] = left
                else:
                    del self._per_address[entry[0]]

    def _sweep_while_pending(self) -> None:
        # One task for all connections, not a sleeping timer each: a close late by up to a quarter
        # of the timeout is fine, a greenlet per connection is not. It ends when none is waiting.
        interval = min(1.0, self.timeout / 4)
        while True:
            self.eio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive one bad connection
                log.exception("handshake sweep failed")
            with self._lock:
                if not self._pending:
                    self._sweeping = False
                    return

    def sweep(self, now: float | None = None) -> int:
        """Close every waiting connection past its deadline; the number closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            late = [sid for sid, (_address, deadline) in self._pending.items() if deadline <= now]
        for sid in late:
            # Not eio.disconnect(sid): it waits until the client has read the CLOSE packet, which
            # a polling client that stopped polling never does (as Engine.IO's own ping timeout).
            if engineio_adapter.close_at_once(self.eio, sid):
                log.info("closed Engine.IO connection %s: no Socket.IO CONNECT within %g s", sid, self.timeout)
            # gone without a disconnect event (a failed upgrade): forget it all the same
            self._forget(sid)
        return len(late)


def install(eio, timeout: float, max_per_address: int) -> HandshakeGuard:
    """Guard an Engine.IO server's handshakes; call after python-socketio registered its handlers."""
    guard = HandshakeGuard(eio, timeout, max_per_address)
    eio.im_handshake = guard
    return guard


def accepted(socketio_server, sid: str, namespace: str = "/") -> None:
    """Tell the guard (if any) that the Socket.IO session `sid` passed its CONNECT."""
    guard = getattr(socketio_server.eio, "im_handshake", None)
    if guard is not None:
        eio_sid = socketio_server.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None:
            guard.accepted(eio_sid)
