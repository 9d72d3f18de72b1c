"""Who is in a group, changed inside the caller's transaction: read windows, member rows, kept mutes.

Joining opens a member's read window of the group conversation at the notice of their joining;
leaving closes it after the notice of their leaving. Either way the cost is a few statements
whatever the number of users, and applications made moot by it are dropped here too.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..models import (
    Conversation,
    ConversationState,
    Group,
    GroupApplication,
    GroupLeftMute,
    GroupMember,
    GroupRole,
    HandleResult,
    RecvMsgOpt,
    SessionType,
    utcnow,
)
from . import conversations, events
from . import group_access as access
from . import group_notices as notices
from .context import Context

# The most applications one group_applications_deleted event lists: as many as one call may name.
APPLICATIONS_PER_EVENT = 2000


def open_windows(ctx: Context, group: Group, user_ids: list[str]) -> int:
    """Open the read windows of joining users at the next seq (the notice of their joining); returns it.

    A few statements whatever the number of users; the conversation row is locked so that no
    message slips in between the window and the notice.
    """
    cid = group.conversation_id
    conversations.ensure_conversation(ctx, cid, SessionType.GROUP, group.group_id)
    max_seq = ctx.session.execute(
        select(Conversation.max_seq).where(Conversation.conversation_id == cid).with_for_update(key_share=True)
    ).scalar_one()
    now = utcnow()
    rejoining = list(
        ctx.session.scalars(
            select(ConversationState.user_id).where(
                ConversationState.conversation_id == cid, ConversationState.user_id.in_(user_ids)
            )
        )
    )
    if rejoining:
        ctx.session.execute(
            update(ConversationState)
            .where(ConversationState.conversation_id == cid, ConversationState.user_id.in_(rejoining))
            .values(min_seq=max_seq + 1, has_read_seq=max_seq, max_readable_seq=None, hidden=False, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
    known = set(rejoining)
    fresh = [uid for uid in user_ids if uid not in known]
    if not fresh:
        return max_seq + 1
    ctx.session.execute(
        insert(ConversationState),
        [
            {
                "user_id": uid,
                "conversation_id": cid,
                "conversation_type": SessionType.GROUP,
                "peer_user_id": None,
                "group_id": group.group_id,
                "has_read_seq": max_seq,
                "min_seq": max_seq + 1,
                "max_readable_seq": None,
                "is_pinned": False,
                "recv_msg_opt": RecvMsgOpt.NORMAL,
                "draft_text": "",
                "draft_time": None,
                "hidden": False,
                "updated_at": now,
            }
            for uid in fresh
        ],
    )
    return max_seq + 1


def close_windows(ctx: Context, group: Group, user_ids: list[str]) -> None:
    """Leaving users keep reading up to now (after the notice of their leaving), nothing newer."""
    cid = group.conversation_id
    newest = select(Conversation.max_seq).where(Conversation.conversation_id == cid).scalar_subquery()
    ctx.session.execute(
        update(ConversationState)
        .where(
            ConversationState.conversation_id == cid,
            ConversationState.user_id.in_(user_ids),
            ConversationState.max_readable_seq.is_(None),
        )
        .values(max_readable_seq=newest, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def add_members(
    ctx: Context, group: Group, roles: Mapping[str, int], join_source: int, inviter: str
) -> list[GroupMember]:
    """Make users members (user_id -> role_level), to be announced by the very next notice.

    Their join_seq is that notice's seq. A mute still running from when one of them left applies again.
    """
    join_seq = open_windows(ctx, group, list(roles))
    now = utcnow()
    mutes = take_left_mutes(ctx, group, list(roles), now)
    members = [
        GroupMember(
            group_id=group.group_id,
            user_id=uid,
            role_level=role,
            join_source=join_source,
            inviter_user_id=inviter if role != GroupRole.OWNER else "",
            join_seq=join_seq,
            mute_end_time=mutes.get(uid),
            joined_at=now,
        )
        for uid, role in roles.items()
    ]
    ctx.session.add_all(members)
    group.member_count += len(members)
    return members


def take_left_mutes(ctx: Context, group: Group, user_ids: list[str], now: datetime) -> dict[str, datetime]:
    """The mutes that rejoining users left with and that still run (user_id -> end); all are consumed."""
    rows = list(
        ctx.session.scalars(
            select(GroupLeftMute).where(GroupLeftMute.group_id == group.group_id, GroupLeftMute.user_id.in_(user_ids))
        )
    )
    for row in rows:
        ctx.session.delete(row)
    return {r.user_id: r.mute_end_time for r in rows if r.mute_end_time > now}


def remove_members(ctx: Context, group: Group, members: list[GroupMember]) -> None:
    """Members leave after the notice of it: they keep what they could read, and see nothing newer.

    A running mute is kept beside the group, so that leaving and coming back does not lift it.
    """
    close_windows(ctx, group, [m.user_id for m in members])
    now = utcnow()
    muted = [m for m in members if m.is_muted(now)]
    if muted:
        gone = {m.user_id for m in muted}
        stale = ctx.session.scalars(
            select(GroupLeftMute).where(GroupLeftMute.group_id == group.group_id, GroupLeftMute.user_id.in_(gone))
        )
        for row in stale:
            ctx.session.delete(row)
        ctx.session.flush()
        ctx.session.add_all(
            [GroupLeftMute(group_id=group.group_id, user_id=m.user_id, mute_end_time=m.mute_end_time) for m in muted]
        )
    for member in members:
        ctx.session.delete(member)
    group.member_count -= len(members)


def pending_applications(ctx: Context, group: Group, user_ids: list[str] | None = None) -> list[GroupApplication]:
    """The group's pending applications (of these applicants only, when given)."""
    stmt = select(GroupApplication).where(
        GroupApplication.group_id == group.group_id, GroupApplication.handle_result == HandleResult.PENDING
    )
    if user_ids is not None:
        stmt = stmt.where(GroupApplication.from_user_id.in_(list(user_ids)))
    return list(ctx.session.scalars(stmt.order_by(GroupApplication.id)))


