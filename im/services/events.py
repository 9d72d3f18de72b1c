"""Reading a user's event log: how an offline terminal catches up on notifications."""
from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import User, UserEvent
from . import bounds

MAX_PAGE = 1000


def sync_events(user_id: str, after_seq: int | None, limit: int = MAX_PAGE) -> dict:
    """Events after `after_seq`, oldest first, at most `limit` and IM_MAX_ANSWER_BYTES of them.
    With after_seq None only the current seq is given.

    `resync_required` is true when events the caller needs were pruned by retention: the terminal
    must then reload its lists in full and continue from `max_seq`.
    """
    max_seq = db.session.scalar(select(User.event_seq).where(User.user_id == user_id)) or 0
    if after_seq is None or after_seq >= max_seq:
        return {"max_seq": max_seq, "events": [], "resync_required": False, "has_more": False}
    rows = list(db.session.scalars(
        select(UserEvent).where(UserEvent.user_id == user_id, UserEvent.seq > after_seq)
        .order_by(UserEvent.seq).limit(limit)
    ))
    if not rows or rows[0].seq != after_seq + 1:
        return {"max_seq": max_seq, "events": [], "resync_required": True, "has_more": False}
    page, _cut = bounds.take(e.public() for e in rows)
    return {"max_seq": max_seq, "events": page, "resync_required": False, "has_more": page[-1]["seq"] < max_seq}


def prune_events() -> int:
    """Keep only the newest IM_EVENT_RETENTION events of each user."""
    keep = current_app.config["IM_EVENT_RETENTION"]
    result = db.session.execute(
        delete(UserEvent).where(
            UserEvent.seq <= select(User.event_seq - keep).where(User.user_id == UserEvent.user_id)
            .scalar_subquery()
        )
    )
    db.session.commit()
    return result.rowcount
