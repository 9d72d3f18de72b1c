"""Conversations and each user's state in them: who may read which seqs, unread counts, settings.

Generic over the conversation kind: one-to-one (`si_<smaller>~<larger>`, type 1) and groups
(`sg_<group_id>`, type 3). A user may read a conversation only when they have a state row in it:
groups create it on join (`open_for_member`), one-to-one for both users on the first message or when
one of them opens the conversation by the peer's user id (`open_single`). An id is never parsed.
"""
from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import errors, push
from ..extensions import db
from ..models import (GROUP, SINGLE, Conversation, ConversationState, Message, MessageDeletion, User, ts,
                      utcnow)

RECV_OPTS = (0, 1, 2)
RECV_NOT_RECEIVE = 1


# Not in the user-id alphabet ([A-Za-z0-9_.-]), so the two ids of a pair can always be told apart:
# with "_" (the old form) ("john_smith", "mary") and ("john", "smith_mary") shared one conversation.
SINGLE_SEPARATOR = "~"


def single_conversation_id(a: str, b: str) -> str:
    """`si_<smaller>~<larger>`, the two user ids ordered by code point (ASCII): one id per pair."""
    low, high = sorted((a, b))
    return f"si_{low}{SINGLE_SEPARATOR}{high}"


def group_conversation_id(group_id: str) -> str:
    return f"sg_{group_id}"


def insert_ignore(model, rows: list[dict], returning=None):
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); returns the inserted rows' `returning`."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The rows go as parameters, not as .values(rows): a multi-VALUES statement is compiled anew on every
    # call, this one once (compiling it was 12% of a one-to-one send in the profile of make bench).
    stmt = insert(model.__table__).on_conflict_do_nothing()
    if returning is not None:
        return list(db.session.execute(stmt.returning(returning), rows).scalars())
    db.session.execute(stmt, rows)
    return []


def ensure_conversation(conversation_id: str, conversation_type: int, group_id: str | None = None) -> None:
    insert_ignore(Conversation, [{"conversation_id": conversation_id, "conversation_type": conversation_type,
                                  "group_id": group_id, "max_seq": 0, "latest_msg_time": utcnow(),
                                  "created_at": utcnow()}])


def ensure_single_states(conversation_id: str, user_a: str, user_b: str, hide_b: bool = False) -> list[str]:
    """Create both users' state rows of a one-to-one conversation; returns whose were new.

    With hide_b the row made for user_b stays out of their list until a message arrives (user_a only
    looked at the conversation)."""
    have = set(db.session.scalars(select(ConversationState.user_id).where(
        ConversationState.conversation_id == conversation_id)))
    if {user_a, user_b} <= have:
        return []
    now = utcnow()
    rows = [{"user_id": u, "conversation_id": conversation_id, "conversation_type": SINGLE,
             "peer_user_id": peer, "group_id": None, "has_read_seq": 0, "min_seq": 1,
             "is_pinned": False, "recv_msg_opt": 0, "draft_text": "", "hidden": hidden, "updated_at": now}
            for u, peer, hidden in ((user_a, user_b, False), (user_b, user_a, hide_b))]
    return insert_ignore(ConversationState, rows, returning=ConversationState.user_id)


def open_for_member(user_id: str, conversation_id: str, group_id: str) -> None:
    """A user joins a group conversation: they read from the next seq on (call inside the join's transaction)."""
    ensure_conversation(conversation_id, GROUP, group_id)
    max_seq = db.session.scalar(select(Conversation.max_seq).where(
        Conversation.conversation_id == conversation_id).with_for_update())
    state = db.session.get(ConversationState, (user_id, conversation_id))
    if state is None:
        db.session.add(ConversationState(user_id=user_id, conversation_id=conversation_id,
                                         conversation_type=GROUP, group_id=group_id,
                                         has_read_seq=max_seq, min_seq=max_seq + 1, hidden=False))
    else:
        state.min_seq, state.has_read_seq = max_seq + 1, max_seq
        state.max_readable_seq, state.hidden = None, False


def close_for_member(user_id: str, conversation_id: str) -> None:
    """A user leaves a group conversation: they keep reading what came before, nothing after."""
    state = db.session.get(ConversationState, (user_id, conversation_id))
    if state is not None and state.max_readable_seq is None:
        state.max_readable_seq = db.session.scalar(select(Conversation.max_seq).where(
            Conversation.conversation_id == conversation_id)) or 0


@dataclass
class Readable:
    """Which seqs of a conversation a user may read, and their state row."""

    conversation_id: str
    conversation_type: int
    min_seq: int
    max_seq: int
    state: ConversationState | None
    peer_user_id: str | None = None


def readable(user_id: str, conversation_id: str) -> Readable:
    """The user's readable range of a conversation, or ConversationNotFound (also for outsiders).

    Membership is the user's own state row, never what the id looks like."""
    state = db.session.get(ConversationState, (user_id, conversation_id))
    if state is None:
        raise errors.ConversationNotFound()
    conv_max = db.session.scalar(select(Conversation.max_seq).where(
        Conversation.conversation_id == conversation_id)) or 0
    return Readable(conversation_id, state.conversation_type, state.min_seq, _effective_max(state, conv_max), state,
                    state.peer_user_id)


