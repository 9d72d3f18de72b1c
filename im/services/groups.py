"""Groups themselves: creating, their info, muting the whole group, transferring and dismissing.

Every change is one transaction: the group rows, one notification message in the group's conversation
(so every terminal catches up through seq sync) and events in the logs of the users the change is
about (delivered after commit). Members are in im.services.group_members, applications in
im.services.group_applications; the lookups and permission checks they share in group_access.
"""

import uuid
from typing import Any

from sqlalchemy import select

from .. import errors
from ..models import (
    Group,
    GroupMember,
    GroupRole,
    GroupStatus,
    GroupVerification,
    JoinSource,
    utcnow,
)
from . import events
from . import group_access as access
from . import group_notices as notices
from . import group_roster as roster
from .context import Context

INFO_FIELDS = ("group_name", "face_url", "introduction", "notification", "need_verification")


def create_group(
    ctx: Context,
    owner_id: str,
    group_name: str,
    member_user_ids: list[str],
    admin_user_ids: list[str],
    face_url: str = "",
    introduction: str = "",
    notification: str = "",
    need_verification: int = GroupVerification.APPLY_NEEDS_APPROVAL,
) -> dict[str, Any]:
    """Create a group owned by the caller, with members and admins joining at once."""
    admins = [uid for uid in dict.fromkeys(admin_user_ids) if uid != owner_id]
    members = [uid for uid in dict.fromkeys(member_user_ids) if uid != owner_id and uid not in admins]
    access.require_users(ctx, [*admins, *members])
    limit = ctx.settings.group_max_members
    if 1 + len(admins) + len(members) > limit:
        raise errors.GroupFull(f"group is limited to {limit} members", data={"max_members": limit})
    now = utcnow()
    group = Group(
        group_id=uuid.uuid4().hex[:16],
        group_name=group_name,
        face_url=face_url,
        introduction=introduction,
        notification=notification,
        need_verification=need_verification,
        status=GroupStatus.NORMAL,
        owner_user_id=owner_id,
        creator_user_id=owner_id,
        member_count=0,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(group)
    ctx.session.flush()
    roles = {
        owner_id: GroupRole.OWNER,
        **dict.fromkeys(admins, GroupRole.ADMIN),
        **dict.fromkeys(members, GroupRole.MEMBER),
    }
    roster.add_members(ctx, group, roles, JoinSource.INVITATION, owner_id)
    notices.announce(
        ctx,
        group,
        notices.GROUP_CREATED,
        owner_id,
        {"owner_user_id": owner_id, "admin_user_ids": admins, "member_user_ids": members},
    )
    info = group.public()
    events.publish(ctx, [owner_id, *admins, *members], "joined_group_added", info)
    return info


def get_joined_group_list(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    """The groups the user is a member of, in the order they joined them."""
    groups = ctx.session.scalars(
        select(Group)
        .join(GroupMember, GroupMember.group_id == Group.group_id)
        .where(GroupMember.user_id == user_id)
        .order_by(GroupMember.joined_at, Group.group_id)
    )
    return [g.public() for g in groups]


def get_groups_info(ctx: Context, group_ids: list[str]) -> list[dict[str, Any]]:
    """Public info of the groups that exist (dismissed ones with status 2); unknown ids left out."""
    found = {g.group_id: g for g in ctx.session.scalars(select(Group).where(Group.group_id.in_(group_ids)))}
    return [found[gid].public() for gid in dict.fromkeys(group_ids) if gid in found]


def set_group_info(ctx: Context, user_id: str, group_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Owner or admin changes name, face, introduction, notification or need_verification."""
    group = access.locked_group(ctx, group_id)
    access.require_manager(ctx, group, user_id, "change the group info")
    changed = {k: v for k, v in fields.items() if k in INFO_FIELDS and getattr(group, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(group, key, value)
        access.touch(group)
        notices.announce(ctx, group, notices.GROUP_INFO_SET, user_id, {"changed": changed})
        events.publish(ctx, access.member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()


def dismiss_group(ctx: Context, user_id: str, group_id: str) -> None:
    """Only the owner dismisses; members keep the history up to the dismissal notice.

    Pending applications are deleted (group_application_deleted to each applicant, one
    group_applications_deleted per 2,000 of them to the managers),
    so none stays pending forever; handling one afterwards answers GroupDismissed like any change.
    """
    group = access.locked_group(ctx, group_id)
    access.require_owner(ctx, group, user_id, "dismiss the group")
    notices.announce(ctx, group, notices.GROUP_DISMISSED, user_id, {})
    members = list(ctx.session.scalars(select(GroupMember).where(GroupMember.group_id == group_id)))
    events.lock_users(
        ctx, [*(m.user_id for m in members), *(a.from_user_id for a in roster.pending_applications(ctx, group))]
    )
    # Nobody can handle them any more: they are deleted, while the managers are still members to hear it.
    roster.drop_pending_applications(ctx, group)
    roster.remove_members(ctx, group, members)
    group.status = GroupStatus.DISMISSED
    access.touch(group)
    events.publish(ctx, [m.user_id for m in members], "group_dismissed", group.public())


def change_group_mute(ctx: Context, user_id: str, group_id: str, is_mute: bool) -> dict[str, Any]:
    """Owner or admin mutes the whole group: then only the owner and admins speak."""
    group = access.locked_group(ctx, group_id)
    access.require_manager(ctx, group, user_id, "mute the group")
    status = GroupStatus.MUTED if is_mute else GroupStatus.NORMAL
    if group.status != status:
        group.status = status
        access.touch(group)
        notices.announce(ctx, group, notices.GROUP_MUTED if is_mute else notices.GROUP_CANCEL_MUTED, user_id, {})
        events.publish(ctx, access.member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()


def transfer_group_owner(ctx: Context, user_id: str, group_id: str, new_owner_id: str) -> dict[str, Any]:
    """Only the owner hands the group over; they become an ordinary member."""
    group = access.locked_group(ctx, group_id)
    old = access.require_owner(ctx, group, user_id, "transfer the group")
    if new_owner_id == user_id:
        raise errors.SelfOperation("you already own the group")
    new = access.require_member(ctx, group, new_owner_id)
    old.role_level, new.role_level = GroupRole.MEMBER, GroupRole.OWNER
    group.owner_user_id = new_owner_id
    access.touch(group)
    notices.announce(
        ctx,
        group,
        notices.GROUP_OWNER_TRANSFERRED,
        user_id,
        {"old_owner_user_id": user_id, "new_owner_user_id": new_owner_id, "members": access.records(old, new)},
    )
    events.publish(ctx, access.member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()
