"""Applications to join a group: applying, invitations that need approval, accepting and refusing.

One row per (group, applicant). The applicant and the group's managers hear of each change; a call
about many applications tells each manager in one batched event, never one event per application.
"""

from typing import Any

from sqlalchemy import insert, select, update

from .. import errors
from ..models import Group, GroupApplication, GroupMember, GroupRole, HandleResult, JoinSource, utcnow
from . import events
from . import group_access as access
from . import group_notices as notices
from . import group_roster as roster
from .context import Context


def apply(ctx: Context, group: Group, user_id: str, req_msg: str, join_source: int, inviter: str) -> GroupApplication:
    """Make the user's application to the group pending (again) and tell them and the managers."""
    app = ctx.session.scalar(
        select(GroupApplication).where(
            GroupApplication.group_id == group.group_id, GroupApplication.from_user_id == user_id
        )
    )
    if app is None:
        app = GroupApplication(group_id=group.group_id, from_user_id=user_id)
        ctx.session.add(app)
    app.req_msg, app.join_source, app.inviter_user_id = req_msg, join_source, inviter
    app.handle_result, app.handle_msg, app.handle_user_id = HandleResult.PENDING, "", ""
    app.created_at, app.handled_at = utcnow(), None
    ctx.session.flush()
    events.publish(ctx, [user_id, *access.manager_ids(ctx, group.group_id)], "group_application_added", app.public())
    return app


def apply_invited(ctx: Context, group: Group, invitees: list[str], inviter: str) -> None:
    """Applications for users a plain member invited: a few statements and n + managers events.

    The applications of one call differ only in their applicant, so the managers' one
    group_applications_added carries the shared application once and the list of applicants.
    """
    now = utcnow()
    fields: dict[str, Any] = {
        "inviter_user_id": inviter,
        "join_source": JoinSource.INVITATION,
        "req_msg": "",
        "handle_result": HandleResult.PENDING,
        "handle_msg": "",
        "handle_user_id": "",
        "created_at": now,
        "handled_at": None,
    }
    again = set(
        ctx.session.scalars(
            select(GroupApplication.from_user_id).where(
                GroupApplication.group_id == group.group_id, GroupApplication.from_user_id.in_(invitees)
            )
        )
    )
    if again:
        ctx.session.execute(
            update(GroupApplication)
            .where(GroupApplication.group_id == group.group_id, GroupApplication.from_user_id.in_(list(again)))
            .values(**fields)
            .execution_options(synchronize_session=False)
        )
    fresh = [uid for uid in invitees if uid not in again]
    if fresh:
        ctx.session.execute(
            insert(GroupApplication), [{"group_id": group.group_id, "from_user_id": uid, **fields} for uid in fresh]
        )
    shared = GroupApplication(group_id=group.group_id, from_user_id="", **fields).public()
    events.publish_each(ctx, ((uid, "group_application_added", {**shared, "from_user_id": uid}) for uid in invitees))
    del shared["from_user_id"]
    roster.publish_to_managers(
        ctx, group, "group_applications_added", [{"application": shared, "from_user_ids": invitees}]
    )


def get_recv_group_application_list(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    """Applications to the live groups the caller owns or administers, newest first."""
    managed = select(GroupMember.group_id).where(
        GroupMember.user_id == user_id, GroupMember.role_level >= GroupRole.ADMIN
    )
    apps = ctx.session.scalars(
        select(GroupApplication)
        .where(GroupApplication.group_id.in_(managed))
        .order_by(GroupApplication.created_at.desc(), GroupApplication.id.desc())
    )
    return [a.public() for a in apps]


def get_send_group_application_list(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    """The caller's own applications, newest first."""
    apps = ctx.session.scalars(
        select(GroupApplication)
        .where(GroupApplication.from_user_id == user_id)
        .order_by(GroupApplication.created_at.desc(), GroupApplication.id.desc())
    )
    return [a.public() for a in apps]


def _pending_application(ctx: Context, group: Group, from_user_id: str) -> GroupApplication:
    app = ctx.session.scalar(
        select(GroupApplication).where(
            GroupApplication.group_id == group.group_id, GroupApplication.from_user_id == from_user_id
        )
    )
    if app is None:
        raise errors.GroupApplicationNotFound()
    if app.handle_result != HandleResult.PENDING:
        raise errors.ApplicationHandled()
    return app


def _handle(app: GroupApplication, user_id: str, result: HandleResult, handle_msg: str) -> None:
    app.handle_result, app.handle_msg, app.handle_user_id = result, handle_msg, user_id
    app.handled_at = utcnow()


def accept_group_application(
    ctx: Context, user_id: str, group_id: str, from_user_id: str, handle_msg: str = ""
) -> dict[str, Any]:
    """An owner or admin lets the applicant in."""
    group = access.locked_group(ctx, group_id)
    access.require_manager(ctx, group, user_id, "handle applications")
    app = _pending_application(ctx, group, from_user_id)
    if access.member(ctx, group_id, from_user_id) is not None:
        raise errors.AlreadyInGroup()
    access.check_room(ctx, group, 1)
    _handle(app, user_id, HandleResult.ACCEPTED, handle_msg)
    events.lock_users(ctx, [from_user_id, *access.manager_ids(ctx, group_id)])
    events.publish(ctx, [from_user_id, *access.manager_ids(ctx, group_id)], "group_application_accepted", app.public())
    roster.join(ctx, group, [from_user_id], app.join_source, app.inviter_user_id, user_id, notices.MEMBER_ENTER)
    return app.public()


def refuse_group_application(
    ctx: Context, user_id: str, group_id: str, from_user_id: str, handle_msg: str = ""
) -> dict[str, Any]:
    """An owner or admin turns the applicant down."""
    group = access.locked_group(ctx, group_id)
    access.require_manager(ctx, group, user_id, "handle applications")
    app = _pending_application(ctx, group, from_user_id)
    _handle(app, user_id, HandleResult.REFUSED, handle_msg)
    events.publish(ctx, [from_user_id, *access.manager_ids(ctx, group_id)], "group_application_rejected", app.public())
    return app.public()
