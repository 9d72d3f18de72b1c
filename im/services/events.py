"""Reading a user's event log (how an offline terminal catches up on notifications) and pruning it."""

from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import User, UserEvent, utcnow
from . import bounds

MAX_PAGE = 1000
# One prune round looks at this many users, deletes at most PRUNE_BATCH rows per statement and
# PRUNE_ROUND_ROWS in all, so the sweeper's round stays a few milliseconds of database time.
PRUNE_USERS = 200
PRUNE_BATCH = 500
PRUNE_ROUND_ROWS = 2000


def sync_events(user_id: str, after_seq: int | None, limit: int = MAX_PAGE) -> dict:
    """Events after `after_seq`, oldest first, at most `limit` and IM_MAX_ANSWER_BYTES of them.
    With after_seq None only the current seq is given.

    `resync_required` is true when events the caller needs were pruned by retention: the terminal
    must then reload its lists in full and continue from `max_seq`.
    """
    max_seq = db.session.scalar(select(User.event_seq).where(User.user_id == user_id)) or 0
    if after_seq is None or after_seq >= max_seq:
        return {"max_seq": max_seq, "events": [], "resync_required": False, "has_more": False}
    rows = list(
        db.session.scalars(
            select(UserEvent)
            .where(UserEvent.user_id == user_id, UserEvent.seq > after_seq)
            .order_by(UserEvent.seq)
            .limit(limit)
        )
    )
    if not rows or rows[0].seq != after_seq + 1:
        return {"max_seq": max_seq, "events": [], "resync_required": True, "has_more": False}
    page, _cut = bounds.take(e.public() for e in rows)
    return {"max_seq": max_seq, "events": page, "resync_required": False, "has_more": page[-1]["seq"] < max_seq}


class PruneRound(NamedTuple):
    deleted: int
    # The user id the next round continues after; None once this round reached the last user.
    next_after: str | None


def prune_events(
    after_user_id: str = "",
    max_users: int = PRUNE_USERS,
    batch: int = PRUNE_BATCH,
    max_rows: int = PRUNE_ROUND_ROWS,
    pause: Callable[[], None] | None = None,
) -> PruneRound:
    """One bounded round of the event prune: the users after `after_user_id` (in user id order).

    An event goes when it is older than IM_EVENT_RETENTION_DAYS or beyond the newest
    IM_EVENT_RETENTION of its user. Each user's log only loses a prefix, so what is left is always
    seqs `k..event_seq` without a hole: `sync_events` then knows a gap by its first row alone. Every
    statement reads or deletes a key range of at most `batch` rows (or `max_users` users), each
    delete commits on its own, so no statement holds the writer long however large the table.
    `pause` runs after each commit: the sweeper lets the other greenlets run there, so a round
    stalls the process no longer than one statement (on SQLite every query blocks the hub).
    """
    pause = pause or (lambda: None)
    cfg = current_app.config
    cutoff = utcnow() - timedelta(days=cfg["IM_EVENT_RETENTION_DAYS"])
    cap = cfg["IM_EVENT_RETENTION"]
    first = (
        select(UserEvent.seq, UserEvent.created_at)
        .where(UserEvent.user_id == User.user_id)
        .order_by(UserEvent.seq)
        .limit(1)
    )
    users = db.session.execute(
        select(
            User.user_id,
            User.event_seq,
            first.with_only_columns(UserEvent.seq).scalar_subquery(),
            first.with_only_columns(UserEvent.created_at).scalar_subquery(),
        )
        .where(User.user_id > after_user_id)
        .order_by(User.user_id)
        .limit(max_users)
    ).all()
    db.session.commit()
    pause()
    deleted, previous = 0, after_user_id
    for user_id, top, oldest_seq, oldest_at in users:
        if oldest_seq is not None and (oldest_seq <= top - cap or oldest_at < cutoff):
            while deleted < max_rows:
                want = min(batch, max_rows - deleted)
                n = _prune_prefix(user_id, top - cap, cutoff, want)
                pause()
                deleted += n
                if n < want:
                    break
            if deleted >= max_rows:
                return PruneRound(deleted, previous)  # this user again next round
        previous = user_id
    return PruneRound(deleted, previous if len(users) == max_users else None)


def _prune_prefix(user_id: str, cap_seq: int, cutoff, batch: int) -> int:
    """Delete the prunable prefix of the user's oldest `batch` events; how many went."""
    rows = db.session.execute(
        select(UserEvent.seq, UserEvent.created_at)
        .where(UserEvent.user_id == user_id)
        .order_by(UserEvent.seq)
        .limit(batch)
    ).all()
    last = None
    for seq, created_at in rows:
        if not (seq <= cap_seq or created_at < cutoff):
            break  # stop at the first keeper: never leave a hole behind a newer event
        last = seq
    if last is None:
        db.session.commit()
        return 0
    result = db.session.execute(delete(UserEvent).where(UserEvent.user_id == user_id, UserEvent.seq <= last))
    db.session.commit()
    return result.rowcount
