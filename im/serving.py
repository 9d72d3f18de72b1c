"""Options for the web server that socketio.run starts."""
import socket


def _no_delay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (a Unix socket, a test double)
        pass


def gevent_handler_class():
    """gevent's WSGI handler with TCP_NODELAY on every accepted socket.

    An IM server writes many small frames (an ack, then a message) on one socket. With Nagle's algorithm
    the second small write waits for the peer's delayed ACK, about 40 ms on Linux. Measured on one
    pair of users (docs/performance.md): send-to-delivery p50 49 ms without it, 13 ms with it; a REST
    call 48 ms without it, 3 ms with it.
    """
    from gevent import pywsgi

    class NoDelayHandler(pywsgi.WSGIHandler):
        def __init__(self, sock, *args, **kwargs):
            _no_delay(sock)
            super().__init__(sock, *args, **kwargs)

    return NoDelayHandler


def run_options(async_mode: str) -> dict:
    """Extra keyword arguments for socketio.run in this async mode."""
    if async_mode == "gevent":
        return {"handler_class": gevent_handler_class()}
    return {}
