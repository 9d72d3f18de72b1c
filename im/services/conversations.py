"""Conversations and each user's state row in them: ids, creation, readable ranges, the public view.

This is what the other features build on (sending, history, search, groups). Generic over the
conversation kind: one-to-one (`si_<smaller>~<larger>`, SessionType.SINGLE) and groups
(`sg_<group_id>`, SessionType.GROUP). A user may read a conversation only when they have a state row
in it: groups create it on join (im.services.group_roster.open_windows), one-to-one for both users on
the first message or when one of them opens the conversation by the peer's user id (`open_single`).
An id is never parsed.

The user's conversation list and unread totals are in im.services.conversation_lists; what the user
changes of a conversation (pin, notifications, draft, delete, mark read) in
im.services.conversation_settings.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, bindparam, case, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute

from .. import errors
from ..models import Base, Conversation, ConversationState, Message, MessageDeletion, User, ts, utcnow
from ..models.enums import RecvMsgOpt, SessionType
from ..models.message import PUBLIC_COLUMNS, message_public
from .context import Context

# The old name of the value (im.services.messages and im.services.group_notices use it).

# Not in the user-id alphabet ([A-Za-z0-9_.-]), so the two ids of a pair can always be told apart:
# with "_" (the old form) ("john_smith", "mary") and ("john", "smith_mary") shared one conversation.
SINGLE_SEPARATOR = "~"

# A row of any columns, and a user's state row as the ORM object or as a plain Core row of its
# columns (lists read those).
AnyRow = Row[*tuple[Any, ...]]
StateRow = ConversationState | AnyRow


def single_conversation_id(a: str, b: str) -> str:
    """`si_<smaller>~<larger>`, the two user ids ordered by code point (ASCII): one id per pair."""
    low, high = sorted((a, b))
    return f"si_{low}{SINGLE_SEPARATOR}{high}"


def insert_ignore(
    ctx: Context,
    model: type[Base],
    rows: list[dict[str, Any]],
    returning: QueryableAttribute[Any] | ColumnElement[Any] | None = None,
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); returns the inserted rows' `returning`."""
    if not rows:
        return []
    dialect = ctx.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The rows go as parameters, not as .values(rows): a multi-VALUES statement is compiled anew on every
    # call, this one once (compiling it was 12% of a one-to-one send in the profile of make bench).
    stmt = insert(cast(Table, model.__table__)).on_conflict_do_nothing()
    if returning is not None:
        return list(ctx.session.execute(stmt.returning(returning), rows).scalars())
    ctx.session.execute(stmt, rows)
    return []


def ensure_conversation(
    ctx: Context, conversation_id: str, conversation_type: int, group_id: str | None = None
) -> None:
    """The conversation's row, created empty (max_seq 0) unless it exists."""
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
            "conversation_type": SessionType.SINGLE,
            "peer_user_id": peer,
            "group_id": None,
            "has_read_seq": 0,
            "min_seq": 1,
            "is_pinned": False,
            "recv_msg_opt": RecvMsgOpt.NORMAL,
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
    state: ConversationState
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
        effective_max(state, conv_max),
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
            s.conversation_id, s.conversation_type, s.min_seq, effective_max(s, m), s, s.peer_user_id
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
        ensure_conversation(ctx, conversation_id, SessionType.SINGLE)
        ensure_single_states(ctx, conversation_id, user_id, peer_id, hide_b=True)
        state = ctx.session.get_one(ConversationState, (user_id, conversation_id))
    return state


def effective_max(state: StateRow, conv_max: int) -> int:
    """The newest seq the user may read: the conversation's max_seq, or less once their window closed."""
    top: int = conv_max if state.max_readable_seq is None else min(conv_max, state.max_readable_seq)
    return top


# The old name, which im.services.messages still calls.


def unread_count(state: StateRow, conv_max: int) -> int:
    """max_seq - has_read_seq, never below 0 and never before the user could read."""
    floor: int = max(state.has_read_seq, state.min_seq - 1)
    return max(0, effective_max(state, conv_max) - floor)


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


