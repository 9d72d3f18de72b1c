"""A user's conversation list and unread totals: the whole list, its pages, chosen conversations.

The list is ordered by what it shows (pinned first, then the preview's send time, then the id), and
a deleted (hidden) conversation stays out of it until a new message. The conversation objects are
im.services.conversations.views.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, select

from .. import errors
from ..models import Message, MessageDeletion
from ..models.enums import RecvMsgOpt
from . import bounds
from .context import Context
from .conversations import (
    CONVERSATIONS,
    EFFECTIVE_MAX_SQL,
    STATES,
    STATES_WITH_CONVERSATIONS,
    open_single,
    state_for_update,
    views,
)

_S, _C, _M, _D = STATES, CONVERSATIONS, Message.__table__, MessageDeletion.__table__
_TOP = EFFECTIVE_MAX_SQL
_STATE_COLUMNS = (
    _S.c.conversation_id,
    _S.c.conversation_type,
    _S.c.peer_user_id,
    _S.c.group_id,
    _S.c.has_read_seq,
    _S.c.min_seq,
    _S.c.max_readable_seq,
    _S.c.is_pinned,
    _S.c.recv_msg_opt,
    _S.c.draft_text,
    _S.c.draft_time,
    _S.c.hidden,
)
# The unread count (conversations.unread_count), in SQL.
_FLOOR = case((_S.c.has_read_seq > _S.c.min_seq - 1, _S.c.has_read_seq), else_=_S.c.min_seq - 1)
_UNREAD = case((_TOP - _FLOOR > 0, _TOP - _FLOOR), else_=0)
# What counts in the total: OpenIM leaves out conversations that are muted (recv_msg_opt 1 or 2), and a
# deleted (hidden) conversation is out of the list.
_IN_TOTAL = and_(_S.c.recv_msg_opt == RecvMsgOpt.NORMAL, _S.c.hidden.is_(False))
_TOTAL = (
    select(func.coalesce(func.sum(_UNREAD), 0))
    .select_from(STATES_WITH_CONVERSATIONS)
    .where(_S.c.user_id == bindparam("uid"), _IN_TOTAL)
)
_TOTALS = (
    select(_S.c.user_id, func.sum(_UNREAD))
    .select_from(STATES_WITH_CONVERSATIONS)
    .where(_S.c.user_id.in_(bindparam("uids", expanding=True)), _IN_TOTAL)
    .group_by(_S.c.user_id)
)
_PREVIEW_MSG = _M.alias("preview")
# The list is ordered by what it shows: the send time of the preview (views' latest_msg: the newest
# message the user may read and has not deleted), else the conversation's creation. Usually the preview
# is the conversation's newest message, whose send time is latest_msg_time (set with the seq), so only
# a deletion probe is needed; a member who left, or a deleted preview, looks the message up.
_NEWEST_IS_PREVIEW = and_(
    _TOP == _C.c.max_seq,
    _C.c.max_seq >= _S.c.min_seq,
    ~exists().where(
        _D.c.user_id == _S.c.user_id, _D.c.conversation_id == _S.c.conversation_id, _D.c.seq == _C.c.max_seq
    ),
)
_PREVIEW_TIME = case(
    (_NEWEST_IS_PREVIEW, _C.c.latest_msg_time),
    else_=func.coalesce(
        select(_PREVIEW_MSG.c.send_time)
        .where(
            _PREVIEW_MSG.c.conversation_id == _S.c.conversation_id,
            _PREVIEW_MSG.c.seq <= _TOP,
            _PREVIEW_MSG.c.seq >= _S.c.min_seq,
            # correlated to the listed state row, two levels up (not a state row of its own)
            ~exists()
            .where(
                _D.c.user_id == _S.c.user_id,
                _D.c.conversation_id == _PREVIEW_MSG.c.conversation_id,
                _D.c.seq == _PREVIEW_MSG.c.seq,
            )
            .correlate(_S, _PREVIEW_MSG),
        )
        .order_by(_PREVIEW_MSG.c.seq.desc())
        .limit(1)
        .correlate(_S, _C)
        .scalar_subquery(),
        _C.c.created_at,
    ),
)
# Only ids first (from the index and the conversation rows), then the page's rows.
_LISTED = (
    select(_S.c.conversation_id)
    .select_from(STATES_WITH_CONVERSATIONS)
    .where(_S.c.user_id == bindparam("uid"), _S.c.hidden.is_(False))
    .order_by(_S.c.is_pinned.desc(), _PREVIEW_TIME.desc(), _S.c.conversation_id)
)
# A page of the list: what a screen shows, and bounded work (views reads each row's preview).
MAX_SPLIT_COUNT = 100


def _listed(ctx: Context, user_id: str, ids: list[str]) -> list[dict[str, Any]]:
    found = {
        s.conversation_id: s
        for s in ctx.session.execute(
            select(*_STATE_COLUMNS).where(_S.c.user_id == user_id, _S.c.conversation_id.in_(ids))
        )
    }
    return views(ctx, user_id, [found[c] for c in ids if c in found])


# get_all_conversation_list builds its answer a page at a time: 5,000 conversations took 400 ms of
# one process's CPU in one piece (SQLite), during which no other user's send ran.
ALL_LIST_CHUNK = MAX_SPLIT_COUNT
# Its answer holds at most this many IM_MAX_ANSWER_BYTES (16 MiB by default): 5,000 conversations with
# short previews take under 3 MiB, but each preview may be a 64 KiB message (320 MB for 5,000).
ALL_LIST_ANSWERS = 16


def get_all_conversation_list(
    ctx: Context, user_id: str, pause: Callable[[], None] | None = None, chunk: int = ALL_LIST_CHUNK
) -> list[dict[str, Any]]:
    """Pinned first, then by the preview's send time (newest first), then by id; deleted ones are left
    out until a new message.

    The order is one query (the ids only); the conversations are then read `chunk` at a time with
    `pause()` between (the caller lets other work run there). The answer stops before the conversation
    that would take it past ALL_LIST_ANSWERS times IM_MAX_ANSWER_BYTES (always one at least): longer
    lists are paged by get_conversation_list_split."""
    ids = list(ctx.session.scalars(_LISTED, {"uid": user_id}))
    out: list[dict[str, Any]] = []
    budget = bounds.Budget(ctx, answers=ALL_LIST_ANSWERS)
    for start in range(0, len(ids), chunk):
        if start and pause is not None:
            pause()
        for view in _listed(ctx, user_id, ids[start : start + chunk]):
            if not budget.fits(view):
                return out
            out.append(view)
    return out


def get_conversation_list_split(ctx: Context, user_id: str, offset: int, count: int) -> list[dict[str, Any]]:
    """A page of get_all_conversation_list: the same order, so pages neither skip nor repeat while the
    list stays the same."""
    ids = list(ctx.session.scalars(_LISTED.offset(offset).limit(count), {"uid": user_id}))
    return _listed(ctx, user_id, ids)


def get_one_conversation(
    ctx: Context, user_id: str, conversation_id: str | None = None, peer_id: str | None = None
) -> dict[str, Any]:
    """One conversation of the user by its id, or the one-to-one one with peer_id (made if needed)."""
    if peer_id is not None:
        state = open_single(ctx, user_id, peer_id)
    elif conversation_id is not None:
        state = state_for_update(ctx, user_id, conversation_id)
    else:
        raise errors.ConversationNotFound()
    return views(ctx, user_id, [state])[0]


def get_multiple_conversation(ctx: Context, user_id: str, conversation_ids: list[str]) -> list[dict[str, Any]]:
    """The conversations among these ids the user has, in the order asked; others are left out."""
    return _listed(ctx, user_id, list(dict.fromkeys(conversation_ids)))


def total_unread(ctx: Context, user_id: str) -> int:
    """Unread over the user's conversations with recv_msg_opt 0 (OpenIM leaves muted ones out): one aggregate."""
    return int(ctx.session.execute(_TOTAL, {"uid": user_id}).scalar_one())


def totals(ctx: Context, user_ids: list[str]) -> dict[str, int]:
    """total_unread of several users in one grouped aggregate (0 for those without conversations)."""
    found = {uid: total for uid, total in ctx.session.execute(_TOTALS, {"uids": list(user_ids)})} if user_ids else {}
    return {uid: int(found.get(uid) or 0) for uid in user_ids}