def state_for_update(user_id: str, conversation_id: str) -> ConversationState:
    """The user's state row of a conversation they belong to, or ConversationNotFound."""
    return readable(user_id, conversation_id).state


def open_single(user_id: str, peer_id: str) -> ConversationState:
    """The user's state row of the one-to-one conversation with peer_id, created empty if needed
    (the peer's row stays out of their list until a message arrives)."""
    if peer_id == user_id:
        raise errors.SelfOperation()
    if db.session.get(User, peer_id) is None:
        raise errors.UserNotFound(f"user not found: {peer_id}")
    conversation_id = single_conversation_id(user_id, peer_id)
    state = db.session.get(ConversationState, (user_id, conversation_id))
    if state is None:
        ensure_conversation(conversation_id, SINGLE)
        ensure_single_states(conversation_id, user_id, peer_id, hide_b=True)
        state = db.session.get(ConversationState, (user_id, conversation_id))
    return state


def _effective_max(state: ConversationState, conv_max: int) -> int:
    return conv_max if state.max_readable_seq is None else min(conv_max, state.max_readable_seq)


def unread_count(state: ConversationState, conv_max: int) -> int:
    """max_seq - has_read_seq, never below 0 and never before the user could read."""
    return max(0, _effective_max(state, conv_max) - max(state.has_read_seq, state.min_seq - 1))


def _newest_not_deleted(user_id: str, conversation_id: str, low: int, high: int) -> Message | None:
    """The newest message with a seq in [low, high] that the user has not deleted for themselves."""
    return db.session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.seq >= low, Message.seq <= high,
                              ~exists().where(MessageDeletion.user_id == user_id,
                                              MessageDeletion.conversation_id == Message.conversation_id,
                                              MessageDeletion.seq == Message.seq))
        .order_by(Message.seq.desc()).limit(1))


def views(user_id: str, states: list[ConversationState]) -> list[dict]:
    """The public conversation objects of these state rows, in the given order (five queries).

    `latest_msg` is the newest message the user may read and has not deleted for themselves (OpenIM's
    delete-for-me moves the preview back), and `latest_msg_send_time` is its send time.
    `peer_has_read_seq` (one-to-one) is the peer's has_read_seq: what recv_c2c_read_receipt last
    announced, so a terminal that starts fresh shows the same read marks as one that heard it."""
    if not states:
        return []
    ids = [s.conversation_id for s in states]
    convs = {c.conversation_id: c for c in db.session.scalars(
        select(Conversation).where(Conversation.conversation_id.in_(ids)))}
    latest = {m.conversation_id: m for m in db.session.scalars(
        select(Message).join(Conversation, (Conversation.conversation_id == Message.conversation_id)
                             & (Conversation.max_seq == Message.seq))
        .where(Conversation.conversation_id.in_(ids)))}
    single_ids = [s.conversation_id for s in states if s.conversation_type == SINGLE]
    peer_read = dict(db.session.execute(
        select(ConversationState.conversation_id, ConversationState.has_read_seq)
        .where(ConversationState.conversation_id.in_(single_ids), ConversationState.user_id != user_id)
    ).all()) if single_ids else {}
    tops = {s.conversation_id: _effective_max(s, convs[s.conversation_id].max_seq) for s in states}
    deleted_tops = set(db.session.execute(
        select(MessageDeletion.conversation_id, MessageDeletion.seq)
        .where(MessageDeletion.user_id == user_id, MessageDeletion.conversation_id.in_(ids),
               MessageDeletion.seq.in_(sorted(set(tops.values()))))).all())
    out = []
    for s in states:
        conv = convs[s.conversation_id]
        top = tops[s.conversation_id]
        msg = latest.get(s.conversation_id)
        if (s.conversation_id, top) in deleted_tops:
            msg = _newest_not_deleted(user_id, s.conversation_id, s.min_seq, top - 1)
        elif msg is not None and msg.seq != top:
            msg = db.session.scalar(select(Message).where(Message.conversation_id == s.conversation_id,
                                                          Message.seq == top))
        if msg is not None and msg.seq < s.min_seq:
            msg = None
        out.append({
            "conversation_id": s.conversation_id,
            "conversation_type": s.conversation_type,
            "user_id": s.peer_user_id or "",
            "group_id": s.group_id or "",
            "latest_msg": msg.public() if msg is not None else None,
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
        })
    return out


def _listed(user_id: str):
    return (select(ConversationState)
            .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
            .where(ConversationState.user_id == user_id, ConversationState.hidden.is_(False))
            .order_by(ConversationState.is_pinned.desc(), Conversation.latest_msg_time.desc(),
                      Conversation.conversation_id))


def get_all_conversation_list(user_id: str) -> list[dict]:
    """Pinned first, then by latest message; deleted ones are left out until a new message."""
    return views(user_id, list(db.session.scalars(_listed(user_id))))


def get_conversation_list_split(user_id: str, offset: int, count: int) -> list[dict]:
    return views(user_id, list(db.session.scalars(_listed(user_id).offset(offset).limit(count))))


