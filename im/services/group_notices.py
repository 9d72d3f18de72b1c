"""Group changes as notification messages in the group's conversation (OpenIM's 15xx types).

A notice is stored once with the conversation's next seq, like any message, so that every terminal
of every member, online or not, learns of the change through the same seq sync as chat.
"""

import secrets
from typing import Any

from sqlalchemy import select, update

from ..models import GROUP, ConversationState, Group, Message
from ..models.enums import RecvMsgOpt
from ..models.message import STATUS_OK
from . import message_store as store
from .context import Context

GROUP_CREATED = 1501
GROUP_INFO_SET = 1502
MEMBER_QUIT = 1504
GROUP_OWNER_TRANSFERRED = 1507
MEMBER_KICKED = 1508
MEMBER_INVITED = 1509
MEMBER_ENTER = 1510
GROUP_DISMISSED = 1511
MEMBER_MUTED = 1512
MEMBER_CANCEL_MUTED = 1513
GROUP_MUTED = 1514
GROUP_CANCEL_MUTED = 1515
MEMBER_INFO_SET = 1516
MEMBER_SET_TO_ADMIN = 1517
MEMBER_SET_TO_ORDINARY = 1518


def announce(ctx: Context, group: Group, content_type: int, op_user_id: str, detail: dict[str, Any]) -> int:
    """Store a notice in the group conversation (inside the caller's transaction); returns its seq.

    It reaches everyone whose read window is open at this moment: call it after opening the window
    of members who join (they see their own joining) and before closing that of members who leave
    (they see their own leaving).
    """
    cid = group.conversation_id
    now = store.send_time()
    seq = store.allocate_seqs(ctx, {cid: 1}, {cid: (GROUP, group.group_id)}, now)[cid]
    msg = Message(
        server_msg_id=secrets.token_hex(16),
        conversation_id=cid,
        conversation_type=GROUP,
        seq=seq,
        send_id=op_user_id,
        recv_id=None,
        group_id=group.group_id,
        client_msg_id=secrets.token_hex(16),
        content_type=content_type,
        content={"op_user_id": op_user_id, "group_id": group.group_id, "detail": detail},
        search_text="",
        status=STATUS_OK,
        send_time=now,
    )
    ctx.session.add(msg)
    # The one who made the change has seen it: notices are never unread for them.
    ctx.session.execute(
        update(ConversationState)
        .where(
            ConversationState.user_id == op_user_id,
            ConversationState.conversation_id == cid,
            ConversationState.has_read_seq < seq,
        )
        .values(has_read_seq=seq)
        .execution_options(synchronize_session=False)
    )
    audience = list(
        ctx.session.scalars(
            select(ConversationState.user_id).where(
                ConversationState.conversation_id == cid,
                ConversationState.max_readable_seq.is_(None),
                ConversationState.recv_msg_opt != RecvMsgOpt.NOT_RECEIVE,
            )
        )
    )
    public = msg.public()
    ctx.outbox.unread_changed([op_user_id, *audience])
    for user_id in audience:
        ctx.outbox.to_user(user_id, store.NEW_MESSAGE_EVENT, public)
    return seq
