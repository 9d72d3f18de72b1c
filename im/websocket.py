"""Engine.IO's WebSocket transport under gevent, with less resident memory per idle socket.

Every greenlet that has run and is now waiting keeps its own slice of the C stack and a chunk of
Python's frame stack, about 8 KiB of resident memory even when it does nothing (measured with a few
thousand sleeping greenlets). Out of the box each idle socket keeps four: the WSGI handler (running
Engine.IO's receive loop), simple-websocket's reader, Engine.IO's writer, and Engine.IO's ping task,
which sleeps for the whole ping interval. Here the handler reads the socket itself and the ping waits
as a timer, so an idle socket keeps two (the handler and the writer). The protocol is unchanged:
same frames, same pings at the same interval, same close handshake.

What this takes of Engine.IO's and simple-websocket's internals goes through im/adapters/engineio.py
and im/adapters/simple_websocket.py, which say which releases they were written for.
"""

import socket

import gevent
import gevent.event
import gevent.selectors
import simple_websocket
from simple_websocket import ConnectionClosed
from wsproto.connection import ConnectionState
from wsproto.utilities import LocalProtocolError

from .adapters import engineio as engineio_adapter
from .adapters import simple_websocket as simple_websocket_adapter

# After closing a WebSocket first, how long the server still reads (and drops) the peer's input so it
# can read the close frame: closing a socket with unread input sends a TCP reset, and the peer's kernel
# then discards what it had not yet read, the close frame too. As nginx's lingering close, bounded in
# time only: what is read is dropped 64 KiB at a time, so memory stays flat.
LINGER_SECONDS = 2.0


class InlineServer(simple_websocket.Server):
    """simple-websocket's server side, reading its socket in the greenlet that asks for a message.

    The reading is simple-websocket's own (`Base._thread` without the ping option, which Engine.IO
    does not use; im/adapters/simple_websocket.py): the same receive size, the same wsproto events
    and the same replies to pings and to the client's close. Engine.IO has one receiving greenlet per
    socket, so nothing else reads.

    With `max_message_size` (Engine.IO's max_http_buffer_size), a message growing past it is refused
    as soon as that many bytes have arrived, with close code 1009 (message too big); before, the whole
    message was buffered, however big, and Engine.IO then ended the connection with a normal close.
    """

    sock: socket.socket  # never None in a Server: without a socket its __init__ raises

    def __init__(self, environ, **kwargs):
        super().__init__(environ, thread_class=simple_websocket_adapter.NoReader, **kwargs)

    def receive(self, timeout=None):
        if timeout is not None:
            raise ValueError("the inline reader waits without a timeout, as Engine.IO asks it to")
        while self.connected and not self.input_buffer:
            try:
                data = self.sock.recv(self.receive_bytes)
                if not data:
                    raise OSError("connection closed by the peer")
                self.ws.receive_data(data)
                self.connected = simple_websocket_adapter.handle_events(self)
            except (OSError, LocalProtocolError):
                self.connected = False
        if self.input_buffer:
            return self.input_buffer.pop(0)
        if self.ws.state == ConnectionState.LOCAL_CLOSING:
            self._linger()
        self.sock.close()
        raise ConnectionClosed(self.close_reason, self.close_message)

    def _linger(self) -> None:
        """Half-close and drop the peer's input for a bounded time, so it reads our close frame."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            # False: the block ends silently at the timeout (gevent's documented use; its stubs omit it)
            with gevent.Timeout(LINGER_SECONDS, False):  # type: ignore[arg-type]
                while self.sock.recv(65536):
                    pass
        except OSError:
            pass


class InlineWebSocketWSGI(engineio_adapter.SimpleWebSocketWSGI):
    """Engine.IO's gevent WebSocket wrapper (`engineio.async_drivers.gevent`) over InlineServer."""

    def __init__(self, handler, server):
        super().__init__(
            handler, server, event_class=gevent.event.Event, selector_class=gevent.selectors.DefaultSelector
        )
        self.max_message_size = int(server.max_http_buffer_size)

    def __call__(self, environ, start_response):
        self.ws = InlineServer(environ, max_message_size=self.max_message_size, **self.server_args)
        if self.ws.mode == "gevent":
            _release_request_buffer(environ)
        ret = self.app(self)
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return ret

    def wait(self):
        """The next message, or None once the connection is closed.

        Engine.IO has no empty packet: given an empty frame it raises outside its receive loop's
        error handling, which logged a traceback and left the socket's writer waiting until the ping
        timeout. An empty frame closes this connection as a protocol error instead, the way its
        sender meant nothing else by it.
        """
        message = super().wait()
        if message is not None and len(message) == 0:
            if self.ws.connected:
                self.ws.close(reason=1002, message="empty frame")
            return None
        return message


def _release_request_buffer(environ) -> None:
    """Free gevent.pywsgi's 8 KiB read buffer of the upgrade request once the handshake is done.

    The WebSocket reads its own duplicate of the socket from then on, so the buffer is never read
    again but would live as long as the socket. Closing the buffered reader leaves the socket open.
    """
    wsgi_input = environ.get("wsgi.input")
    reader = getattr(wsgi_input, "rfile", wsgi_input)
    if reader is not None and hasattr(reader, "raw"):
        reader.close()


def install(eio_server) -> bool:
    """Use this transport and timer pings on an Engine.IO server in gevent mode; False otherwise.

    Nothing changes in other async modes, nor when gevent-websocket is installed (Engine.IO then
    uses it instead of simple-websocket).
    """
    if eio_server.async_mode != "gevent" or not engineio_adapter.gevent_uses_simple_websocket():
        return False
    engineio_adapter.use_websocket_class(eio_server, InlineWebSocketWSGI)
    engineio_adapter.time_pings(eio_server, gevent.spawn_later)
    return True
