"""A group's members: joining, inviting, quitting and kicking; the member list; roles, nicknames, mutes.

Each change to members is one notice in the group's conversation, which every member reads, plus an
event for the users the change is about: a change to n members of a group of m costs O(n + m) rows.
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from .. import errors
from ..models import GroupMember, GroupRole, GroupVerification, JoinSource, utcnow
from . import events, message_send
from . import group_access as access
from . import group_applications as applications
from . import group_notices as notices
from . import group_roster as roster
from .context import Context

# ---- joining and leaving --------------------------------------------------------------------


def join_group(ctx: Context, user_id: str, group_id: str, req_msg: str = "") -> dict[str, Any]:
    """Join directly when need_verification is 2; otherwise apply to the owner and admins."""
    group = access.locked_group(ctx, group_id)
    if access.member(ctx, group_id, user_id) is not None:
        raise errors.AlreadyInGroup()
    access.check_room(ctx, group, 1)
    if group.need_verification == GroupVerification.DIRECTLY:
        roster.join(ctx, group, [user_id], JoinSource.SEARCH, "", user_id, notices.MEMBER_ENTER)
        return {"joined": True, "application": None}
    app = applications.apply(ctx, group, user_id, req_msg, JoinSource.SEARCH, "")
    return {"joined": False, "application": app.public()}


def invite_user_to_group(ctx: Context, user_id: str, group_id: str, user_ids: list[str]) -> dict[str, Any]:
    """Owners and admins add users at once; members too unless need_verification is 1."""
    group = access.locked_group(ctx, group_id)
    inviter = access.require_member(ctx, group, user_id)
    invitees = list(dict.fromkeys(user_ids))
    access.require_users(ctx, invitees)
    members = set(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id, GroupMember.user_id.in_(invitees))
        )
    )
    already = [uid for uid in invitees if uid in members]
    if already:
        raise errors.AlreadyInGroup(f"already a member: {already[0]}", data={"user_ids": already})
    access.check_room(ctx, group, len(invitees))
    if inviter.role_level >= GroupRole.ADMIN or group.need_verification != GroupVerification.ALL_NEED_APPROVAL:
        roster.join(ctx, group, invitees, JoinSource.INVITATION, user_id, user_id, notices.MEMBER_INVITED)
        return {"joined_user_ids": invitees, "applied_user_ids": []}
    events.lock_users(ctx, [*invitees, *access.manager_ids(ctx, group_id)])
    applications.apply_invited(ctx, group, invitees, user_id)
    return {"joined_user_ids": [], "applied_user_ids": invitees}


def quit_group(ctx: Context, user_id: str, group_id: str) -> None:
    """A member leaves; the owner must transfer or dismiss first."""
    group = access.locked_group(ctx, group_id)
    member = access.require_member(ctx, group, user_id)
    if member.role_level == GroupRole.OWNER:
        raise errors.OwnerCannotQuit()
    notices.announce(ctx, group, notices.MEMBER_QUIT, user_id, {"user_id": user_id, "members": access.records(member)})
    roster.remove_members(ctx, group, [member])
    access.touch(group)
    events.publish(ctx, [user_id], "joined_group_deleted", group.public())


def kick_group_member(ctx: Context, user_id: str, group_id: str, user_ids: list[str], reason: str = "") -> None:
    """Owners remove admins and members, admins remove members."""
    group = access.locked_group(ctx, group_id)
    actor = access.require_manager(ctx, group, user_id, "remove members")
    ids = list(dict.fromkeys(user_ids))
    found = {
        m.user_id: m
        for m in ctx.session.scalars(
            select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id.in_(ids))
        )
    }
    targets = []
    for uid in ids:
        if uid == user_id:
            raise errors.SelfOperation("use quit_group to leave")
        target = found.get(uid)
        if target is None:
            raise errors.NotInGroup(f"{uid} is not a member of {group_id}")
        access.require_outranks(actor, target, "remove")
        targets.append(target)
    notices.announce(
        ctx,
        group,
        notices.MEMBER_KICKED,
        user_id,
        {"user_ids": ids, "reason": reason, "members": access.records(*targets)},
    )
    roster.remove_members(ctx, group, targets)
    access.touch(group)
    events.publish(ctx, ids, "joined_group_deleted", group.public())


# ---- the members ------------------------------------------------------------------------------


def get_group_member_list(ctx: Context, user_id: str, group_id: str, offset: int, count: int) -> list[dict[str, Any]]:
    """Members, owner first, then admins, then by join time; only members may look."""
    group = access.live_group(ctx, group_id)
    access.require_member(ctx, group, user_id)
    rows = ctx.session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.role_level.desc(), GroupMember.joined_at, GroupMember.user_id)
        .offset(offset)
        .limit(count)
    )
    return [m.public() for m in rows]


def get_group_members_info(ctx: Context, user_id: str, group_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
    """The member info of those users who are members, in the order asked; only members may look."""
    group = access.live_group(ctx, group_id)
    access.require_member(ctx, group, user_id)
    found = {
        m.user_id: m
        for m in ctx.session.scalars(
            select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id.in_(user_ids))
        )
    }
    return [found[uid].public() for uid in dict.fromkeys(user_ids) if uid in found]


def set_group_member_role_level(
    ctx: Context, user_id: str, group_id: str, target_id: str, role_level: int
) -> dict[str, Any]:
    """Only the owner makes members admins (60) or admins members (20)."""
    group = access.locked_group(ctx, group_id)
    access.require_owner(ctx, group, user_id, "set roles")
    if target_id == user_id:
        raise errors.SelfOperation("the owner's role changes only by transfer")
    target = access.require_member(ctx, group, target_id)
    if target.role_level != role_level:
        target.role_level = role_level
        notices.announce(
            ctx,
            group,
            notices.MEMBER_SET_TO_ADMIN if role_level == GroupRole.ADMIN else notices.MEMBER_SET_TO_ORDINARY,
            user_id,
            {"user_id": target_id, "members": access.records(target)},
        )
    return target.public()


def set_group_member_nickname(
    ctx: Context, user_id: str, group_id: str, target_id: str, nickname: str
) -> dict[str, Any]:
    """Members set their own group nickname; owners and admins also those of lower roles."""
    group = access.locked_group(ctx, group_id)
    actor = access.require_member(ctx, group, user_id)
    target = actor if target_id == user_id else access.require_member(ctx, group, target_id)
    if target is not actor:
        access.require_manager(ctx, group, user_id, "set other members' nicknames")
        access.require_outranks(actor, target, "rename")
    # The notice of a new nickname is shown to every member: one who may not speak may not say it.
    message_send.require_may_speak(group, actor)
    if target.nickname != nickname:
        target.nickname = nickname
        notices.announce(
            ctx,
            group,
            notices.MEMBER_INFO_SET,
            user_id,
            {"user_id": target_id, "nickname": nickname, "members": access.records(target)},
        )
    return target.public()


def change_group_member_mute(
    ctx: Context, user_id: str, group_id: str, target_id: str, mute_seconds: int
) -> dict[str, Any]:
    """Owners and admins mute lower-ranked members for mute_seconds; 0 lifts the mute."""
    group = access.locked_group(ctx, group_id)
    actor = access.require_manager(ctx, group, user_id, "mute members")
    if target_id == user_id:
        raise errors.SelfOperation("cannot mute yourself")
    target = access.require_member(ctx, group, target_id)
    access.require_outranks(actor, target, "mute")
    now = utcnow()
    was_muted = target.is_muted(now)
    target.mute_end_time = now + timedelta(seconds=mute_seconds) if mute_seconds else None
    if mute_seconds or was_muted:
        notices.announce(
            ctx,
            group,
            notices.MEMBER_MUTED if mute_seconds else notices.MEMBER_CANCEL_MUTED,
            user_id,
            {"user_id": target_id, "mute_seconds": mute_seconds, "members": access.records(target)},
        )
    return target.public()