def publish_to_managers(ctx: Context, group: Group, type_: str, batches: Iterable[dict[str, Any]]) -> None:
    """One event per batch to each manager: a call about n applications costs n + managers rows, not n * managers."""
    managers = access.manager_ids(ctx, group.group_id)
    for data in batches:
        events.publish(ctx, managers, type_, data)


def drop_pending_applications(ctx: Context, group: Group, user_ids: list[str] | None = None) -> None:
    """Applications made moot: their applicants joined another way (user_ids), or the group is gone (all).

    Each applicant hears of their own (group_application_deleted); the managers hear of them all in
    group_applications_deleted events of at most APPLICATIONS_PER_EVENT applications each.
    """
    apps = pending_applications(ctx, group, user_ids)
    if not apps:
        return
    records = [a.public() for a in apps]
    events.publish_each(ctx, ((r["from_user_id"], "group_application_deleted", r) for r in records))
    publish_to_managers(
        ctx,
        group,
        "group_applications_deleted",
        (
            {"group_id": group.group_id, "applications": records[i : i + APPLICATIONS_PER_EVENT]}
            for i in range(0, len(records), APPLICATIONS_PER_EVENT)
        ),
    )
    stmt = delete(GroupApplication).where(
        GroupApplication.group_id == group.group_id, GroupApplication.handle_result == HandleResult.PENDING
    )
    if user_ids is not None:
        stmt = stmt.where(GroupApplication.from_user_id.in_(list(user_ids)))
    ctx.session.execute(stmt.execution_options(synchronize_session=False))
    for app in apps:
        ctx.session.expunge(app)


def join(
    ctx: Context, group: Group, user_ids: list[str], join_source: int, inviter: str, op_user_id: str, content_type: int
) -> list[GroupMember]:
    """Add users as members with one notice, which tells every member who joined.

    Only the newcomers get an event each (joined_group_added): O(newcomers) rows, however big the group.
    """
    access.check_room(ctx, group, len(user_ids))
    members = add_members(ctx, group, dict.fromkeys(user_ids, GroupRole.MEMBER), join_source, inviter)
    access.touch(group)
    notices.announce(
        ctx,
        group,
        content_type,
        op_user_id,
        {"user_ids": user_ids, "inviter_user_id": inviter, "members": access.records(*members)},
    )
    events.lock_users(ctx, [*user_ids, *access.manager_ids(ctx, group.group_id)])
    drop_pending_applications(ctx, group, user_ids)
    events.publish(ctx, user_ids, "joined_group_added", group.public())
    return members
