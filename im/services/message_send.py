"""Sending: one implementation for every send, one-to-one and group, shaped for batches.

A REST or socket send is a batch of one (`send_one`); the group commit hands all its calls' sends to
`send_messages` at once, which checks them with a few queries and writes them with a few statements
in all, whatever their number. Per send the checks run in one order: the content's shape, the target
(one-to-one: not oneself, the recipient exists, has not blacklisted the sender, is a friend with
IM_FRIEND_VERIFY; group: a live group, a member who may speak, mentions of members), then a retry is
answered with the first message, then the checks of the content that read. A refused send writes
nothing; the others get seqs in the batch's order within each conversation.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..models import GROUP, SINGLE, ConversationState, Group, GroupMember, MessageFile, User, utcnow
from ..models.enums import GroupRole, GroupStatus, RecvMsgOpt
from ..models.message import message_public
from . import conversations, events
from . import message_store as store
from .context import Context
from .message_content import AtTextContent, Shape, Stored, shape_of, to_store

# OpenIM's at_user_ids entry that mentions everyone.
AT_ALL = "AtAllTag"

Result = dict[str, Any] | errors.IMError


@dataclass(frozen=True)
class Send:
    """One message to send, to recv_id (one-to-one) or group_id (group). `content` is the shape of its
    content_type (message_content.SHAPES), or raw JSON, which is checked against that shape here."""

    sender_id: str
    content_type: int
    content: object
    client_msg_id: str | None = None
    recv_id: str | None = None
    group_id: str | None = None


@dataclass
class _Write:
    """A send that passed every check: where it goes, who gets it besides the sender, what is stored."""

    index: int
    send: Send
    conversation_id: str
    conversation_type: int
    receivers: list[str]
    stored: Stored
    seq: int = 0
    public: dict[str, Any] = field(default_factory=dict)


def send_one(ctx: Context, send: Send) -> dict[str, Any]:
    """One send, as a batch of one: its message, or the IMError that refuses it."""
    result = send_messages(ctx, [send])[0]
    if isinstance(result, errors.IMError):
        raise result
    return result


def send_messages(ctx: Context, sends: Sequence[Send], retried: bool = False) -> list[Result]:
    """Per send, its message or the IMError that refuses it; what to emit is in the outbox.

    A retry (the same sender and client_msg_id, committed before or sent earlier in the batch) gets
    the first message, unchanged.
    """
    out, writes, retries = _check(ctx, sends)
    try:
        # The seqs and the rows together: a duplicate undoes both, so the seqs stay contiguous.
        with ctx.savepoint():
            _write(ctx, writes)
    except IntegrityError:
        # A concurrent send committed one of these client_msg_ids since the checks: checked again,
        # that send is answered with the first message.
        keys = {(w.send.sender_id, c) for w in writes if (c := w.send.client_msg_id) is not None}
        if retried or not store.firsts(ctx, keys):
            raise
        return send_messages(ctx, sends, retried=True)
    _link_files(ctx, writes)
    _deliver(ctx, writes)
    for w in writes:
        out[w.index] = w.public
    for i, first in retries.items():
        out[i] = out[first]
    return [r if r is not None else errors.IMError() for r in out]


# ---- checks -------------------------------------------------------------------------------------

_KNOWN_USERS = select(User.__table__.c.user_id).where(User.__table__.c.user_id.in_(bindparam("ids", expanding=True)))


def _check(ctx: Context, sends: Sequence[Send]) -> tuple[list[Result | None], list[_Write], dict[int, int]]:
    """Per send: its refusal or first message (in `out`), or its write; and the retries within the batch."""
    out: list[Result | None] = [None] * len(sends)
    shapes: dict[int, Shape] = {}
    for i, s in enumerate(sends):
        try:
            shapes[i] = shape_of(s.content_type, s.content)
            if (s.recv_id is None) == (s.group_id is None):
                raise errors.InvalidParams("give exactly one of recv_id and group_id")
            if s.recv_id == s.sender_id:
                raise errors.SelfOperation("cannot send a message to yourself")
        except errors.IMError as exc:
            out[i] = exc
    todo = [i for i in shapes if out[i] is None]
    firsts = store.firsts(ctx, {(sends[i].sender_id, c) for i in todo if (c := sends[i].client_msg_id)})
    pairs = list({(r, sends[i].sender_id) for i in todo if (r := sends[i].recv_id) is not None})
    known: set[str] = set()
    if pairs:
        known = set(store.core(ctx, _KNOWN_USERS, {"ids": list({r for r, _ in pairs})}).scalars())
    blocked = store.pairs_found(ctx, "blocks", pairs)
    verify = ctx.settings.friend_verify
    friends = store.pairs_found(ctx, "friends", pairs) if verify else set()
    members_of: dict[str, list[str]] = {}
    claimed: dict[tuple[str, str], int] = {}
    retries: dict[int, int] = {}
    writes: list[_Write] = []
    for i in todo:
        s, shape = sends[i], shapes[i]
        key = (s.sender_id, s.client_msg_id) if s.client_msg_id is not None else None
        if key is not None and key in firsts:
            out[i] = firsts[key]
            continue
        if key is not None and key in claimed:
            retries[i] = claimed[key]
            continue
        try:
            if s.recv_id is not None:
                if s.recv_id not in known:
                    raise errors.UserNotFound(f"user not found: {s.recv_id}")
                if (s.recv_id, s.sender_id) in blocked:
                    raise errors.Blocked()
                if verify and (s.recv_id, s.sender_id) not in friends:
                    raise errors.NotFriends()
                cid, kind, receivers = conversations.single_conversation_id(s.sender_id, s.recv_id), SINGLE, [s.recv_id]
            else:
                assert s.group_id is not None
                cid, receivers = _group_target(ctx, s.group_id, s.sender_id, shape, members_of)
                kind = GROUP
            stored = to_store(ctx, s.sender_id, cid, s.content_type, shape)
        except errors.IMError as exc:
            out[i] = exc
            continue
        if key is not None:
            claimed[key] = i
        writes.append(_Write(i, s, cid, kind, receivers, stored))
    return out, writes, retries


def _group_target(
    ctx: Context, group_id: str, sender_id: str, shape: Shape, members_of: dict[str, list[str]]
) -> tuple[str, list[str]]:
    """The group's conversation and the members besides the sender, if the sender may send this to it
    (members_of: each group's member ids, read once a batch)."""
    group, sender = check_can_send(ctx, group_id, sender_id)
    if isinstance(shape, AtTextContent):
        check_mentions(ctx, group, sender, shape.at_user_ids)
    if group_id not in members_of:
        members_of[group_id] = list(
            ctx.session.scalars(
                select(GroupMember.user_id).where(GroupMember.group_id == group_id).order_by(GroupMember.user_id)
            )
        )
    return group.conversation_id, [u for u in members_of[group_id] if u != sender_id]


def require_may_speak(group: Group, member: GroupMember) -> None:
    """Raise unless the member may speak now: not muted, the group not muted for them."""
    if member.role_level < GroupRole.ADMIN:
        if group.status == GroupStatus.MUTED:
            raise errors.GroupMuted()
        if member.is_muted(utcnow()):
            raise errors.MemberMuted(data={"mute_end_time": member.public()["mute_end_time"]})


def check_can_send(ctx: Context, group_id: str, user_id: str) -> tuple[Group, GroupMember]:
    """The group and the sender's member row, unless user_id may not speak in the group now: a live
    group, a member, not muted, the group not muted for them."""
    group = ctx.session.get(Group, group_id)
    if group is None:
        raise errors.GroupNotFound(f"group not found: {group_id}")
    if group.status == GroupStatus.DISMISSED:
        raise errors.GroupDismissed()
    member = ctx.session.get(GroupMember, (group_id, user_id))
    if member is None:
        raise errors.NotInGroup(f"{user_id} is not a member of {group_id}")
    require_may_speak(group, member)
    return group, member


def check_mentions(ctx: Context, group: Group, sender: GroupMember, at_user_ids: list[str]) -> None:
    """@-mentions name members; only owners and admins may mention everyone (OpenIM's AtAllTag)."""
    if AT_ALL in at_user_ids and sender.role_level < GroupRole.ADMIN:
        raise errors.NoPermission("only the owner and admins may mention everyone")
    named = [i for i in dict.fromkeys(at_user_ids) if i != AT_ALL]
    found = set(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group.group_id, GroupMember.user_id.in_(named))
        )
    )
    outsiders = [i for i in named if i not in found]
    if outsiders:
        raise errors.ContentInvalid(f"content.at_user_ids: not a member: {outsiders[0]}", data={"user_ids": outsiders})


