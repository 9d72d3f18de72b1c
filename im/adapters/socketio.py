"""What im/realtime/dispatch.py and im/realtime/handshake.py use of python-socketio beyond its
documented API (written for python-socketio 5.18.1).

- `Server._handle_event(eio_sid, namespace, id, data)`: called by `_handle_eio_message` (through the
  instance, so an instance attribute takes its place) for every EVENT packet, in the task reading the
  socket, before any handler; it checks the socket is connected and starts
  `_handle_event_internal(server, sid, eio_sid, data, namespace, id)`, which runs the handler and
  sends its ack.
- `Server._send_packet(eio_sid, pkt)` sends a Socket.IO packet; `Server.environ` maps an Engine.IO
  sid to its WSGI environ.
- `Server.manager.rooms[namespace][room]`: the sids in a room of this process (im/unread_push.py asks
  which users have a socket here without a query).
- `Server._handle_eio_connect` and `_handle_eio_disconnect` are what python-socketio registers as its
  Engine.IO server's `connect` and `disconnect` handlers (wrapped by im/realtime/handshake.py).

Why: python-socketio has no hook between reading an event and starting its task. Without one, a
socket writing 20,000 events in a burst started 20,000 tasks ahead of everyone else's events; the
gate counts, queues or refuses each event before a task exists (tests/test_socket_limits.py).
"""

from typing import Any

from socketio import packet

TARGETS = {"python-socketio": "5.18.1"}


def take_event_dispatch(server, handle_event) -> None:
    """Call `handle_event(eio_sid, namespace, id, data)` for every event instead of python-socketio's
    dispatch, which would start a task for it."""
    if not callable(getattr(server, "_handle_event_internal", None)):
        raise RuntimeError("this python-socketio has no Server._handle_event_internal to gate")
    server._handle_event = handle_event


def run_event(server, sid: str, eio_sid: str, data: list, namespace: str, id) -> None:
    """Run an event's handler here and send its ack, as python-socketio's own task does."""
    server._handle_event_internal(server, sid, eio_sid, data, namespace, id)


def send_ack(server, eio_sid: str, namespace: str, id, data: list) -> None:
    """Send the ack of event `id` with `data` (the handler's answer as a list of arguments)."""
    server._send_packet(eio_sid, server.packet_class(packet.ACK, namespace=namespace, id=id, data=data))


def environ(server, eio_sid: str) -> dict | None:
    """The WSGI environ of an Engine.IO connection, or None once it is gone."""
    return server.environ.get(eio_sid)


def has_local_sockets(server: Any, room: str, namespace: str = "/") -> bool:
    """Whether a room holds a socket of this process (python-socketio's manager keeps its rooms as
    namespace -> room -> {sid: eio_sid})."""
    return bool(server.manager.rooms.get(namespace, {}).get(room))
