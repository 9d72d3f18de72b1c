"""Sync by seq: what a terminal compares on (re)connect, catch-up over seq ranges, history pages."""

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from ..models import Message, MessageDeletion
from ..models.message import PUBLIC_COLUMNS, message_public
from . import bounds, conversations
from .context import Context

MAX_PULL_RANGES = 200
MAX_PULL_MESSAGES = 2000


def get_max_seqs(ctx: Context, user_id: str) -> dict[str, Any]:
    """Each conversation of the user with its newest readable seq: what a terminal compares on (re)connect."""
    return {"conversations": conversations.max_seqs(ctx, user_id)}


def not_deleted(user_id: str) -> ColumnElement[bool]:
    """The message (of the query's Message rows) is not deleted for user_id."""
    return ~exists().where(
        MessageDeletion.user_id == user_id,
        MessageDeletion.conversation_id == Message.conversation_id,
        MessageDeletion.seq == Message.seq,
    )


def pull_messages(
    ctx: Context, user_id: str, ranges: list[tuple[str, int, int]], limit: int = MAX_PULL_MESSAGES
) -> dict[str, Any]:
    """Messages in seq ranges of several conversations, oldest first per conversation, in one query.

    `pulled_to[conversation_id]` is the seq up to which a range is done (messages deleted for the
    caller or before their min_seq are simply absent); ranges cut by `limit` or by IM_MAX_ANSWER_BYTES
    continue from there, and `is_end` is false when any was cut.
    """
    spans: dict[str, tuple[int, int]] = {}
    for cid, begin, end in ranges:
        # A conversation named twice is pulled over the span of its ranges.
        spans[cid] = (min(begin, spans[cid][0]), max(end, spans[cid][1])) if cid in spans else (begin, end)
    access = conversations.readables(ctx, user_id, list(spans))
    clamped = []
    for cid, (begin, end) in sorted(spans.items()):
        r = access[cid]
        clamped.append((cid, begin, end, max(begin, r.min_seq), min(end, r.max_seq)))
    wanted = [
        and_(Message.conversation_id == cid, Message.seq >= lo, Message.seq <= hi)
        for cid, _b, _e, lo, hi in clamped
        if lo <= hi
    ]
    out: list[dict[str, Any]] = []
    cut: tuple[str, int] | None = None
    if wanted:
        # Plain rows rather than ORM objects, read a few at a time: a catch-up reads thousands of them,
        # and the page stops at IM_MAX_ANSWER_BYTES without reading the rows after it.
        result = ctx.session.execute(
            select(*(getattr(Message, c) for c in PUBLIC_COLUMNS))
            .where(or_(*wanted), not_deleted(user_id))
            .order_by(Message.conversation_id, Message.seq)
            .limit(limit)
            .execution_options(yield_per=100)
        )
        budget = bounds.Budget(ctx)
        try:
            for row in result:
                public = message_public(row)
                if not budget.fits(public):
                    cut = (out[-1]["conversation_id"], out[-1]["seq"])
                    break
                out.append(public)
        finally:
            result.close()
        if cut is None and len(out) == limit:
            cut = (out[-1]["conversation_id"], out[-1]["seq"])
    pulled_to = {}
    for cid, begin, _end, _lo, hi in clamped:
        done = max(hi, begin - 1)
        if cut is not None:
            if cid > cut[0]:
                continue
            if cid == cut[0]:
                done = cut[1]
        pulled_to[cid] = done
    return {"messages": out, "pulled_to": pulled_to, "is_end": cut is None}


def get_history(ctx: Context, user_id: str, conversation_id: str, start_seq: int | None, count: int) -> dict[str, Any]:
    """A page of up to `count` messages before start_seq (or the newest), oldest first."""
    r = conversations.readable(ctx, user_id, conversation_id)
    top = r.max_seq if start_seq is None else min(r.max_seq, start_seq - 1)
    rows = []
    if top >= r.min_seq:
        rows = list(
            ctx.session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.seq >= r.min_seq,
                    Message.seq <= top,
                    not_deleted(user_id),
                )
                .order_by(Message.seq.desc())
                .limit(count)
            )
        )
    # Newest first into the page, so that a page cut by bytes goes on from its oldest message.
    page, cut = bounds.take(ctx, (m.public() for m in rows))
    page.reverse()
    is_end = not cut and (len(rows) < count or page[0]["seq"] <= r.min_seq)
    return {"messages": page, "is_end": is_end}
