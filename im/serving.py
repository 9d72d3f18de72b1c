"""Options for the web server that socketio.run starts.

The handler classes extend gevent.pywsgi's WSGIHandler and eventlet.wsgi's HttpProtocol through
their documented hooks (`handler_class`, `protocol`) but override methods of theirs that are not
documented: `read_requestline`, `read_request`, `run_application` (with `process_result`, `result`,
`close_connection`) and the private `_handle_client_error` of pywsgi; `handle_one_request`,
`parse_request` and `raw_requestline` of eventlet. Written for the releases in `TARGETS`;
tests/test_adapters.py checks them.
"""

import logging
import socket

log = logging.getLogger(__name__)

TARGETS = {"gevent": "26.9.0", "eventlet": "0.41.3"}


class HeadTimeout(TimeoutError):
    """The client did not send a complete request head in time (an OSError, as a dead peer is)."""


def _no_delay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (a Unix socket, a test double)
        pass


def gevent_handler_class(header_timeout: float | None = None):
    """gevent's WSGI handler with TCP_NODELAY and a deadline for the request head, writing nothing on
    a connection once its WebSocket ended.

    An IM server writes many small frames (an ack, then a message) on one socket. With Nagle's algorithm
    the second small write waits for the peer's delayed ACK, about 40 ms on Linux. Measured on one
    pair of users (docs/performance.md): send-to-delivery p50 49 ms without it, 13 ms with it; a REST
    call 48 ms without it, 3 ms with it.

    simple-websocket writes the 101 handshake on the raw socket, so pywsgi does not know the
    connection was upgraded: after the WebSocket ends it wrote the 200 that Engine.IO returns for an
    upgraded request, and parsed the client's closing frame as a new HTTP request (answering 400).
    Browsers report both as "Invalid frame header". An upgrade request is never rightly answered
    200, so that answer is dropped and the connection closed; refusals (400 and the like) still go out.

    pywsgi waits for a request head as long as the client likes, so a client sending a byte now and
    then held its connection forever (slowloris). With `header_timeout`, a connection that has not sent
    a complete request line and headers within that many seconds of the handler starting to wait for
    them (for a kept-alive connection: since its previous answer) is closed; the body, and a WebSocket
    once upgraded, are not limited by it. A peer that goes away mid-head (a reset) or times out gets
    one log line; pywsgi printed a traceback of the reset and another of answering it 400.
    """
    import gevent
    from gevent import pywsgi

    class IMHandler(pywsgi.WSGIHandler):
        _head_timer = None

        def __init__(self, sock, *args, **kwargs):
            _no_delay(sock)
            super().__init__(sock, *args, **kwargs)

        def handle(self):
            try:
                super().handle()
            except OSError as exc:  # answering a peer that has gone (pywsgi writes its 400 unguarded)
                log.info("connection from %s ended: %s", _address(self), exc)
            finally:
                self._stop_head_timer()

        def read_requestline(self):
            if header_timeout:
                self._head_timer = gevent.Timeout(header_timeout, HeadTimeout("no complete request head"))
                self._head_timer.start()
            try:
                line = super().read_requestline()
            except BaseException:
                self._stop_head_timer()
                raise  # pywsgi closes quietly: an idle kept-alive connection or one gone before a byte
            if not line:
                self._stop_head_timer()
            return line

        def read_request(self, raw_requestline):
            try:
                return super().read_request(raw_requestline)
            finally:
                self._stop_head_timer()

        def _stop_head_timer(self):
            if self._head_timer is not None:
                self._head_timer.close()
                self._head_timer = None

        def _handle_client_error(self, ex):
            # None: close without an answer, there is nobody (left) to read one
            if isinstance(ex, HeadTimeout):
                log.info(
                    "closed the connection from %s: no complete request head within %g s",
                    _address(self),
                    header_timeout,
                )
                return None
            if isinstance(ex, OSError):
                log.info("connection from %s ended before its request head: %s", _address(self), ex)
                return None
            return super()._handle_client_error(ex)

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


def eventlet_protocol_class(header_timeout: float | None = None):
    """eventlet.wsgi's protocol with the same deadline for the request head as the gevent handler's.

    eventlet.wsgi only times each read (its `keepalive` and `socket_timeout`), so a client sending a
    byte every few seconds held its connection forever. Here one timer runs from the wait for the
    request line to the end of the headers (`parse_request`); the body and a WebSocket are not timed.
    """
    import eventlet
    from eventlet import wsgi

    class IMProtocol(wsgi.HttpProtocol):
        _head_timer = None

        def handle_one_request(self):
            self.raw_requestline = b""  # what the timer interrupted: nothing yet, or a head
            if header_timeout:
                self._head_timer = eventlet.Timeout(header_timeout, HeadTimeout("no complete request head"))
            try:
                super().handle_one_request()
            except OSError as exc:
                if self._head_timer is None and not isinstance(exc, HeadTimeout):
                    raise  # not while reading the head: eventlet's own handling
                self.close_connection = 1
                if isinstance(exc, HeadTimeout) and self.raw_requestline:
                    log.info(
                        "closed the connection from %s: no complete request head within %g s",
                        _address(self),
                        header_timeout,
                    )
                elif not isinstance(exc, HeadTimeout):
                    log.info("connection from %s ended before its request head: %s", _address(self), exc)
            finally:
                self._stop_head_timer()

        def parse_request(self):
            try:
                return super().parse_request()
            finally:
                self._stop_head_timer()

        def _stop_head_timer(self):
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

    return IMProtocol


def _address(handler) -> str:
    address = getattr(handler, "client_address", None)
    return address[0] if isinstance(address, tuple) and address else str(address)


def run_options(async_mode: str, header_timeout: float | None = None) -> dict:
    """Extra keyword arguments for socketio.run in this async mode."""
    if async_mode == "gevent":
        return {"handler_class": gevent_handler_class(header_timeout)}
    if async_mode == "eventlet":
        return {"protocol": eventlet_protocol_class(header_timeout)}
    return {}
