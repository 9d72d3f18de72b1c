"""Messages: stored once with a contiguous per-conversation seq, delivered after commit, synced by seq.

Generic over the conversation: a one-to-one send (`send_single`) and a group send both end in
`deliver`, given the target conversation and the users who receive it.
"""

import functools
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, case, exists, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..models import (
    SINGLE,
    Black,
    Conversation,
    ConversationState,
    Friend,
    Message,
    MessageDeletion,
    MessageFile,
    User,
    ts,
    utcnow,
)
from ..models.message import PUBLIC_COLUMNS, STATUS_OK, STATUS_REVOKED, message_public
from . import bounds, conversations, events, relations, search, uploads
from .context import Context

TEXT, PICTURE, FILE, AT_TEXT, CUSTOM, TYPING, QUOTE = 101, 102, 105, 106, 110, 113, 114
CONTENT_TYPES = (TEXT, PICTURE, FILE, AT_TEXT, CUSTOM, QUOTE)
MAX_TEXT = 10_000
BLANK = " \t\r\n\f\v"  # a text of only these is blank (the same set the published schema uses)
MAX_CONTENT_BYTES = 64 * 1024
MAX_AT_USERS = 1000
MAX_PULL_RANGES = 200
MAX_PULL_MESSAGES = 2000
MAX_SEARCH_COUNT = search.MAX_SEARCH_COUNT
NEW_MESSAGE_EVENT = "new_message"


@dataclass(frozen=True)
class Target:
    """Where a message goes: its conversation, and recv_id (one-to-one) or group_id (group)."""

    conversation_id: str
    conversation_type: int
    recv_id: str | None = None
    group_id: str | None = None


