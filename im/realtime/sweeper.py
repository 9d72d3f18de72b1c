"""Per-process background task: node heartbeat, closing sockets of expired or revoked sessions,
dropping stale rate-limit counters, and now and then pruning event logs and deleting orphan uploads."""

import logging
import threading

from .. import ratelimit, yielding
from ..extensions import db, socketio
from ..operations import runner
from ..services import events, presence, uploads

log = logging.getLogger(__name__)
_start_lock = threading.Lock()
# node id -> (stop flag, task) of the sweepers this process runs
_running: dict[str, tuple[threading.Event, object]] = {}
# Each prune round is bounded (im/services/events.py), so it runs often and a pass over all users
# takes minutes: with 20,000 users, 100 rounds.
PRUNE_EVERY = 10
ORPHANS_EVERY = 60


def ensure_started(app) -> None:
    """Start the sweeper once for this process's node."""
    node_id = app.config["IM_NODE_ID"]
    with _start_lock:
        if node_id in _running:
            return
        stop = threading.Event()
        _running[node_id] = (stop, socketio.start_background_task(_run, app, stop))


def stop(app, timeout: float = 5.0) -> None:
    """Stop the sweeper of this app's node, if this process runs one, and wait for its round to end.

    For an app that is going away while its process lives on (tests make one per test): a sweeper
    left running would go on reaching a database that is gone.
    """
    with _start_lock:
        running = _running.pop(app.config["IM_NODE_ID"], None)
    if running is None:
        return
    flag, task = running
    flag.set()
    join = getattr(task, "join", None)  # a thread's or a greenlet's; eventlet's ends on its own
    if join is not None:
        join(timeout)


def stop_all() -> None:
    """Stop every sweeper this process runs (the end of a test)."""
    for node_id in list(_running):
        flag, _task = _running.get(node_id, (None, None))
        if flag is not None:
            flag.set()
    _running.clear()


def sweep_once(app) -> None:
    node_id = app.config["IM_NODE_ID"]
    with runner.transaction() as ctx:
        presence.heartbeat(ctx, node_id, app.config["IM_NODE_TIMEOUT"])
    ratelimit.expire_stale()
    with runner.reading() as ctx:
        dead = presence.dead_connections(ctx, node_id)
    for sid, why, platform_id in dead:
        if why == "expired":
            socketio.emit("token_expired", {}, to=sid)
        else:
            socketio.emit("kicked_offline", {"reason": why, "platform_id": platform_id}, to=sid)
        socketio.server.disconnect(sid, namespace="/")
        with runner.transaction() as ctx:
            presence.disconnect(ctx, sid)


def leave(app) -> None:
    """The node is shutting down: drop its presence now rather than after IM_NODE_TIMEOUT."""
    with app.app_context():
        try:
            with runner.transaction() as ctx:
                presence.leave(ctx, app.config["IM_NODE_ID"])
        except Exception:
            log.exception("could not remove node %s", app.config["IM_NODE_ID"])
        finally:
            db.session.remove()


def now_and_then(rounds: int, progress: dict | None = None) -> None:
    """The work of the sweeper's rarer rounds; `progress` keeps where the event prune goes on."""
    progress = {} if progress is None else progress
    if rounds % PRUNE_EVERY == 0:
        with runner.transaction() as ctx:

            def checkpoint() -> None:
                ctx.session.commit()
                yielding.pause()

            progress["prune_after"] = events.prune_events(
                ctx, progress.get("prune_after") or "", checkpoint=checkpoint
            ).next_after
    if rounds % ORPHANS_EVERY == 0:
        with runner.transaction() as ctx:
            uploads.delete_orphans(ctx)


def _run(app, stopped: threading.Event) -> None:
    interval = app.config["IM_SWEEP_INTERVAL"]
    rounds = 0
    progress: dict = {}
    while not stopped.is_set():
        with app.app_context():
            try:
                sweep_once(app)
                rounds += 1
                now_and_then(rounds, progress)
            except Exception:
                db.session.rollback()
                log.exception("sweep failed")
            finally:
                db.session.remove()
        # an Event's wait is the async mode's own once threading is patched (gevent, eventlet)
        stopped.wait(interval)
