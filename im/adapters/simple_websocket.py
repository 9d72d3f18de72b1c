"""What im/websocket.py's inline reader uses of simple-websocket beyond its documented API (written
for simple-websocket 1.1.0, over wsproto 1.3.2).

`simple_websocket.Server(environ, thread_class=..., max_message_size=...)` starts `Base._thread`, the
reader, as `thread_class(target=...)`: a class whose `start` does nothing leaves the reading to the
caller. The reading is `Base._thread`'s (without its ping option): `sock.recv(receive_bytes)`, then
`ws.receive_data(data)` (the wsproto connection) and `connected = _handle_events()`, which answers
pings and the close handshake, appends each complete message to `input_buffer`, sets `close_reason`
and `close_message`, refuses a message past `max_message_size` with close 1009, and returns False
once the connection is over.
"""

TARGETS = {"simple-websocket": "1.1.0", "wsproto": "1.3.2"}


class NoReader:
    """Stands in for simple-websocket's reader thread, which is not started."""

    name = "inline reader"

    def __init__(self, target):
        pass

    def start(self):
        pass


def handle_events(ws) -> bool:
    """Act on what the wsproto connection of `ws` has received; False once the connection is over."""
    return ws._handle_events()
