"""Conversations and each user's state in them: who may read which seqs, unread counts, settings.

Generic over the conversation kind: one-to-one (`si_<smaller>~<larger>`, type 1) and groups
(`sg_<group_id>`, type 3). A user may read a conversation only when they have a state row in it:
groups create it on join (im.services.groups), one-to-one for both users on the first message or when
one of them opens the conversation by the peer's user id (`open_single`). An id is never parsed.
"""

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import errors
from ..models import SINGLE, Conversation, ConversationState, Message, MessageDeletion, User, ts, utcnow
from ..models.message import PUBLIC_COLUMNS, message_public
from . import bounds, events
from .context import Context

RECV_OPTS = (0, 1, 2)
RECV_NOT_RECEIVE = 1


# Not in the user-id alphabet ([A-Za-z0-9_.-]), so the two ids of a pair can always be told apart:
# with "_" (the old form) ("john_smith", "mary") and ("john", "smith_mary") shared one conversation.
SINGLE_SEPARATOR = "~"


def single_conversation_id(a: str, b: str) -> str:
    """`si_<smaller>~<larger>`, the two user ids ordered by code point (ASCII): one id per pair."""
    low, high = sorted((a, b))
    return f"si_{low}{SINGLE_SEPARATOR}{high}"


def insert_ignore(ctx: Context, model, rows: list[dict], returning=None):
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); returns the inserted rows' `returning`."""
    if not rows:
        return []
    dialect = ctx.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The rows go as parameters, not as .values(rows): a multi-VALUES statement is compiled anew on every
    # call, this one once (compiling it was 12% of a one-to-one send in the profile of make bench).
    stmt = insert(model.__table__).on_conflict_do_nothing()
    if returning is not None:
        return list(ctx.session.execute(stmt.returning(returning), rows).scalars())
    ctx.session.execute(stmt, rows)
    return []


def ensure_conversation(
    ctx: Context, conversation_id: str, conversation_type: int, group_id: str | None = None
) -> None:
    insert_ignore(
        ctx,
        Conversation,
        [
            {
                "conversation_id": conversation_id,
                "conversation_type": conversation_type,
                "group_id": group_id,
                "max_seq": 0,
                "latest_msg_time": utcnow(),
                "created_at": utcnow(),
            }
        ],
    )


def ensure_single_states(
    ctx: Context, conversation_id: str, user_a: str, user_b: str, hide_b: bool = False
) -> list[str]:
    """Create both users' state rows of a one-to-one conversation; returns whose were new.

    With hide_b the row made for user_b stays out of their list until a message arrives (user_a only
    looked at the conversation)."""
    have = set(
        ctx.session.scalars(
            select(ConversationState.user_id).where(ConversationState.conversation_id == conversation_id)
        )
    )
    if {user_a, user_b} <= have:
        return []
    now = utcnow()
    rows = [
        {
            "user_id": u,
            "conversation_id": conversation_id,
            "conversation_type": SINGLE,
            "peer_user_id": peer,
            "group_id": None,
            "has_read_seq": 0,
            "min_seq": 1,
            "is_pinned": False,
            "recv_msg_opt": 0,
            "draft_text": "",
            "hidden": hidden,
            "updated_at": now,
        }
        for u, peer, hidden in ((user_a, user_b, False), (user_b, user_a, hide_b))
    ]
    return insert_ignore(ctx, ConversationState, rows, returning=ConversationState.user_id)


@dataclass
class Readable:
    """Which seqs of a conversation a user may read, and their state row."""

    conversation_id: str
    conversation_type: int
    min_seq: int
    max_seq: int
    state: ConversationState | None
    peer_user_id: str | None = None


def readable(ctx: Context, user_id: str, conversation_id: str) -> Readable:
    """The user's readable range of a conversation, or ConversationNotFound (also for outsiders).

    Membership is the user's own state row, never what the id looks like."""
    state = ctx.session.get(ConversationState, (user_id, conversation_id))
    if state is None:
        raise errors.ConversationNotFound()
    conv_max = (
        ctx.session.scalar(select(Conversation.max_seq).where(Conversation.conversation_id == conversation_id)) or 0
    )
    return Readable(
        conversation_id,
        state.conversation_type,
        state.min_seq,
        _effective_max(state, conv_max),
        state,
        state.peer_user_id,
    )


