"""Telling users: after a transaction commits, its outbox becomes Socket.IO emits and socket closes.

Zulip's send_event_on_commit is the model. Actions log events in the transaction and put what to
emit in the context's outbox (im.services.context); the operation runner commits and only then calls
`deliver`, and drops the outbox on rollback, so nobody ever hears of a change that did not happen.
"""

import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask

from . import unread_push
from .extensions import socketio
from .services.context import Outbox

log = logging.getLogger(__name__)


def user_room(user_id: str) -> str:
    return f"u:{user_id}"


def session_room(session_id: int) -> str:
    return f"s:{session_id}"


def _room(kind: str, target: Any) -> str:
    if kind == "user":
        return user_room(target)
    return session_room(target) if kind == "session" else target  # a socket's own room is its sid


def _disconnect_all(sids: Iterable[str]) -> None:
    for sid in sids:
        try:
            socketio.server.disconnect(sid, namespace="/")
        except Exception:  # one dead socket must not keep the others open
            log.exception("could not disconnect %s", sid)


def _batched(items: list) -> list[list]:
    """Consecutive emits of one payload object to several rooms become one emit to the list of rooms.

    Socket.IO then encodes the packet once for all of them instead of once per room: a group message
    to 500 members was 500 encodings (make bench, fan-out scenario). Order is kept.
    """
    batches: list[list] = []
    for kind, target, name, payload in items:
        if kind == "disconnect":
            batches.append(["disconnect", [target], None, None])
            continue
        room = _room(kind, target)
        last = batches[-1] if batches else None
        if last and last[0] == "emit" and last[2] == name and last[3] is payload:
            last[1].append(room)
        else:
            batches.append(["emit", [room], name, payload])
    return batches


def deliver(outbox: Outbox, app: Flask) -> None:
    """Emit what a committed transaction's outbox holds, close the sockets it names, note whose
    total unread count to push, and run its post-commit work."""
    to_close: list[str] = []
    for kind, targets, name, payload in _batched(outbox.items):
        if kind == "disconnect":
            to_close.extend(targets)
            continue
        try:
            socketio.emit(name, payload, to=targets if len(targets) > 1 else targets[0])
        except Exception:  # a failed emit must not block the others
            log.exception("post-commit emit of %s to %s failed", name, targets)
    if to_close:
        # Closing a local socket runs its disconnect handler, which needs the database session
        # this request may still be using; so close from a task of its own, after the emits above.
        socketio.start_background_task(_disconnect_all, to_close)
    if outbox.unread:
        unread_push.schedule(app, outbox.unread)
    for work in outbox.afterwards:
        try:
            work()
        except Exception:  # the commit stands; what is left behind is swept later
            log.exception("post-commit work failed")
