"""Run the IM server: pick the async mode and monkey-patch before anything else is imported."""

import os

ASYNC_MODE = os.environ.get("IM_ASYNC_MODE", "gevent")
if ASYNC_MODE == "gevent":
    # gevent's own setting, read when a greenlet is spawned: the spawning stack it records for each
    # greenlet is for debugging and costs about 1 KiB per greenlet, several greenlets per socket.
    os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")
    from gevent import monkey

    monkey.patch_all()
elif ASYNC_MODE == "eventlet":
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import eventlet

    eventlet.monkey_patch()

    # psycopg detects gevent's patching but not eventlet's: it would wait on the server with its C
    # poll loop and freeze every green thread. select.select is greened by eventlet, so wait on that.
    import psycopg.waiting

    psycopg.waiting.wait = psycopg.waiting.wait_select

from im import create_app  # noqa: E402
from im.extensions import socketio  # noqa: E402
from im.serving import run_options  # noqa: E402

app = create_app()


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", 5000))
    options = run_options(ASYNC_MODE, app.config["IM_HEADER_TIMEOUT"])
    if ASYNC_MODE == "eventlet":
        # eventlet.wsgi.server stops accepting at 1024 simultaneous connections unless told otherwise.
        options["max_size"] = app.config["IM_MAX_CONNECTIONS"]
    app.logger.info("serving on http://%s:%s (async mode %s)", host, port, ASYNC_MODE)
    socketio.run(
        app, host=host, port=port, log_output=False, allow_unsafe_werkzeug=ASYNC_MODE == "threading", **options
    )


if __name__ == "__main__":
    main()
