"""gunicorn settings for one IM node: `gunicorn -c gunicorn.conf.py app:app` (docs/deploy.md)."""

import os

# gevent's record of each greenlet's spawning stack is for debugging; it costs memory per socket (app.py).
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Flask-SocketIO keeps a client's Socket.IO session in one process: exactly one worker per node.
# More capacity means more nodes (processes, machines) behind nginx, not more workers here.
workers = 1
worker_class = "gevent"
worker_connections = int(os.environ.get("IM_MAX_CONNECTIONS", 20000))
# On SIGTERM, requests in flight get this long; WebSockets never finish by themselves, so keep it short.
graceful_timeout = 3
timeout = 60
# gunicorn's control socket lives at one path per user: several nodes on one machine would share it.
control_socket_disable = True


def post_worker_init(worker):
    """On SIGTERM the node first forgets its sockets, so online status is right at once (instead of
    after IM_NODE_TIMEOUT), then stops as gunicorn would."""
    import signal

    import gevent

    from im.realtime import sweeper

    def leave_then_exit():
        sweeper.leave(worker.wsgi)
        worker.handle_exit(signal.SIGTERM, None)

    gevent.signal_handler(signal.SIGTERM, leave_then_exit)