def readables(ctx: Context, user_id: str, conversation_ids: list[str]) -> dict[str, Readable]:
    """`readable` of many conversations, in one query; ConversationNotFound for any outsider."""
    rows = ctx.session.execute(
        select(ConversationState, Conversation.max_seq)
        .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
        .where(ConversationState.user_id == user_id, ConversationState.conversation_id.in_(conversation_ids))
    ).all()
    found = {
        s.conversation_id: Readable(
            s.conversation_id, s.conversation_type, s.min_seq, _effective_max(s, m), s, s.peer_user_id
        )
        for s, m in rows
    }
    for cid in conversation_ids:
        if cid not in found:
            found[cid] = readable(ctx, user_id, cid)
    return found


def state_for_update(ctx: Context, user_id: str, conversation_id: str) -> ConversationState:
    """The user's state row of a conversation they belong to, or ConversationNotFound."""
    return readable(ctx, user_id, conversation_id).state


def open_single(ctx: Context, user_id: str, peer_id: str) -> ConversationState:
    """The user's state row of the one-to-one conversation with peer_id, created empty if needed
    (the peer's row stays out of their list until a message arrives)."""
    if peer_id == user_id:
        raise errors.SelfOperation()
    if ctx.session.get(User, peer_id) is None:
        raise errors.UserNotFound(f"user not found: {peer_id}")
    conversation_id = single_conversation_id(user_id, peer_id)
    state = ctx.session.get(ConversationState, (user_id, conversation_id))
    if state is None:
        ensure_conversation(ctx, conversation_id, SINGLE)
        ensure_single_states(ctx, conversation_id, user_id, peer_id, hide_b=True)
        state = ctx.session.get(ConversationState, (user_id, conversation_id))
    return state


def _effective_max(state: ConversationState, conv_max: int) -> int:
    return conv_max if state.max_readable_seq is None else min(conv_max, state.max_readable_seq)


def unread_count(state: ConversationState, conv_max: int) -> int:
    """max_seq - has_read_seq, never below 0 and never before the user could read."""
    return max(0, _effective_max(state, conv_max) - max(state.has_read_seq, state.min_seq - 1))


# Conversation-state reads are plain rows of a few columns (SQLAlchemy Core): a heavy user has
# thousands of conversations, and building ORM objects for them was most of the cost of a list or a total.
_S, _C, _M, _D = (ConversationState.__table__, Conversation.__table__, Message.__table__, MessageDeletion.__table__)
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
_STATES_WITH_CONV = _S.join(_C, _C.c.conversation_id == _S.c.conversation_id)
# The newest seq the user may read (_effective_max) and the unread count (unread_count), in SQL.
_TOP = case(
    (and_(_S.c.max_readable_seq.is_not(None), _S.c.max_readable_seq < _C.c.max_seq), _S.c.max_readable_seq),
    else_=_C.c.max_seq,
)
_FLOOR = case((_S.c.has_read_seq > _S.c.min_seq - 1, _S.c.has_read_seq), else_=_S.c.min_seq - 1)
_UNREAD = case((_TOP - _FLOOR > 0, _TOP - _FLOOR), else_=0)
# What counts in the total: OpenIM leaves out conversations that are muted (recv_msg_opt 1 or 2), and a
# deleted (hidden) conversation is out of the list.
_IN_TOTAL = and_(_S.c.recv_msg_opt == 0, _S.c.hidden.is_(False))
_TOTAL = (
    select(func.coalesce(func.sum(_UNREAD), 0))
    .select_from(_STATES_WITH_CONV)
    .where(_S.c.user_id == bindparam("uid"), _IN_TOTAL)
)
_TOTALS = (
    select(_S.c.user_id, func.sum(_UNREAD))
    .select_from(_STATES_WITH_CONV)
    .where(_S.c.user_id.in_(bindparam("uids", expanding=True)), _IN_TOTAL)
    .group_by(_S.c.user_id)
)
_MAX_SEQS = (
    select(_S.c.conversation_id, _TOP.label("max_seq"), _S.c.min_seq, _S.c.recv_msg_opt)
    .select_from(_STATES_WITH_CONV)
    .where(_S.c.user_id == bindparam("uid"))
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
    .select_from(_STATES_WITH_CONV)
    .where(_S.c.user_id == bindparam("uid"), _S.c.hidden.is_(False))
    .order_by(_S.c.is_pinned.desc(), _PREVIEW_TIME.desc(), _S.c.conversation_id)
)
# A page of the list: what a screen shows, and bounded work (views reads each row's preview).
MAX_SPLIT_COUNT = 100


