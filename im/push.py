"""Events to users: logged inside the caller's transaction, emitted only after it commits.

Zulip's send_event_on_commit is the model: a service appends to the user's event log and queues the
emit on the database session; the emit happens in the session's after_commit hook and is dropped on
rollback, so nobody ever hears of a change that did not happen.
"""

import logging

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from .extensions import db, socketio
from .models import User, UserEvent, utcnow

log = logging.getLogger(__name__)
_PENDING = "im_pending_emits"
_FANOUT_CHUNK = 500


def user_room(user_id: str) -> str:
    return f"u:{user_id}"


def session_room(session_id: int) -> str:
    return f"s:{session_id}"


def emit_after_commit(room: str, event_name: str, payload) -> None:
    """Queue a Socket.IO emit to `room` for when the current transaction commits."""
    db.session().info.setdefault(_PENDING, []).append(("emit", room, event_name, payload))


def disconnect_after_commit(sids) -> None:
    """Queue closing these sockets (on whichever process holds them) for after the commit."""
    for sid in sids:
        db.session().info.setdefault(_PENDING, []).append(("disconnect", sid, None, None))


def lock_users(user_ids) -> None:
    """Row-lock users' event logs in one order (PostgreSQL; SQLite has one writer anyway).

    A transaction that publishes to several sets of users locks their union first, so that two
    transactions never hold part of each other's users.
    """
    db.session.execute(
        select(User.user_id)
        .where(User.user_id.in_(sorted(set(user_ids))))
        .order_by(User.user_id)
        .with_for_update(key_share=True)
    )


def publish(user_ids, type_: str, data) -> None:
    """Append an event to each user's log and deliver it to all their terminals after commit.

    Three statements however many users hear of it (a group of thousands): the users are locked in
    one order, so concurrent publishers to overlapping users wait for each other instead of
    deadlocking, then numbered with one UPDATE and logged with one multi-row INSERT.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return
    lock_users(ids)
    seqs = dict(
        db.session.execute(
            update(User)
            .where(User.user_id.in_(ids))
            .values(event_seq=User.event_seq + 1)
            .returning(User.user_id, User.event_seq)
            .execution_options(synchronize_session=False)
        ).all()
    )
    now = utcnow()
    db.session.execute(
        insert(UserEvent),
        [
            {"user_id": uid, "seq": seqs[uid], "type": type_, "data": data, "created_at": now}
            for uid in ids
            if uid in seqs
        ],
    )
    for uid in ids:
        if uid in seqs:
            emit_after_commit(user_room(uid), "event", {"seq": seqs[uid], "type": type_, "data": data})


def publish_each(items) -> None:
    """Publish a payload of its own to each of many users: `items` is [(user_id, type, data)], one per user.

    Same guarantees as `publish`, but the seqs are allocated and the log rows written in a few
    statements per chunk instead of two per user, so a fan-out to thousands stays fast. Lock the users
    in a fixed order first (the UPDATE itself locks them in whatever order the database scans).
    """
    items = list(items)
    for start in range(0, len(items), _FANOUT_CHUNK):
        chunk = items[start : start + _FANOUT_CHUNK]
        ids = [user_id for user_id, _, _ in chunk]
        if len(set(ids)) != len(ids):
            raise ValueError("publish_each takes each user at most once")
        seqs = dict(
            db.session.execute(
                update(User)
                .where(User.user_id.in_(ids))
                .values(event_seq=User.event_seq + 1)
                .returning(User.user_id, User.event_seq)
                .execution_options(synchronize_session=False)
            ).all()
        )
        rows = [
            {"user_id": user_id, "seq": seqs[user_id], "type": type_, "data": data} for user_id, type_, data in chunk
        ]
        db.session.execute(insert(UserEvent), rows)
        for row in rows:
            emit_after_commit(
                user_room(row["user_id"]), "event", {"seq": row["seq"], "type": row["type"], "data": row["data"]}
            )


def _disconnect_all(sids) -> None:
    for sid in sids:
        try:
            socketio.server.disconnect(sid, namespace="/")
        except Exception:  # one dead socket must not keep the others open
            log.exception("could not disconnect %s", sid)


def _batched(pending):
    """Consecutive emits of one payload object to several rooms become one emit to the list of rooms.

    Socket.IO then encodes the packet once for all of them instead of once per room: a group message
    to 500 members was 500 encodings (make bench, fan-out scenario). Order is kept.
    """
    batches = []
    for kind, target, name, payload in pending:
        last = batches[-1] if batches else None
        if kind == "emit" and last and last[0] == "emit" and last[2] == name and last[3] is payload:
            last[1].append(target)
        else:
            batches.append([kind, [target], name, payload])
    return batches


@event.listens_for(Session, "after_commit")
def _flush_pending(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    to_close = []
    for kind, targets, name, payload in _batched(pending):
        if kind == "disconnect":
            to_close.extend(targets)
            continue
        try:
            socketio.emit(name, payload, to=targets if len(targets) > 1 else targets[0])
        except Exception:  # a failed emit must not block the others
            log.exception("post-commit emit of %s to %s failed", name, targets)
    if to_close:
        # Closing a local socket runs its disconnect handler, which needs the database session
        # this commit is still finishing; so close from a task of its own, after the emits above.
        socketio.start_background_task(_disconnect_all, to_close)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session):
    session.info.pop(_PENDING, None)