def _text(value, field: str = "text") -> str:
    if not isinstance(value, str) or not value.strip(BLANK):
        raise errors.ContentInvalid(f"content.{field} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise errors.ContentInvalid(f"content.{field} is longer than {MAX_TEXT} characters")
    return value


def _keys(content: dict, required: set, optional: set = frozenset()) -> None:
    missing, unknown = required - content.keys(), content.keys() - required - optional
    if missing or unknown:
        raise errors.ContentInvalid(
            f"content needs {sorted(required)}"
            + (f", may have {sorted(optional)}" if optional else "")
            + f"; missing {sorted(missing)}, unknown {sorted(unknown)}"
        )


def validate_content(
    ctx: Context, sender_id: str, content_type: int, content, target: Target
) -> tuple[dict, str, list]:
    """(stored content, searchable text, upload file ids) for a message, or ContentInvalid."""
    if content_type == TYPING:
        raise errors.ContentInvalid("typing (113) is sent with typing_status_update, never stored")
    if content_type not in CONTENT_TYPES:
        raise errors.ContentInvalid(f"unknown content_type {content_type}; one of {list(CONTENT_TYPES)}")
    if not isinstance(content, dict):
        raise errors.ContentInvalid("content must be a JSON object")
    if len(json.dumps(content, ensure_ascii=False).encode()) > MAX_CONTENT_BYTES:
        raise errors.ContentInvalid(f"content is larger than {MAX_CONTENT_BYTES} bytes")
    if content_type == TEXT:
        _keys(content, {"text"})
        return {"text": _text(content["text"])}, content["text"], []
    if content_type == AT_TEXT:
        _keys(content, {"text", "at_user_ids"})
        ids = content["at_user_ids"]
        if (
            not isinstance(ids, list)
            or not ids
            or len(ids) > MAX_AT_USERS
            or not all(isinstance(u, str) and 0 < len(u) <= 64 for u in ids)
        ):
            raise errors.ContentInvalid(f"content.at_user_ids must be 1..{MAX_AT_USERS} user ids")
        return {"text": _text(content["text"]), "at_user_ids": list(dict.fromkeys(ids))}, content["text"], []
    if content_type == QUOTE:
        _keys(content, {"text", "quote_seq"})
        seq = content["quote_seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise errors.ContentInvalid("content.quote_seq must be a positive int")
        quoted = ctx.session.scalar(
            select(Message).where(Message.conversation_id == target.conversation_id, Message.seq == seq)
        )
        if quoted is None or not _may_read_seq(ctx, sender_id, target.conversation_id, seq):
            raise errors.MessageNotFound("content.quote_seq is not a message of this conversation")
        return {"text": _text(content["text"]), "quote_seq": seq}, content["text"], []
    if content_type == CUSTOM:
        _keys(content, {"data"})
        return {"data": content["data"]}, "", []
    _keys(content, {"url"}, {"name", "size", "width", "height", "mime_type"})
    if not isinstance(content["url"], str) or not uploads.URL_PATTERN.match(content["url"]):
        raise errors.ContentInvalid("content.url must be an upload's url, /api/files/<id>")
    upload = uploads.from_url(ctx, content["url"], for_message=True)
    if upload is None or not uploads.may_access(ctx, sender_id, upload):
        raise errors.FileNotFound("content.url is not a file you uploaded or can see")
    if content_type == PICTURE and not upload.is_picture:
        raise errors.ContentInvalid("content.url is not a picture")
    return uploads.describe(upload), upload.name, [upload.file_id]


def _may_read_seq(ctx: Context, user_id: str, conversation_id: str, seq: int) -> bool:
    try:
        r = conversations.readable(ctx, user_id, conversation_id)
    except errors.ConversationNotFound:
        return False
    return r.min_seq <= seq <= r.max_seq


def send_time():
    """Now, to the millisecond: the unit payloads carry, so that what is stored (and ordered by, as
    the conversation list is) sorts as clients see it."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _next_seq(ctx: Context, conversation_id: str, now) -> int | None:
    """The conversation's next seq (None if it does not exist yet); the UPDATE row-locks it until commit.

    `now` is the new message's send time: the conversation's latest_msg_time is then exactly the send
    time of its newest message, which the conversation list is ordered by."""
    return _core(ctx, _NEXT_SEQ, {"cid": conversation_id, "now": now}).scalar_one_or_none()


def _core(ctx: Context, stmt, params):
    """Run a Core statement on the session's connection (same transaction), without the ORM's
    per-statement machinery, which none of the send path's statements need."""
    return ctx.session.connection().execute(stmt, params)


# The send path's statements are built once: SQLAlchemy then finds each compiled form in its cache by
# identity instead of rebuilding and hashing an expression per send (make bench, throughput profile).
_MESSAGES = Message.__table__
_STATES = ConversationState.__table__
_NEXT_SEQ = (
    update(Conversation.__table__)
    .where(Conversation.__table__.c.conversation_id == bindparam("cid"))
    .values(max_seq=Conversation.__table__.c.max_seq + 1, latest_msg_time=bindparam("now"))
    .returning(Conversation.__table__.c.max_seq)
)
_INSERT_MESSAGE = insert(_MESSAGES)
_EXISTING = select(*(_MESSAGES.c[c] for c in PUBLIC_COLUMNS)).where(
    _MESSAGES.c.send_id == bindparam("send_id"), _MESSAGES.c.client_msg_id == bindparam("client_msg_id")
)
_SENDER_READ = (
    update(_STATES)
    .where(
        _STATES.c.user_id == bindparam("uid"),
        _STATES.c.conversation_id == bindparam("cid"),
        _STATES.c.has_read_seq < bindparam("seq"),
    )
    .values(has_read_seq=bindparam("seq"))
)
# Rows that change what a send does: missing (one-to-one), hidden, or not receiving. A one-to-one
# conversation has two rows, so they are all read; of a group only the few hidden or muted ones.
_GROUP_STATES = select(_STATES.c.user_id, _STATES.c.hidden, _STATES.c.recv_msg_opt).where(
    _STATES.c.conversation_id == bindparam("cid"),
    or_(_STATES.c.hidden.is_(True), _STATES.c.recv_msg_opt == conversations.RECV_NOT_RECEIVE),
)
# One-to-one: the sender's read position is set and both rows are read in the same statement.
_SINGLE_STATES = (
    update(_STATES)
    .where(_STATES.c.conversation_id == bindparam("cid"))
    .values(
        has_read_seq=case(
            (and_(_STATES.c.user_id == bindparam("uid"), _STATES.c.has_read_seq < bindparam("seq")), bindparam("seq")),
            else_=_STATES.c.has_read_seq,
        )
    )
    .returning(_STATES.c.user_id, _STATES.c.hidden, _STATES.c.recv_msg_opt)
)
_users, _blacks, _friends = User.__table__, Black.__table__, Friend.__table__
# Everything a one-to-one send checks before it writes, in one round trip: is there a first message
# with this client_msg_id, does the recipient exist, has it blacklisted the sender, is the sender its friend.
_SINGLE_CHECKS = select(
    select(_MESSAGES.c.id)
    .where(_MESSAGES.c.send_id == bindparam("sender"), _MESSAGES.c.client_msg_id == bindparam("client_msg_id"))
    .scalar_subquery(),
    exists().where(_users.c.user_id == bindparam("recv")),
    exists().where(_blacks.c.owner_user_id == bindparam("recv"), _blacks.c.block_user_id == bindparam("sender")),
    exists().where(_friends.c.owner_user_id == bindparam("recv"), _friends.c.friend_user_id == bindparam("sender")),
)


def _existing(ctx: Context, send_id: str, client_msg_id: str) -> Message | None:
    return ctx.session.scalar(select(Message).where(Message.send_id == send_id, Message.client_msg_id == client_msg_id))


def existing_public(ctx: Context, send_id: str, client_msg_id: str) -> dict | None:
    """The public form of the message this sender already sent with client_msg_id, if any."""
    row = _core(ctx, _EXISTING, {"send_id": send_id, "client_msg_id": client_msg_id}).first()
    return message_public(row) if row is not None else None


def _message_row(
    target: Target,
    seq: int,
    sender_id: str,
    client_msg_id: str,
    content_type: int,
    content: dict,
    search_text: str,
    send_time,
) -> dict:
    """The messages row of a new message (also its public form, through message_public)."""
    return {
        "server_msg_id": secrets.token_hex(16),
        "conversation_id": target.conversation_id,
        "conversation_type": target.conversation_type,
        "seq": seq,
        "send_id": sender_id,
        "recv_id": target.recv_id,
        "group_id": target.group_id,
        "client_msg_id": client_msg_id,
        "content_type": content_type,
        "content": content,
        "search_text": search.fold(search_text),
        "status": STATUS_OK,
        "send_time": send_time,
        "revoked_at": None,
    }


def deliver(
    ctx: Context,
    sender_id: str,
    target: Target,
    receivers: list[str],
    content_type: int,
    content,
    client_msg_id: str | None,
) -> dict:
    """Store a message once, with the next seq, and deliver it after commit.

    `receivers` are the users besides the sender who get it online (their state rows must exist,
    except one-to-one, where they are made here). The caller has answered a retry with a used
    client_msg_id already; one racing this send is answered here with the first message unchanged.
    """
    client_msg_id = client_msg_id or secrets.token_hex(16)
    stored, search_text, file_ids = validate_content(ctx, sender_id, content_type, content, target)
    cid = target.conversation_id
    now = send_time()
    try:
        # The seq and the row together: a duplicate undoes both, so the seqs stay contiguous.
        with ctx.savepoint():
            seq = _next_seq(ctx, cid, now)
            if seq is None:
                conversations.ensure_conversation(ctx, cid, target.conversation_type, target.group_id)
                seq = _next_seq(ctx, cid, now)
            row = _message_row(target, seq, sender_id, client_msg_id, content_type, stored, search_text, now)
            _core(ctx, _INSERT_MESSAGE, row)
    except IntegrityError:
        # The same client_msg_id committed by a concurrent retry: answer with that one.
        first = existing_public(ctx, sender_id, client_msg_id)
        if first is None:
            raise
        return first
    if file_ids:
        try:
            ctx.session.execute(
                insert(MessageFile.__table__), [{"file_id": f, "conversation_id": cid, "seq": seq} for f in file_ids]
            )
        except IntegrityError:
            # SQLite: the orphan sweep deleted the upload between the check above and this write
            raise errors.FileNotFound("content.url is not a file you uploaded or can see") from None
    everyone = list(dict.fromkeys([sender_id, *receivers]))
    # Read after the seq UPDATE, which holds the conversation's lock (SQLite: the write lock) until commit.
    # Own messages are never unread: the sender has read up to what they sent.
    read = {"uid": sender_id, "cid": cid, "seq": seq}
    new_for = []
    if target.conversation_type == SINGLE:
        states = _core(ctx, _SINGLE_STATES, read).all()
        if len(states) < 2:
            new_for = conversations.ensure_single_states(ctx, cid, sender_id, target.recv_id)
            _core(ctx, _SENDER_READ, read)
    else:
        states = _core(ctx, _GROUP_STATES, {"cid": cid}).all()
        _core(ctx, _SENDER_READ, read)
    members = set(everyone)
    hidden = [s.user_id for s in states if s.hidden and s.user_id in members]
    if hidden:
        new_for += conversations.unhide(ctx, cid, hidden)
    not_receiving = {s.user_id for s in states if s.recv_msg_opt == conversations.RECV_NOT_RECEIVE}
    public = message_public(SimpleNamespace(**row))
    ctx.outbox.unread_changed(everyone)
    for user_id in everyone:
        if user_id == sender_id or user_id not in not_receiving:
            ctx.outbox.to_user(user_id, NEW_MESSAGE_EVENT, public)
    if new_for:
        ctx.session.expire_all()  # state rows loaded earlier in this session are older than the writes above
    for user_id in dict.fromkeys(new_for):
        state = ctx.session.get(ConversationState, (user_id, cid))
        events.publish(ctx, [user_id], "new_conversation", conversations.views(ctx, user_id, [state]))
    return public


def send_single(
    ctx: Context, sender_id: str, recv_id: str, content_type: int, content, client_msg_id: str | None
) -> dict:
    """A one-to-one message, refused when the recipient is unknown, has blacklisted the sender, or
    (with IM_FRIEND_VERIFY) is not the sender's friend."""
    if recv_id == sender_id:
        raise errors.SelfOperation("cannot send a message to yourself")
    first_id, recv_exists, blocked, friend = _core(
        ctx, _SINGLE_CHECKS, {"sender": sender_id, "recv": recv_id, "client_msg_id": client_msg_id}
    ).one()
    if first_id is not None:
        first = existing_public(ctx, sender_id, client_msg_id)
        if first is not None:
            return first
    if not recv_exists:
        raise errors.UserNotFound(f"user not found: {recv_id}")
    if blocked:
        raise errors.Blocked()
    if ctx.settings.friend_verify and not friend:
        raise errors.NotFriends()
    target = Target(conversations.single_conversation_id(sender_id, recv_id), SINGLE, recv_id=recv_id)
    return deliver(ctx, sender_id, target, [recv_id], content_type, content, client_msg_id)


# Content types whose checks read nothing: their one-to-one sends can be written many at a time.
PLAIN_TYPES = (TEXT, AT_TEXT, CUSTOM)
_CONVS = Conversation.__table__
_KNOWN_USERS = select(_users.c.user_id).where(_users.c.user_id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=1024)
def _pair_lookup(kind: str, n: int):
    """Rows matching any of n (a, b) pairs, by a join with a VALUES list.

    Not `(a, b) IN (...)`: SQLite answers that by scanning the whole index, so its cost would grow
    with the table; joined to a VALUES list it seeks the unique index once per pair, on PostgreSQL too.
    """
    pairs = ", ".join(f"(:a{i}, :b{i})" for i in range(n))
    if kind == "firsts":
        cols = [_MESSAGES.c[c] for c in PUBLIC_COLUMNS]
        return text(
            f"WITH k(a, b) AS (VALUES {pairs}) SELECT "
            + ", ".join(f"m.{c.name}" for c in cols)
            + f" FROM k JOIN {_MESSAGES.name} m ON m.send_id = k.a AND m.client_msg_id = k.b"
        ).columns(*cols)
    table, first, second = {
        "blocks": (_blacks.name, "owner_user_id", "block_user_id"),
        "friends": (_friends.name, "owner_user_id", "friend_user_id"),
    }[kind]
    return text(
        f"WITH k(a, b) AS (VALUES {pairs}) SELECT t.{first}, t.{second} FROM k JOIN {table} t "
        f"ON t.{first} = k.a AND t.{second} = k.b"
    )


def _pairs(ctx: Context, kind: str, pairs: list[tuple[str, str]]):
    params = {}
    for i, (a, b) in enumerate(pairs):
        params[f"a{i}"], params[f"b{i}"] = a, b
    return _core(ctx, _pair_lookup(kind, len(pairs)), params)


_STATES_OF = select(_STATES.c.conversation_id, _STATES.c.user_id, _STATES.c.hidden, _STATES.c.recv_msg_opt).where(
    _STATES.c.conversation_id.in_(bindparam("cids", expanding=True))
)
_ADD_SEQS = (
    update(_CONVS)
    .where(_CONVS.c.conversation_id == bindparam("cid"))
    .values(max_seq=_CONVS.c.max_seq + bindparam("n"), latest_msg_time=bindparam("now"))
)
_MAX_SEQS = select(_CONVS.c.conversation_id, _CONVS.c.max_seq).where(
    _CONVS.c.conversation_id.in_(bindparam("cids", expanding=True))
)


@dataclass(frozen=True)
class SingleSend:
    sender_id: str
    recv_id: str
    content_type: int
    content: dict
    client_msg_id: str | None


def send_singles(ctx: Context, sends: list[SingleSend], alone) -> list:
    """Many one-to-one sends written with a few statements in all, for a group commit.

    Returns, per send, its message, the IMError that refuses it (before anything is written), or
    `alone` for a send this path does not take (content that needs reading, a conversation that is
    new, hidden or half made): the caller runs those one by one through send_single. Same checks,
    seqs, read positions and emits as send_single and deliver.
    """
    out = [alone] * len(sends)
    todo = []
    for i, s in enumerate(sends):
        if s.content_type not in PLAIN_TYPES:
            continue
        if s.recv_id == s.sender_id:
            out[i] = errors.SelfOperation("cannot send a message to yourself")
        else:
            todo.append(i)
    if not todo:
        return out
    # The checks of send_single, in its order: a retry is answered first, the content checked last.
    keys = list({(sends[i].sender_id, sends[i].client_msg_id) for i in todo if sends[i].client_msg_id})
    firsts = {}
    if keys:
        firsts = {(r.send_id, r.client_msg_id): message_public(r) for r in _pairs(ctx, "firsts", keys)}
    pairs = list({(sends[i].recv_id, sends[i].sender_id) for i in todo})
    known = set(_core(ctx, _KNOWN_USERS, {"ids": list({r for r, _ in pairs})}).scalars())
    blocked = set(map(tuple, _pairs(ctx, "blocks", pairs).all()))
    verify = ctx.settings.friend_verify
    friends = set(map(tuple, _pairs(ctx, "friends", pairs).all())) if verify else set()
    cid_of, stored = {}, {}
    for i in todo:
        s = sends[i]
        first = firsts.get((s.sender_id, s.client_msg_id))
        try:
            if first is not None:
                out[i] = first
                continue
            if s.recv_id not in known:
                raise errors.UserNotFound(f"user not found: {s.recv_id}")
            if (s.recv_id, s.sender_id) in blocked:
                raise errors.Blocked()
            if verify and (s.recv_id, s.sender_id) not in friends:
                raise errors.NotFriends()
            stored[i] = validate_content(ctx, s.sender_id, s.content_type, s.content, None)[:2]
        except errors.IMError as exc:
            out[i] = exc
            continue
        cid_of[i] = conversations.single_conversation_id(s.sender_id, s.recv_id)
    if not cid_of:
        return out
    states = {}
    for row in _core(ctx, _STATES_OF, {"cids": list(set(cid_of.values()))}):
        states.setdefault(row.conversation_id, []).append(row)
    # Written here: conversations whose two state rows exist, neither hidden, and none of whose sends
    # in this batch runs alone, so that seqs follow the batch's order within each conversation.
    mixed = {
        conversations.single_conversation_id(s.sender_id, s.recv_id)
        for s in sends
        if s.content_type not in PLAIN_TYPES and s.recv_id != s.sender_id
    }
    plain = {cid for cid, rows in states.items() if len(rows) == 2 and not any(r.hidden for r in rows)} - mixed
    batch = [i for i in cid_of if cid_of[i] in plain]
    if not batch:
        return out
    first_of, writes = {}, []
    for i in batch:
        key = (sends[i].sender_id, sends[i].client_msg_id)
        if sends[i].client_msg_id is None or key not in first_of:
            first_of.setdefault(key, i)
            writes.append(i)
    counts = {}
    for i in writes:
        counts[cid_of[i]] = counts.get(cid_of[i], 0) + 1
    now = send_time()
    # In one order on every node, so that two nodes' batches never wait for each other's rows crosswise.
    _core(ctx, _ADD_SEQS, [{"cid": cid, "n": counts[cid], "now": now} for cid in sorted(counts)])
    # The UPDATE holds the conversations' locks (SQLite: the write lock) until commit.
    next_seq = {cid: top - counts[cid] + 1 for cid, top in _core(ctx, _MAX_SEQS, {"cids": list(counts)}).all()}
    not_receiving = {
        (r.conversation_id, r.user_id)
        for cid in counts
        for r in states[cid]
        if r.recv_msg_opt == conversations.RECV_NOT_RECEIVE
    }
    rows, read_to = [], {}
    for i in writes:
        s, cid = sends[i], cid_of[i]
        seq = next_seq[cid]
        next_seq[cid] += 1
        content, search_text = stored[i]
        row = _message_row(
            Target(cid, SINGLE, recv_id=s.recv_id),
            seq,
            s.sender_id,
            s.client_msg_id or secrets.token_hex(16),
            s.content_type,
            content,
            search_text,
            now,
        )
        rows.append(row)
        read_to[(s.sender_id, cid)] = seq
        out[i] = public = message_public(SimpleNamespace(**row))
        ctx.outbox.to_user(s.sender_id, NEW_MESSAGE_EVENT, public)
        if (cid, s.recv_id) not in not_receiving:
            ctx.outbox.to_user(s.recv_id, NEW_MESSAGE_EVENT, public)
    for i in batch:
        if out[i] is alone:  # a retry within the batch: the first send's message
            out[i] = out[first_of[(sends[i].sender_id, sends[i].client_msg_id)]]
    _core(ctx, _INSERT_MESSAGE, rows)
    ctx.outbox.unread_changed([sends[i].sender_id for i in writes] + [sends[i].recv_id for i in writes])
    _core(ctx, _SENDER_READ, [{"uid": uid, "cid": cid, "seq": read_to[(uid, cid)]} for uid, cid in sorted(read_to)])
    return out


def get_max_seqs(ctx: Context, user_id: str) -> dict:
    """Each conversation of the user with its newest readable seq: what a terminal compares on (re)connect."""
    return {"conversations": conversations.max_seqs(ctx, user_id)}


def _not_deleted(user_id: str):
    return ~exists().where(
        MessageDeletion.user_id == user_id,
        MessageDeletion.conversation_id == Message.conversation_id,
        MessageDeletion.seq == Message.seq,
    )


def _readables(ctx: Context, user_id: str, conversation_ids: list[str]) -> dict[str, "conversations.Readable"]:
    """Readable ranges for many conversations in one query; ConversationNotFound for any outsider."""
    rows = ctx.session.execute(
        select(ConversationState, Conversation.max_seq)
        .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
        .where(ConversationState.user_id == user_id, ConversationState.conversation_id.in_(conversation_ids))
    ).all()
    found = {
        s.conversation_id: conversations.Readable(
            s.conversation_id, s.conversation_type, s.min_seq, conversations._effective_max(s, m), s, s.peer_user_id
        )
        for s, m in rows
    }
    for cid in conversation_ids:
        if cid not in found:
            found[cid] = conversations.readable(ctx, user_id, cid)
    return found


def pull_messages(
    ctx: Context, user_id: str, ranges: list[tuple[str, int, int]], limit: int = MAX_PULL_MESSAGES
) -> dict:
    """Messages in seq ranges of several conversations, oldest first per conversation, in one query.

    `pulled_to[conversation_id]` is the seq up to which a range is done (messages deleted for the
    caller or before their min_seq are simply absent); ranges cut by `limit` or by IM_MAX_ANSWER_BYTES
    continue from there, and `is_end` is false when any was cut.
    """
    spans: dict[str, tuple[int, int]] = {}
    for cid, begin, end in ranges:
        # A conversation named twice is pulled over the span of its ranges.
        spans[cid] = (min(begin, spans[cid][0]), max(end, spans[cid][1])) if cid in spans else (begin, end)
    access = _readables(ctx, user_id, list(spans))
    clamped = []
    for cid, (begin, end) in sorted(spans.items()):
        r = access[cid]
        clamped.append((cid, begin, end, max(begin, r.min_seq), min(end, r.max_seq)))
    wanted = [
        and_(Message.conversation_id == cid, Message.seq >= lo, Message.seq <= hi)
        for cid, _b, _e, lo, hi in clamped
        if lo <= hi
    ]
    out, cut = [], None
    if wanted:
        # Plain rows rather than ORM objects, read a few at a time: a catch-up reads thousands of them,
        # and the page stops at IM_MAX_ANSWER_BYTES without reading the rows after it.
        result = ctx.session.execute(
            select(*(getattr(Message, c) for c in PUBLIC_COLUMNS))
            .where(or_(*wanted), _not_deleted(user_id))
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


def get_history(ctx: Context, user_id: str, conversation_id: str, start_seq: int | None, count: int) -> dict:
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
                    _not_deleted(user_id),
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


# Search has a module of its own; callers still find it here.
search_messages = search.search_messages


def _find(ctx: Context, user_id: str, conversation_id: str, client_msg_id: str | None, seq: int | None) -> Message:
    """The message with this seq and/or client_msg_id (both must match when both are given)."""
    r = conversations.readable(ctx, user_id, conversation_id)
    if seq is None and client_msg_id is None:
        raise errors.MessageNotFound("give the message's seq or client_msg_id")
    conds = [Message.conversation_id == conversation_id, _not_deleted(user_id)]
    if seq is not None:
        conds.append(Message.seq == seq)
    if client_msg_id is not None:
        conds.append(Message.client_msg_id == client_msg_id)
    msg = ctx.session.scalar(select(Message).where(*conds))
    if msg is None or not r.min_seq <= msg.seq <= r.max_seq:
        raise errors.MessageNotFound()
    return msg


def revoke_message(
    ctx: Context, user_id: str, conversation_id: str, client_msg_id: str | None, seq: int | None
) -> dict:
    """The sender withdraws a message within IM_REVOKE_SECONDS: its content is erased on the server."""
    msg = _find(ctx, user_id, conversation_id, client_msg_id, seq)
    if msg.send_id != user_id or msg.content_type not in CONTENT_TYPES:
        raise errors.NoPermission("only the sender can revoke a message, and never a notification")
    if msg.status == STATUS_REVOKED:
        return msg.public()
    window = timedelta(seconds=ctx.settings.revoke_seconds)
    now = utcnow()
    if now - msg.send_time > window:
        raise errors.RevokeExpired()
    msg.status, msg.content, msg.search_text, msg.revoked_at = STATUS_REVOKED, {}, "", now
    orphans = uploads.unlink_message(ctx, conversation_id, msg.seq)
    audience = list(
        ctx.session.scalars(
            select(ConversationState.user_id).where(
                ConversationState.conversation_id == conversation_id,
                ConversationState.min_seq <= msg.seq,
                or_(ConversationState.max_readable_seq.is_(None), ConversationState.max_readable_seq >= msg.seq),
            )
        )
    )
    events.publish(
        ctx,
        audience,
        "new_recv_message_revoked",
        {
            "conversation_id": conversation_id,
            "seq": msg.seq,
            "client_msg_id": msg.client_msg_id,
            "server_msg_id": msg.server_msg_id,
            "send_id": msg.send_id,
            "revoker_id": user_id,
            "revoke_time": ts(now),
            "session_type": msg.conversation_type,
        },
    )
    result = msg.public()
    settings = ctx.settings
    ctx.outbox.after_commit(lambda: uploads.remove_files(settings, orphans))
    return result


def delete_message(ctx: Context, user_id: str, conversation_id: str, seq: int) -> None:
    """Remove a message for the caller only; others still see it.

    The caller's terminals hear `msg_deleted` through the event log, and `conversation_changed` when
    the message was the conversation's preview, which then moves back to the newest one left.
    """
    msg = _find(ctx, user_id, conversation_id, None, seq)
    state = ctx.session.get(ConversationState, (user_id, conversation_id))
    preview = conversations.views(ctx, user_id, [state])[0]["latest_msg"] if state is not None else None
    if not conversations.insert_ignore(
        ctx,
        MessageDeletion,
        [{"user_id": user_id, "conversation_id": conversation_id, "seq": msg.seq}],
        returning=MessageDeletion.seq,
    ):
        raise errors.MessageNotFound("message already deleted")  # by another terminal of the caller, just now
    events.publish(ctx, [user_id], "msg_deleted", msg.public())
    if preview is not None and preview["seq"] == msg.seq:
        # Unread counts are by seq, so the total stays as it was: only the preview changed.
        events.publish(ctx, [user_id], "conversation_changed", conversations.views(ctx, user_id, [state]))


def typing_status_update(ctx: Context, user_id: str, recv_id: str, msg_tip: str) -> None:
    """Content type 113 to the peer's online terminals only; nothing is stored."""
    if recv_id == user_id:
        raise errors.SelfOperation()
    if ctx.session.get(User, recv_id) is None:
        raise errors.UserNotFound(f"user not found: {recv_id}")
    if relations.is_blacklisted(ctx, recv_id, user_id):
        raise errors.Blocked()
    ctx.outbox.to_user(
        recv_id,
        NEW_MESSAGE_EVENT,
        {
            "server_msg_id": "",
            "client_msg_id": secrets.token_hex(16),
            "conversation_id": conversations.single_conversation_id(user_id, recv_id),
            "conversation_type": SINGLE,
            "seq": 0,
            "send_id": user_id,
            "recv_id": recv_id,
            "group_id": None,
            "content_type": TYPING,
            "content": {"msg_tip": msg_tip},
            "status": STATUS_OK,
            "send_time": ts(utcnow()),
            "revoked_time": None,
        },
    )