def get_one_conversation(user_id: str, conversation_id: str | None = None, peer_id: str | None = None) -> dict:
    """One conversation of the user by its id, or the one-to-one one with peer_id (made if needed)."""
    state = open_single(user_id, peer_id) if peer_id is not None else state_for_update(user_id, conversation_id)
    result = views(user_id, [state])[0]
    db.session.commit()
    return result


def get_multiple_conversation(user_id: str, conversation_ids: list[str]) -> list[dict]:
    """The conversations among these ids the user has, in the order asked; others are left out."""
    found = {s.conversation_id: s for s in db.session.scalars(select(ConversationState).where(
        ConversationState.user_id == user_id, ConversationState.conversation_id.in_(conversation_ids)))}
    return views(user_id, [found[c] for c in dict.fromkeys(conversation_ids) if c in found])


def total_unread(user_id: str) -> int:
    """Unread over the user's conversations with recv_msg_opt 0 (OpenIM leaves muted ones out)."""
    rows = db.session.execute(
        select(ConversationState, Conversation.max_seq)
        .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
        .where(ConversationState.user_id == user_id, ConversationState.recv_msg_opt == 0,
               ConversationState.hidden.is_(False))
    ).all()
    return sum(unread_count(s, conv_max) for s, conv_max in rows)


def publish_changed(user_id: str, state: ConversationState, unread_before: int | None = None) -> None:
    """Tell all the user's terminals (through the event log) about a change to one conversation."""
    db.session.flush()
    push.publish([user_id], "conversation_changed", views(user_id, [state]))
    total = total_unread(user_id)
    if unread_before is None or unread_before != total:
        push.publish([user_id], "total_unread_message_count_changed", total)


def _change(user_id: str, conversation_id: str, apply) -> dict:
    state = state_for_update(user_id, conversation_id)
    before = total_unread(user_id)
    if apply(state):
        state.updated_at = utcnow()
        publish_changed(user_id, state, before)
    result = views(user_id, [state])[0]
    db.session.commit()
    return result


def pin_conversation(user_id: str, conversation_id: str, is_pinned: bool) -> dict:
    def apply(s):
        changed, s.is_pinned = s.is_pinned != is_pinned, is_pinned
        return changed
    return _change(user_id, conversation_id, apply)


def set_recv_message_opt(user_id: str, conversation_id: str, opt: int) -> dict:
    def apply(s):
        changed, s.recv_msg_opt = s.recv_msg_opt != opt, opt
        return changed
    return _change(user_id, conversation_id, apply)


def set_draft(user_id: str, conversation_id: str, text: str) -> dict:
    def apply(s):
        if s.draft_text == text:
            return False
        s.draft_text, s.draft_time = text, utcnow() if text else None
        return True
    return _change(user_id, conversation_id, apply)


def delete_conversation(user_id: str, conversation_id: str) -> None:
    """Hide the conversation from my list (read up to now) until a new message arrives."""
    def apply(s):
        conv_max = db.session.scalar(select(Conversation.max_seq).where(
            Conversation.conversation_id == conversation_id)) or 0
        if s.hidden and s.has_read_seq >= _effective_max(s, conv_max):
            return False
        s.hidden = True
        top = _effective_max(s, conv_max)
        if s.has_read_seq < top:
            s.has_read_seq = top
            _read_receipt(s, top)
        return True
    _change(user_id, conversation_id, apply)


def _read_receipt(state: ConversationState, has_read_seq: int) -> None:
    """One-to-one: the peer hears how far the user has now read (the peer's peer_has_read_seq)."""
    if state.conversation_type == SINGLE and state.peer_user_id:
        push.publish([state.peer_user_id], "recv_c2c_read_receipt", [{
            "conversation_id": state.conversation_id, "user_id": state.user_id, "has_read_seq": has_read_seq,
            "read_time": ts(utcnow())}])


def mark_read(user_id: str, conversation_id: str) -> dict:
    """Everything up to the newest seq is read; my terminals and (one-to-one) the peer hear of it."""
    state = state_for_update(user_id, conversation_id)
    conv_max = db.session.scalar(select(Conversation.max_seq).where(
        Conversation.conversation_id == conversation_id).with_for_update()) or 0
    top = _effective_max(state, conv_max)
    if state.has_read_seq < top:
        before = total_unread(user_id)
        state.has_read_seq = top
        state.updated_at = utcnow()
        publish_changed(user_id, state, before)
        _read_receipt(state, top)
    result = views(user_id, [state])[0]
    db.session.commit()
    return result


def unhide(conversation_id: str, user_ids: list[str]) -> list[str]:
    """A new message shows the conversation again to those who had deleted it; returns who they were."""
    stmt = (update(ConversationState)
            .where(ConversationState.conversation_id == conversation_id, ConversationState.hidden.is_(True),
                   ConversationState.user_id.in_(user_ids))
            .values(hidden=False).returning(ConversationState.user_id)
            .execution_options(synchronize_session=False))
    return list(db.session.execute(stmt).scalars())
