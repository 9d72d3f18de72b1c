"""A message after it is sent: revoked by its sender, deleted for one user; and typing, never stored.

Sending is im.services.message_send (content shapes: message_content, seqs and rows: message_store);
sync by seq and history are im.services.message_sync.
"""

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from .. import errors
from ..models import SINGLE, ConversationState, Message, MessageDeletion, User, ts, utcnow
from ..models.message import STATUS_OK, STATUS_REVOKED
from . import conversations, events, relations, uploads
from .context import Context
from .message_content import CONTENT_TYPES, TYPING
from .message_store import NEW_MESSAGE_EVENT
from .message_sync import not_deleted


def _find(ctx: Context, user_id: str, conversation_id: str, client_msg_id: str | None, seq: int | None) -> Message:
    """The message with this seq and/or client_msg_id (both must match when both are given)."""
    r = conversations.readable(ctx, user_id, conversation_id)
    if seq is None and client_msg_id is None:
        raise errors.MessageNotFound("give the message's seq or client_msg_id")
    conds = [Message.conversation_id == conversation_id, not_deleted(user_id)]
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
) -> dict[str, Any]:
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
    if state is not None and preview is not None and preview["seq"] == msg.seq:
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
