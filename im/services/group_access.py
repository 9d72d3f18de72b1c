"""Finding a group and its members, and the permission checks every group change starts with."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from .. import errors
from ..models import Group, GroupMember, GroupRole, GroupStatus, User, utcnow
from .context import Context


def locked_group(ctx: Context, group_id: str) -> Group:
    """The live group, write-locked first so that concurrent changes to it run one after another.

    The no-op UPDATE is a row lock on PostgreSQL and takes SQLite's write lock before anything is
    read, so the checks that follow see the data they act on.
    """
    ctx.session.execute(
        update(Group)
        .where(Group.group_id == group_id)
        .values(member_count=Group.member_count)
        .execution_options(synchronize_session=False)
    )
    return live_group(ctx, group_id, populate_existing=True)


def live_group(ctx: Context, group_id: str, *, populate_existing: bool = False) -> Group:
    """The group, unless it does not exist (GroupNotFound) or is dismissed (GroupDismissed)."""
    group = ctx.session.get(Group, group_id, populate_existing=populate_existing)
    if group is None:
        raise errors.GroupNotFound(f"group not found: {group_id}")
    if group.status == GroupStatus.DISMISSED:
        raise errors.GroupDismissed()
    return group


def member(ctx: Context, group_id: str, user_id: str) -> GroupMember | None:
    """The user's membership of the group, or None."""
    return ctx.session.get(GroupMember, (group_id, user_id))


def require_member(ctx: Context, group: Group, user_id: str) -> GroupMember:
    """The user's membership of the group; NotInGroup if they are not a member."""
    found = member(ctx, group.group_id, user_id)
    if found is None:
        raise errors.NotInGroup(f"{user_id} is not a member of {group.group_id}")
    return found


def require_manager(ctx: Context, group: Group, user_id: str, what: str) -> GroupMember:
    """The membership of an owner or admin; NoPermission for a plain member."""
    found = require_member(ctx, group, user_id)
    if found.role_level < GroupRole.ADMIN:
        raise errors.NoPermission(f"only the owner and admins may {what}")
    return found


def require_owner(ctx: Context, group: Group, user_id: str, what: str) -> GroupMember:
    """The owner's membership; NoPermission for anyone else."""
    found = require_member(ctx, group, user_id)
    if found.role_level != GroupRole.OWNER:
        raise errors.NoPermission(f"only the owner may {what}")
    return found


def require_outranks(actor: GroupMember, target: GroupMember, what: str) -> None:
    """Owners act on admins and members, admins on members only; nobody on their own rank."""
    if target.role_level >= actor.role_level:
        raise errors.NoPermission(f"cannot {what} a member of equal or higher role")


def require_users(ctx: Context, user_ids: Sequence[str]) -> None:
    """UserNotFound, listing them all, unless every user exists."""
    found = set(ctx.session.scalars(select(User.user_id).where(User.user_id.in_(list(user_ids)))))
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise errors.UserNotFound(f"user not found: {missing[0]}", data={"user_ids": missing})


def member_ids(ctx: Context, group_id: str) -> list[str]:
    """The ids of the group's members, in id order."""
    return list(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id).order_by(GroupMember.user_id)
        )
    )


def manager_ids(ctx: Context, group_id: str) -> list[str]:
    """The ids of the group's owner and admins."""
    return list(
        ctx.session.scalars(
            select(GroupMember.user_id).where(
                GroupMember.group_id == group_id, GroupMember.role_level >= GroupRole.ADMIN
            )
        )
    )


def check_room(ctx: Context, group: Group, joining: int) -> None:
    """GroupFull unless `joining` more members fit in the group."""
    limit = ctx.settings.group_max_members
    if group.member_count + joining > limit:
        raise errors.GroupFull(f"group is limited to {limit} members", data={"max_members": limit})


def touch(group: Group) -> None:
    """Mark the group as changed now."""
    group.updated_at = utcnow()


def records(*members: GroupMember) -> list[dict[str, Any]]:
    """The member_info records a notice carries: the members' SDKs fire their listener callbacks from them."""
    return [m.public() for m in members]