def _rows(ctx: Context, stmt, params=None):
    return ctx.session.execute(stmt, params or {}).all()


def _newest_not_deleted(ctx: Context, user_id: str, conversation_id: str, low: int, high: int):
    """The newest message (a row of PUBLIC_COLUMNS) with a seq in [low, high] the user has not deleted."""
    return ctx.session.execute(
        select(*(_M.c[c] for c in PUBLIC_COLUMNS))
        .where(
            _M.c.conversation_id == conversation_id,
            _M.c.seq >= low,
            _M.c.seq <= high,
            ~exists().where(
                _D.c.user_id == user_id, _D.c.conversation_id == _M.c.conversation_id, _D.c.seq == _M.c.seq
            ),
        )
        .order_by(_M.c.seq.desc())
        .limit(1)
    ).first()


def views(ctx: Context, user_id: str, states) -> list[dict]:
    """The public conversation objects of these state rows (ORM or Core rows), in the given order.

    `latest_msg` is the newest message the user may read and has not deleted for themselves (OpenIM's
    delete-for-me moves the preview back), and `latest_msg_send_time` is its send time.
    `peer_has_read_seq` (one-to-one) is the peer's has_read_seq: what recv_c2c_read_receipt last
    announced, so a terminal that starts fresh shows the same read marks as one that heard it.
    Four queries for any number of rows, plus one per row whose preview is not the newest message."""
    if not states:
        return []
    ids = [s.conversation_id for s in states]
    convs = {
        r.conversation_id: r
        for r in _rows(
            ctx, select(_C.c.conversation_id, _C.c.max_seq, _C.c.created_at).where(_C.c.conversation_id.in_(ids))
        )
    }
    latest = {
        r.conversation_id: r
        for r in _rows(
            ctx,
            select(*(_M.c[c] for c in PUBLIC_COLUMNS))
            .select_from(_M.join(_C, (_C.c.conversation_id == _M.c.conversation_id) & (_C.c.max_seq == _M.c.seq)))
            .where(_C.c.conversation_id.in_(ids)),
        )
    }
    single_ids = [s.conversation_id for s in states if s.conversation_type == SINGLE]
    peer_read = (
        dict(
            _rows(
                ctx,
                select(_S.c.conversation_id, _S.c.has_read_seq).where(
                    _S.c.conversation_id.in_(single_ids), _S.c.user_id != user_id
                ),
            )
        )
        if single_ids
        else {}
    )
    tops = {s.conversation_id: _effective_max(s, convs[s.conversation_id].max_seq) for s in states}
    deleted_tops = set(
        _rows(
            ctx,
            select(_D.c.conversation_id, _D.c.seq).where(
                _D.c.user_id == user_id, _D.c.conversation_id.in_(ids), _D.c.seq.in_(sorted(set(tops.values())))
            ),
        )
    )
    out = []
    for s in states:
        conv = convs[s.conversation_id]
        top = tops[s.conversation_id]
        msg = latest.get(s.conversation_id)
        if (s.conversation_id, top) in deleted_tops:
            msg = _newest_not_deleted(ctx, user_id, s.conversation_id, s.min_seq, top - 1)
        elif msg is not None and msg.seq != top:
            msg = ctx.session.execute(
                select(*(_M.c[c] for c in PUBLIC_COLUMNS)).where(
                    _M.c.conversation_id == s.conversation_id, _M.c.seq == top
                )
            ).first()
        if msg is not None and msg.seq < s.min_seq:
            msg = None
        out.append(
            {
                "conversation_id": s.conversation_id,
                "conversation_type": s.conversation_type,
                "user_id": s.peer_user_id or "",
                "group_id": s.group_id or "",
                "latest_msg": message_public(msg) if msg is not None else None,
                "latest_msg_send_time": ts(msg.send_time) if msg is not None else ts(conv.created_at),
                "unread_count": unread_count(s, conv.max_seq),
                "is_pinned": s.is_pinned,
                "recv_msg_opt": s.recv_msg_opt,
                "draft_text": s.draft_text,
                "draft_text_time": ts(s.draft_time),
                "max_seq": top,
                "has_read_seq": s.has_read_seq,
                "peer_has_read_seq": peer_read.get(s.conversation_id, 0),
                "min_seq": s.min_seq,
                "hidden": s.hidden,
            }
        )
    return out


