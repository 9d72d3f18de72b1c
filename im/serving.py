"""Options for the web server that socketio.run starts."""
import socket


def _no_delay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (a Unix socket, a test double)
        pass


def gevent_handler_class():
    """gevent's WSGI handler with TCP_NODELAY, writing nothing on a connection once its WebSocket ended.

    An IM server writes many small frames (an ack, then a message) on one socket. With Nagle's algorithm
    the second small write waits for the peer's delayed ACK, about 40 ms on Linux. Measured on one
    pair of users (docs/performance.md): send-to-delivery p50 49 ms without it, 13 ms with it; a REST
    call 48 ms without it, 3 ms with it.

    simple-websocket writes the 101 handshake on the raw socket, so pywsgi does not know the
    connection was upgraded: after the WebSocket ends it wrote the 200 that Engine.IO returns for an
    upgraded request, and parsed the client's closing frame as a new HTTP request (answering 400).
    Browsers report both as "Invalid frame header". An upgrade request is never rightly answered
    200, so that answer is dropped and the connection closed; refusals (400 and the like) still go out.
    """
    from gevent import pywsgi

    class IMHandler(pywsgi.WSGIHandler):
        def __init__(self, sock, *args, **kwargs):
            _no_delay(sock)
            super().__init__(sock, *args, **kwargs)

        def run_application(self):
            if self.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
                return super().run_application()
            self.close_connection = True
            ended = []

            def start_response(status, headers, exc_info=None):
                if status.startswith("200"):
                    ended.append(True)
                    return lambda data: None
                return self.start_response(status, headers, exc_info)

            try:
                self.result = self.application(self.environ, start_response)
                if not ended:
                    self.process_result()
            finally:
                close = getattr(self.result, "close", None)
                self.result = None
                if close is not None:
                    close()

    return IMHandler


def run_options(async_mode: str) -> dict:
    """Extra keyword arguments for socketio.run in this async mode."""
    if async_mode == "gevent":
        return {"handler_class": gevent_handler_class()}
    return {}