# Conversation-state reads are plain rows of a few columns (SQLAlchemy Core): a heavy user has
# thousands of conversations, and building ORM objects for them was most of the cost of a list or a total.
# These tables and expressions are shared with im.services.conversation_lists.
STATES, CONVERSATIONS = ConversationState.__table__, Conversation.__table__
_M, _D = Message.__table__, MessageDeletion.__table__
STATES_WITH_CONVERSATIONS = STATES.join(CONVERSATIONS, CONVERSATIONS.c.conversation_id == STATES.c.conversation_id)
# The newest seq the user may read (effective_max), in SQL over STATES_WITH_CONVERSATIONS.
EFFECTIVE_MAX_SQL = case(
    (
        and_(STATES.c.max_readable_seq.is_not(None), STATES.c.max_readable_seq < CONVERSATIONS.c.max_seq),
        STATES.c.max_readable_seq,
    ),
    else_=CONVERSATIONS.c.max_seq,
)
_MAX_SEQS = (
    select(STATES.c.conversation_id, EFFECTIVE_MAX_SQL.label("max_seq"), STATES.c.min_seq, STATES.c.recv_msg_opt)
    .select_from(STATES_WITH_CONVERSATIONS)
    .where(STATES.c.user_id == bindparam("uid"))
)


def max_seqs(ctx: Context, user_id: str) -> dict[str, dict[str, int]]:
    """Each conversation of the user with its newest readable seq, min_seq and recv_msg_opt."""
    rows = ctx.session.connection().execute(_MAX_SEQS, {"uid": user_id})
    return {cid: {"max_seq": top, "min_seq": low, "recv_msg_opt": opt} for cid, top, low, opt in rows}


def _newest_not_deleted(ctx: Context, user_id: str, conversation_id: str, low: int, high: int) -> AnyRow | None:
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


def views(ctx: Context, user_id: str, states: Sequence[StateRow]) -> list[dict[str, Any]]:
    """The public conversation objects of these state rows (ORM or Core rows), in the given order.

    `latest_msg` is the newest message the user may read and has not deleted for themselves (OpenIM's
    delete-for-me moves the preview back), and `latest_msg_send_time` is its send time.
    `peer_has_read_seq` (one-to-one) is the peer's has_read_seq: what recv_c2c_read_receipt last
    announced, so a terminal that starts fresh shows the same read marks as one that heard it.
    Four queries for any number of rows, plus one per row whose preview is not the newest message."""
    if not states:
        return []
    _S, _C = STATES, CONVERSATIONS
    ids = [s.conversation_id for s in states]
    convs = {
        r.conversation_id: r
        for r in ctx.session.execute(
            select(_C.c.conversation_id, _C.c.max_seq, _C.c.created_at).where(_C.c.conversation_id.in_(ids))
        )
    }
    latest = {
        r.conversation_id: r
        for r in ctx.session.execute(
            select(*(_M.c[c] for c in PUBLIC_COLUMNS))
            .select_from(_M.join(_C, (_C.c.conversation_id == _M.c.conversation_id) & (_C.c.max_seq == _M.c.seq)))
            .where(_C.c.conversation_id.in_(ids))
        )
    }
    single_ids = [s.conversation_id for s in states if s.conversation_type == SessionType.SINGLE]
    peer_read: dict[str, int] = (
        {
            cid: seq
            for cid, seq in ctx.session.execute(
                select(_S.c.conversation_id, _S.c.has_read_seq).where(
                    _S.c.conversation_id.in_(single_ids), _S.c.user_id != user_id
                )
            )
        }
        if single_ids
        else {}
    )
    tops = {s.conversation_id: effective_max(s, convs[s.conversation_id].max_seq) for s in states}
    deleted_tops = {
        (cid, seq)
        for cid, seq in ctx.session.execute(
            select(_D.c.conversation_id, _D.c.seq).where(
                _D.c.user_id == user_id, _D.c.conversation_id.in_(ids), _D.c.seq.in_(sorted(set(tops.values())))
            )
        )
    }
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