def _listed(ctx: Context, user_id: str, ids: list[str]) -> list[dict]:
    found = {
        s.conversation_id: s
        for s in _rows(ctx, select(*_STATE_COLUMNS).where(_S.c.user_id == user_id, _S.c.conversation_id.in_(ids)))
    }
    return views(ctx, user_id, [found[c] for c in ids if c in found])


# get_all_conversation_list builds its answer a page at a time: 5,000 conversations took 400 ms of
# one process's CPU in one piece (SQLite), during which no other user's send ran.
ALL_LIST_CHUNK = MAX_SPLIT_COUNT
# Its answer holds at most this many IM_MAX_ANSWER_BYTES (16 MiB by default): 5,000 conversations with
# short previews take under 3 MiB, but each preview may be a 64 KiB message (320 MB for 5,000).
ALL_LIST_ANSWERS = 16


def get_all_conversation_list(ctx: Context, user_id: str, pause=None, chunk: int = ALL_LIST_CHUNK) -> list[dict]:
    """Pinned first, then by the preview's send time (newest first), then by id; deleted ones are left
    out until a new message.

    The order is one query (the ids only); the conversations are then read `chunk` at a time with
    `pause()` between (the caller lets other work run there). The answer stops before the conversation
    that would take it past ALL_LIST_ANSWERS times IM_MAX_ANSWER_BYTES (always one at least): longer
    lists are paged by get_conversation_list_split."""
    ids = list(ctx.session.scalars(_LISTED, {"uid": user_id}))
    out, budget = [], bounds.Budget(ctx, answers=ALL_LIST_ANSWERS)
    for start in range(0, len(ids), chunk):
        if start and pause is not None:
            pause()
        for view in _listed(ctx, user_id, ids[start : start + chunk]):
            if not budget.fits(view):
                return out
            out.append(view)
    return out


def get_conversation_list_split(ctx: Context, user_id: str, offset: int, count: int) -> list[dict]:
    """A page of get_all_conversation_list: the same order, so pages neither skip nor repeat while the
    list stays the same."""
    ids = list(ctx.session.scalars(_LISTED.offset(offset).limit(count), {"uid": user_id}))
    return _listed(ctx, user_id, ids)


def get_one_conversation(
    ctx: Context, user_id: str, conversation_id: str | None = None, peer_id: str | None = None
) -> dict:
    """One conversation of the user by its id, or the one-to-one one with peer_id (made if needed)."""
    state = (
        open_single(ctx, user_id, peer_id) if peer_id is not None else state_for_update(ctx, user_id, conversation_id)
    )
    result = views(ctx, user_id, [state])[0]
    return result


def get_multiple_conversation(ctx: Context, user_id: str, conversation_ids: list[str]) -> list[dict]:
    """The conversations among these ids the user has, in the order asked; others are left out."""
    return _listed(ctx, user_id, list(dict.fromkeys(conversation_ids)))


def total_unread(ctx: Context, user_id: str) -> int:
    """Unread over the user's conversations with recv_msg_opt 0 (OpenIM leaves muted ones out): one aggregate."""
    return int(ctx.session.execute(_TOTAL, {"uid": user_id}).scalar_one())


def totals(ctx: Context, user_ids: list[str]) -> dict[str, int]:
    """total_unread of several users in one grouped aggregate (0 for those without conversations)."""
    found = dict(_rows(ctx, _TOTALS, {"uids": list(user_ids)})) if user_ids else {}
    return {uid: int(found.get(uid) or 0) for uid in user_ids}


def max_seqs(ctx: Context, user_id: str) -> dict[str, dict]:
    """Each conversation of the user with its newest readable seq, min_seq and recv_msg_opt."""
    rows = ctx.session.connection().execute(_MAX_SEQS, {"uid": user_id})
    return {cid: {"max_seq": top, "min_seq": low, "recv_msg_opt": opt} for cid, top, low, opt in rows}


