"""The total unread count, pushed to a user's online terminals after a change, once per burst.

It is derived state, so it is not in the event log: a terminal that was away asks
`get_total_unread_msg_count` once after its sync, and hears `total_unread_message_count_changed`
`{"total": N}` from then on. An action notes whose total may have changed in its outbox
(`ctx.outbox.unread_changed`); the note is dropped on rollback and, after commit, handed by im.push to
one background task per process, which waits `IM_UNREAD_PUSH_DELAY` seconds, so that a burst (a busy
group: one message to 2,000 members after another) costs one grouped aggregate per chunk of online
users instead of one per receiver per message, and emits each total to the user's room.
"""

import logging
import threading

from flask import Flask
from sqlalchemy import select

from . import yielding
from .adapters import socketio as socketio_adapter
from .extensions import db, socketio
from .models import Connection

log = logging.getLogger(__name__)
EVENT = "total_unread_message_count_changed"
_CHUNK = 500
_lock = threading.Lock()
# app -> users whose total to push: the work queue of the app's running task (absent when none runs).
_pending: dict = {}


def _online(user_ids: list[str]) -> list[str]:
    """Those of these users with a terminal to tell: any node's (the presence rows) behind a message
    queue, else this process's own sockets, which need no query."""
    from flask import current_app

    from .push import user_room

    if current_app.config["IM_MESSAGE_QUEUE"]:
        return list(db.session.scalars(select(Connection.user_id).where(Connection.user_id.in_(user_ids)).distinct()))
    return [uid for uid in user_ids if socketio_adapter.has_local_sockets(socketio.server, user_room(uid))]


def push_now(user_ids) -> int:
    """Compute the totals of those of these users who are online and emit them; returns how many."""
    from .operations import runner
    from .push import user_room
    from .services.conversation_lists import totals

    ids = sorted(set(user_ids))
    sent = 0
    for start in range(0, len(ids), _CHUNK):
        online = _online(ids[start : start + _CHUNK])
        if not online:
            continue
        by_total: dict[int, list[str]] = {}
        # The read transaction ends before the emits (SQLite: do not hold a snapshot).
        with runner.reading() as ctx:
            for uid, total in totals(ctx, online).items():
                by_total.setdefault(total, []).append(user_room(uid))
        # One emit per distinct total: Socket.IO encodes the packet once for all its rooms.
        for total, rooms in by_total.items():
            socketio.emit(EVENT, {"total": total}, to=rooms if len(rooms) > 1 else rooms[0])
        sent += len(online)
        yielding.pause()  # let other work in between chunks (sockets and timers too)
    return sent


def _flush(app) -> None:
    while True:
        socketio.sleep(app.config["IM_UNREAD_PUSH_DELAY"])
        with _lock:
            users = _pending[app]
            if not users:
                del _pending[app]  # the next change starts a new task
                return
            _pending[app] = set()
        try:
            with app.app_context():
                try:
                    push_now(users)
                finally:
                    db.session.remove()
        except Exception:  # the next change pushes again; one failure must not stop the task
            log.exception("pushing the total unread count to %d users failed", len(users))


def schedule(app: Flask, users: set[str]) -> None:
    """After a commit: push these users' totals once the current burst is over."""
    with _lock:
        if app in _pending:  # its task is waiting and takes these too
            _pending[app] |= users
            return
        _pending[app] = set(users)
    socketio.start_background_task(_flush, app)
