"""A user's event log: writing it (`publish`), reading it (how an offline terminal catches up on
notifications) and pruning it.

An event is appended to each user's log inside the action's transaction and put in the context's
outbox, which is emitted to all the user's terminals only after the commit (im.operations.runner)."""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, delete, insert, select, update

from ..models import User, UserEvent, utcnow
from . import bounds
from .context import Context

MAX_PAGE = 1000
# One prune round looks at this many users, deletes at most PRUNE_BATCH rows per statement and
# PRUNE_ROUND_ROWS in all, so the sweeper's round stays a few milliseconds of database time.
PRUNE_USERS = 200
PRUNE_BATCH = 500
PRUNE_ROUND_ROWS = 2000


def sync_events(ctx: Context, user_id: str, after_seq: int | None, limit: int = MAX_PAGE) -> dict[str, Any]:
    """Events after `after_seq`, oldest first, at most `limit` and IM_MAX_ANSWER_BYTES of them.
    With after_seq None only the current seq is given.

    `resync_required` is true when events the caller needs were pruned by retention: the terminal
    must then reload its lists in full and continue from `max_seq`.
    """
    max_seq = ctx.session.scalar(select(User.event_seq).where(User.user_id == user_id)) or 0
    if after_seq is None or after_seq >= max_seq:
        return {"max_seq": max_seq, "events": [], "resync_required": False, "has_more": False}
    rows = list(
        ctx.session.scalars(
            select(UserEvent)
            .where(UserEvent.user_id == user_id, UserEvent.seq > after_seq)
            .order_by(UserEvent.seq)
            .limit(limit)
        )
    )
    if not rows or rows[0].seq != after_seq + 1:
        return {"max_seq": max_seq, "events": [], "resync_required": True, "has_more": False}
    page, _cut = bounds.take(ctx, (e.public() for e in rows))
    return {"max_seq": max_seq, "events": page, "resync_required": False, "has_more": page[-1]["seq"] < max_seq}


class PruneRound(NamedTuple):
    deleted: int
    # The user id the next round continues after; None once this round reached the last user.
    next_after: str | None


def prune_events(
    ctx: Context,
    after_user_id: str = "",
    max_users: int = PRUNE_USERS,
    batch: int = PRUNE_BATCH,
    max_rows: int = PRUNE_ROUND_ROWS,
    checkpoint: Callable[[], None] | None = None,
) -> PruneRound:
    """One bounded round of the event prune: the users after `after_user_id` (in user id order).

    An event goes when it is older than IM_EVENT_RETENTION_DAYS or beyond the newest
    IM_EVENT_RETENTION of its user. Each user's log only loses a prefix, so what is left is always
    seqs `k..event_seq` without a hole: `sync_events` then knows a gap by its first row alone. Every
    statement reads or deletes a key range of at most `batch` rows (or `max_users` users), and
    `checkpoint` is called after each: the sweeper commits there and lets the other greenlets run,
    so no transaction holds the writer long however large the table, and a round stalls the process
    no longer than one statement (on SQLite every query blocks the hub).
    """
    checkpoint = checkpoint or (lambda: None)
    cutoff = utcnow() - timedelta(days=ctx.settings.event_retention_days)
    cap = ctx.settings.event_retention
    first = (
        select(UserEvent.seq, UserEvent.created_at)
        .where(UserEvent.user_id == User.user_id)
        .order_by(UserEvent.seq)
        .limit(1)
    )
    users = ctx.session.execute(
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
    checkpoint()
    deleted, previous = 0, after_user_id
    for user_id, top, oldest_seq, oldest_at in users:
        if oldest_seq is not None and (oldest_seq <= top - cap or oldest_at < cutoff):
            while deleted < max_rows:
                want = min(batch, max_rows - deleted)
                n = _prune_prefix(ctx, user_id, top - cap, cutoff, want)
                checkpoint()
                deleted += n
                if n < want:
                    break
            if deleted >= max_rows:
                return PruneRound(deleted, previous)  # this user again next round
        previous = user_id
    return PruneRound(deleted, previous if len(users) == max_users else None)


def _prune_prefix(ctx: Context, user_id: str, cap_seq: int, cutoff: datetime, batch: int) -> int:
    """Delete the prunable prefix of the user's oldest `batch` events; how many went."""
    rows = ctx.session.execute(
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
        return 0
    # A DELETE's result is a CursorResult, which has the rowcount (Session.execute is typed as the base).
    result = cast(
        "CursorResult[Any]",
        ctx.session.execute(delete(UserEvent).where(UserEvent.user_id == user_id, UserEvent.seq <= last)),
    )
    deleted: int = result.rowcount
    return deleted


_FANOUT_CHUNK = 500


def lock_users(ctx: Context, user_ids: Iterable[str]) -> None:
    """Row-lock users' event logs in one order (PostgreSQL; SQLite has one writer anyway).

    A transaction that publishes to several sets of users locks their union first, so that two
    transactions never hold part of each other's users.
    """
    ctx.session.execute(
        select(User.user_id)
        .where(User.user_id.in_(sorted(set(user_ids))))
        .order_by(User.user_id)
        .with_for_update(key_share=True)
    )


def _next_seqs(ctx: Context, ids: list[str]) -> dict[str, int]:
    rows = ctx.session.execute(
        update(User)
        .where(User.user_id.in_(ids))
        .values(event_seq=User.event_seq + 1)
        .returning(User.user_id, User.event_seq)
        .execution_options(synchronize_session=False)
    ).all()
    return {user_id: seq for user_id, seq in rows}


def publish(ctx: Context, user_ids: Iterable[str], type_: str, data: Any) -> None:
    """Append an event to each user's log and deliver it to all their terminals after commit.

    Three statements however many users hear of it (a group of thousands): the users are locked in
    one order, so concurrent publishers to overlapping users wait for each other instead of
    deadlocking, then numbered with one UPDATE and logged with one multi-row INSERT.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return
    lock_users(ctx, ids)
    seqs = _next_seqs(ctx, ids)
    now = utcnow()
    ctx.session.execute(
        insert(UserEvent),
        [
            {"user_id": uid, "seq": seqs[uid], "type": type_, "data": data, "created_at": now}
            for uid in ids
            if uid in seqs
        ],
    )
    for uid in ids:
        if uid in seqs:
            ctx.outbox.to_user(uid, "event", {"seq": seqs[uid], "type": type_, "data": data})


def publish_each(ctx: Context, items: Iterable[tuple[str, str, Any]]) -> None:
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
        seqs = _next_seqs(ctx, ids)
        rows = [
            {"user_id": user_id, "seq": seqs[user_id], "type": type_, "data": data} for user_id, type_, data in chunk
        ]
        ctx.session.execute(insert(UserEvent), rows)
        for row in rows:
            ctx.outbox.to_user(row["user_id"], "event", {"seq": row["seq"], "type": row["type"], "data": row["data"]})