def publish_changed(ctx: Context, user_id: str, state: ConversationState, unread_changed: bool = True) -> None:
    """Tell all the user's terminals about a change to one conversation: the conversation through the
    event log, the total (when it may have changed) by unread_push after commit."""
    ctx.session.flush()
    events.publish(ctx, [user_id], "conversation_changed", views(ctx, user_id, [state]))
    if unread_changed:
        ctx.outbox.unread_changed([user_id])


def _change(ctx: Context, user_id: str, conversation_id: str, apply, unread_changed: bool = False) -> dict:
    state = state_for_update(ctx, user_id, conversation_id)
    if apply(state):
        state.updated_at = utcnow()
        publish_changed(ctx, user_id, state, unread_changed)
    result = views(ctx, user_id, [state])[0]
    return result


def pin_conversation(ctx: Context, user_id: str, conversation_id: str, is_pinned: bool) -> dict:
    def apply(s):
        changed, s.is_pinned = s.is_pinned != is_pinned, is_pinned
        return changed

    return _change(ctx, user_id, conversation_id, apply)


def set_recv_message_opt(ctx: Context, user_id: str, conversation_id: str, opt: int) -> dict:
    def apply(s):
        changed, s.recv_msg_opt = s.recv_msg_opt != opt, opt
        return changed

    return _change(ctx, user_id, conversation_id, apply, unread_changed=True)


def set_draft(ctx: Context, user_id: str, conversation_id: str, text: str) -> dict:
    def apply(s):
        if s.draft_text == text:
            return False
        s.draft_text, s.draft_time = text, utcnow() if text else None
        return True

    return _change(ctx, user_id, conversation_id, apply)


def delete_conversation(ctx: Context, user_id: str, conversation_id: str) -> None:
    """Hide the conversation from my list (read up to now) until a new message arrives."""

    def apply(s):
        conv_max = (
            ctx.session.scalar(select(Conversation.max_seq).where(Conversation.conversation_id == conversation_id)) or 0
        )
        if s.hidden and s.has_read_seq >= _effective_max(s, conv_max):
            return False
        s.hidden = True
        top = _effective_max(s, conv_max)
        if s.has_read_seq < top:
            s.has_read_seq = top
            _read_receipt(ctx, s, top)
        return True

    _change(ctx, user_id, conversation_id, apply, unread_changed=True)


def _read_receipt(ctx: Context, state: ConversationState, has_read_seq: int) -> None:
    """One-to-one: the peer hears how far the user has now read (the peer's peer_has_read_seq)."""
    if state.conversation_type == SINGLE and state.peer_user_id:
        events.publish(
            ctx,
            [state.peer_user_id],
            "recv_c2c_read_receipt",
            [
                {
                    "conversation_id": state.conversation_id,
                    "user_id": state.user_id,
                    "has_read_seq": has_read_seq,
                    "read_time": ts(utcnow()),
                }
            ],
        )


def mark_read(ctx: Context, user_id: str, conversation_id: str) -> dict:
    """Everything up to the newest seq is read; my terminals and (one-to-one) the peer hear of it."""
    state = state_for_update(ctx, user_id, conversation_id)
    conv_max = (
        ctx.session.scalar(
            select(Conversation.max_seq).where(Conversation.conversation_id == conversation_id).with_for_update()
        )
        or 0
    )
    top = _effective_max(state, conv_max)
    if state.has_read_seq < top:
        state.has_read_seq = top
        state.updated_at = utcnow()
        publish_changed(ctx, user_id, state)
        _read_receipt(ctx, state, top)
    result = views(ctx, user_id, [state])[0]
    return result


def unhide(ctx: Context, conversation_id: str, user_ids: list[str]) -> list[str]:
    """A new message shows the conversation again to those who had deleted it; returns who they were."""
    stmt = (
        update(ConversationState)
        .where(
            ConversationState.conversation_id == conversation_id,
            ConversationState.hidden.is_(True),
            ConversationState.user_id.in_(user_ids),
        )
        .values(hidden=False)
        .returning(ConversationState.user_id)
        .execution_options(synchronize_session=False)
    )
    return list(ctx.session.execute(stmt).scalars())
