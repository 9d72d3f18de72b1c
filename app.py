"""Run the IM server: pick the async mode and monkey-patch before anything else is imported."""
import os

ASYNC_MODE = os.environ.get("IM_ASYNC_MODE", "gevent")
if ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
elif ASYNC_MODE == "eventlet":
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import eventlet

    eventlet.monkey_patch()

from im import create_app  # noqa: E402
from im.extensions import socketio  # noqa: E402

app = create_app()


def _gevent_handler_class():
    """gevent's WSGI handler, writing nothing on a connection once its WebSocket has ended.

    simple-websocket writes the 101 handshake on the raw socket, so pywsgi does not know the
    connection was upgraded: after the WebSocket ends it wrote the 200 that Engine.IO returns for an
    upgraded request, and parsed the client's closing frame as a new HTTP request (answering 400).
    Browsers report both as "Invalid frame header". An upgrade request is never rightly answered
    200, so that answer is dropped and the connection closed; refusals (400 and the like) still go out.
    """
    from gevent import pywsgi

    class WebSocketClosingHandler(pywsgi.WSGIHandler):
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

    return WebSocketClosingHandler


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", 5000))
    options = {}
    if ASYNC_MODE == "gevent":
        options["handler_class"] = _gevent_handler_class()
    if ASYNC_MODE == "eventlet":
        # eventlet.wsgi.server stops accepting at 1024 simultaneous connections unless told otherwise.
        options["max_size"] = app.config["IM_MAX_CONNECTIONS"]
    app.logger.info("serving on http://%s:%s (async mode %s)", host, port, ASYNC_MODE)
    socketio.run(app, host=host, port=port, log_output=False, allow_unsafe_werkzeug=ASYNC_MODE == "threading",
                 **options)


if __name__ == "__main__":
    main()