# ---- writes and emits ---------------------------------------------------------------------------


def _write(ctx: Context, writes: list[_Write]) -> None:
    """The seqs and rows of the checked sends, a few statements in all."""
    if not writes:
        return
    counts: dict[str, int] = {}
    kinds: dict[str, tuple[int, str | None]] = {}
    for w in writes:
        counts[w.conversation_id] = counts.get(w.conversation_id, 0) + 1
        kinds[w.conversation_id] = (w.conversation_type, w.send.group_id)
    now = store.send_time()
    next_seq = store.allocate_seqs(ctx, counts, kinds, now)
    rows = []
    for w in writes:
        s, cid = w.send, w.conversation_id
        w.seq = next_seq[cid]
        next_seq[cid] += 1
        row = store.message_row(
            cid,
            w.conversation_type,
            s.recv_id,
            s.group_id,
            w.seq,
            s.sender_id,
            s.client_msg_id,
            s.content_type,
            w.stored.content,
            w.stored.search_text,
            now,
        )
        rows.append(row)
        w.public = message_public(SimpleNamespace(**row))
    store.core(ctx, store.INSERT_MESSAGES, rows)


def _link_files(ctx: Context, writes: list[_Write]) -> None:
    """Which messages carry which uploads (what keeps the orphan sweep off them)."""
    links = [
        {"file_id": f, "conversation_id": w.conversation_id, "seq": w.seq} for w in writes for f in w.stored.file_ids
    ]
    if links:
        try:
            store.core(ctx, _INSERT_LINKS, links)
        except IntegrityError:
            # SQLite: the orphan sweep deleted the upload between its check and this write
            raise errors.FileNotFound("content.url is not a file you uploaded or can see") from None


