"""What a user changes of a conversation for themselves: pin, notifications, draft, delete, mark read.

Each change is told to all the user's terminals (`conversation_changed` in their event log), and
reading a one-to-one conversation tells the peer too (`recv_c2c_read_receipt`).
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..models import Conversation, ConversationState, ts, utcnow
from ..models.enums import SessionType
from . import events
from .context import Context
from .conversations import effective_max, state_for_update, views


def publish_changed(ctx: Context, user_id: str, state: ConversationState, unread_changed: bool = True) -> None:
    """Tell all the user's terminals about a change to one conversation: the conversation through the
    event log, the total (when it may have changed) by unread_push after commit."""
    ctx.session.flush()
    events.publish(ctx, [user_id], "conversation_changed", views(ctx, user_id, [state]))
    if unread_changed:
        ctx.outbox.unread_changed([user_id])


def _change(
    ctx: Context,
    user_id: str,
    conversation_id: str,
    apply: Callable[[ConversationState], bool],
    unread_changed: bool = False,
) -> dict[str, Any]:
    """Apply a change to the user's state row; publish it when `apply` says it changed anything."""
    state = state_for_update(ctx, user_id, conversation_id)
    if apply(state):
        state.updated_at = utcnow()
        publish_changed(ctx, user_id, state, unread_changed)
    return views(ctx, user_id, [state])[0]


def pin_conversation(ctx: Context, user_id: str, conversation_id: str, is_pinned: bool) -> dict[str, Any]:
    """Pin or unpin the conversation at the top of the user's list."""

    def apply(s: ConversationState) -> bool:
        changed, s.is_pinned = s.is_pinned != is_pinned, is_pinned
        return changed

    return _change(ctx, user_id, conversation_id, apply)


def set_recv_message_opt(ctx: Context, user_id: str, conversation_id: str, opt: int) -> dict[str, Any]:
    """The user's notification setting (a RecvMsgOpt) for the conversation."""

    def apply(s: ConversationState) -> bool:
        changed, s.recv_msg_opt = s.recv_msg_opt != opt, opt
        return changed

    return _change(ctx, user_id, conversation_id, apply, unread_changed=True)


def set_draft(ctx: Context, user_id: str, conversation_id: str, text: str) -> dict[str, Any]:
    """Keep a draft text on the conversation ("" clears it and its time)."""

    def apply(s: ConversationState) -> bool:
        if s.draft_text == text:
            return False
        s.draft_text, s.draft_time = text, utcnow() if text else None
        return True

    return _change(ctx, user_id, conversation_id, apply)


def delete_conversation(ctx: Context, user_id: str, conversation_id: str) -> None:
    """Hide the conversation from my list (read up to now) until a new message arrives."""

    def apply(s: ConversationState) -> bool:
        conv_max = (
            ctx.session.scalar(select(Conversation.max_seq).where(Conversation.conversation_id == conversation_id)) or 0
        )
        if s.hidden and s.has_read_seq >= effective_max(s, conv_max):
            return False
        s.hidden = True
        top = effective_max(s, conv_max)
        if s.has_read_seq < top:
            s.has_read_seq = top
            _read_receipt(ctx, s, top)
        return True

    _change(ctx, user_id, conversation_id, apply, unread_changed=True)


def _read_receipt(ctx: Context, state: ConversationState, has_read_seq: int) -> None:
    """One-to-one: the peer hears how far the user has now read (the peer's peer_has_read_seq)."""
    if state.conversation_type == SessionType.SINGLE and state.peer_user_id:
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


def mark_read(ctx: Context, user_id: str, conversation_id: str) -> dict[str, Any]:
    """Everything up to the newest seq is read; my terminals and (one-to-one) the peer hear of it."""
    state = state_for_update(ctx, user_id, conversation_id)
    conv_max = (
        ctx.session.scalar(
            select(Conversation.max_seq).where(Conversation.conversation_id == conversation_id).with_for_update()
        )
        or 0
    )
    top = effective_max(state, conv_max)
    if state.has_read_seq < top:
        state.has_read_seq = top
        state.updated_at = utcnow()
        publish_changed(ctx, user_id, state)
        _read_receipt(ctx, state, top)
    return views(ctx, user_id, [state])[0]
