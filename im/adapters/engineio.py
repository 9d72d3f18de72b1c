"""What im/websocket.py and im/realtime/handshake.py use of Engine.IO beyond its documented API
(written for python-engineio 4.15.1).

- `engineio.async_drivers._websocket_wsgi.SimpleWebSocketWSGI`: the wrapper of a simple-websocket
  connection that the gevent driver subclasses when gevent-websocket is not installed
  (`engineio.async_drivers.gevent.SimpleWebSocketWSGI` is then that class, else None). It keeps
  the handler as `app` and its keyword arguments as `server_args`, and has `wait`, `send`, `close`.
- `Server._async["websocket"]`: the class `Socket._upgrade_websocket` instantiates as
  `cls(socket._websocket_handler, server)` and calls with the request's environ.
- `Socket.schedule_ping`, called after each PONG: when `last_ping` is set it clears it and starts
  `Socket._send_ping`, which sleeps `server.ping_interval`, then, unless `closing` or `closed`, sets
  `last_ping` to time.time() and sends a PING packet.
- `Server.handlers` (event name -> handler, as `Server.on` registers them), `Server.sockets`
  (Engine.IO sid -> Socket), `Socket.close(wait=, reason=)` and `Server.reason.SERVER_DISCONNECT`.

Why the ping and the websocket class (make bench --size small, connections, SQLite, gevent; KiB of
resident memory per idle socket): 48.3 with both, 55.2 without the timer pings, 60.7 without the
inline reader of im/websocket.py, 68.0 without either.
"""

import time

from engineio import packet
from engineio import socket as engineio_socket
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

TARGETS = {"python-engineio": "4.15.1"}

__all__ = [
    "SimpleWebSocketWSGI",
    "close_at_once",
    "gevent_uses_simple_websocket",
    "handler",
    "time_pings",
    "use_websocket_class",
]


def gevent_uses_simple_websocket() -> bool:
    """Whether Engine.IO's gevent driver runs WebSockets on simple-websocket (no gevent-websocket)."""
    from engineio.async_drivers import gevent as engineio_gevent

    return engineio_gevent.SimpleWebSocketWSGI is not None


def use_websocket_class(eio_server, websocket_class) -> None:
    """Make this Engine.IO server run its WebSocket connections on `websocket_class`."""
    eio_server._async = {**eio_server._async, "websocket": websocket_class}


_engineio_schedule_ping = engineio_socket.Socket.schedule_ping


def time_pings(eio_server, call_later) -> None:
    """Wait for each next ping of this server's sockets with `call_later(seconds, fn, *args)` (a
    timer) instead of a task sleeping the ping interval; the servers not asked keep Engine.IO's way.

    Engine.IO creates its sockets from `engineio.socket.Socket` itself, so the method is replaced on
    that class, once, and asks each socket's server which way it pings.
    """
    eio_server.im_call_later = call_later
    engineio_socket.Socket.schedule_ping = _schedule_ping


def _schedule_ping(self):
    """Engine.IO's schedule_ping, with the wait as a timer instead of a sleeping task."""
    call_later = getattr(self.server, "im_call_later", None)
    if call_later is None:
        return _engineio_schedule_ping(self)
    # only schedule a new ping if the previous ping wait cycle completed (as Engine.IO does)
    if self.last_ping:
        self.last_ping = None
        call_later(self.server.ping_interval, _send_ping, self)


def _send_ping(sock) -> None:
    """The second half of Engine.IO's `Socket._send_ping`, after its sleep."""
    if not sock.closing and not sock.closed:
        sock.last_ping = time.time()
        sock.send(packet.Packet(packet.PING))


def handler(eio_server, event: str):
    """The handler registered for an Engine.IO event, or None."""
    return eio_server.handlers.get(event)


def close_at_once(eio_server, sid: str) -> bool:
    """Close an Engine.IO connection without waiting for the client to read the CLOSE packet (as
    Engine.IO's own ping timeout does), and forget it; False if there is no such connection."""
    sock = eio_server.sockets.get(sid)
    if sock is None:
        return False
    sock.close(wait=False, reason=eio_server.reason.SERVER_DISCONNECT)
    eio_server.sockets.pop(sid, None)
    return True