_INSERT_LINKS = insert(cast(Table, MessageFile.__table__))
_STATES = cast(Table, ConversationState.__table__)
# Rows that change what a send does: missing (one-to-one), hidden, or not receiving. A one-to-one
# conversation has two rows, so they are all read; of a group only the few hidden or muted ones.
_STATES_TO_KNOW = select(_STATES.c.conversation_id, _STATES.c.user_id, _STATES.c.hidden, _STATES.c.recv_msg_opt).where(
    _STATES.c.conversation_id.in_(bindparam("cids", expanding=True)),
    or_(
        _STATES.c.conversation_type == SINGLE,
        _STATES.c.hidden.is_(True),
        _STATES.c.recv_msg_opt == RecvMsgOpt.NOT_RECEIVE,
    ),
)
# Own messages are never unread: the sender has read up to what they sent.
_SENDER_READ = (
    _STATES.update()
    .where(
        _STATES.c.user_id == bindparam("uid"),
        _STATES.c.conversation_id == bindparam("cid"),
        _STATES.c.has_read_seq < bindparam("seq"),
    )
    .values(has_read_seq=bindparam("seq"))
)


def _deliver(ctx: Context, writes: list[_Write]) -> None:
    """Read positions, state rows made or shown again, and every emit of the written messages."""
    if not writes:
        return
    firsts: dict[str, _Write] = {}
    for w in writes:
        firsts.setdefault(w.conversation_id, w)
    # Read after the seq UPDATEs, which hold the conversations' locks (SQLite: the write lock) until commit.
    states: dict[str, list[Any]] = {}
    for row in store.core(ctx, _STATES_TO_KNOW, {"cids": list(firsts)}):
        states.setdefault(row.conversation_id, []).append(row)
    new_for: list[tuple[str, str]] = []
    for cid, w in firsts.items():
        rows = states.get(cid, [])
        if w.conversation_type == SINGLE and len(rows) < 2:
            assert w.send.recv_id is not None
            made = conversations.ensure_single_states(ctx, cid, w.send.sender_id, w.send.recv_id)
            new_for += [(u, cid) for u in made]
        members = {w.send.sender_id, *w.receivers}
        hidden = [r.user_id for r in rows if r.hidden and r.user_id in members]
        if hidden:
            new_for += [(u, cid) for u in conversations.unhide(ctx, cid, hidden)]
    read_to = {(w.send.sender_id, w.conversation_id): w.seq for w in writes}
    store.core(ctx, _SENDER_READ, [{"uid": u, "cid": c, "seq": read_to[(u, c)]} for u, c in sorted(read_to)])
    not_receiving = {
        (cid, r.user_id) for cid, rows in states.items() for r in rows if r.recv_msg_opt == RecvMsgOpt.NOT_RECEIVE
    }
    everyone: list[str] = []
    for w in writes:
        everyone += [w.send.sender_id, *w.receivers]
        ctx.outbox.to_user(w.send.sender_id, store.NEW_MESSAGE_EVENT, w.public)
        for user_id in w.receivers:
            if (w.conversation_id, user_id) not in not_receiving:
                ctx.outbox.to_user(user_id, store.NEW_MESSAGE_EVENT, w.public)
    ctx.outbox.unread_changed(everyone)
    if new_for:
        ctx.session.expire_all()  # state rows loaded earlier in this session are older than the writes above
    for user_id, cid in dict.fromkeys(new_for):
        state = ctx.session.get_one(ConversationState, (user_id, cid))  # made just above
        events.publish(ctx, [user_id], "new_conversation", conversations.views(ctx, user_id, [state]))
