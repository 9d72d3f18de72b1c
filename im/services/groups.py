"""Groups: membership, roles, applications and muting, with OpenIM's rules and numbers.

Every change is one transaction: the group rows, one notification message in the group's conversation
(so every terminal catches up through seq sync) and events in the logs of the users the change is
about (delivered after commit). What every member must learn of a change to members travels in the
notice, which is written once whatever the group's size, never as one event per member: a change
to n members of a group of m costs O(n + m) rows, not O(n * m).
"""

import uuid
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from .. import errors
from ..models import (
    GROUP,
    Conversation,
    ConversationState,
    Group,
    GroupApplication,
    GroupLeftMute,
    GroupMember,
    User,
    utcnow,
)
from ..models.group import (
    JOIN_BY_INVITATION,
    JOIN_BY_SEARCH,
    ROLE_ADMIN,
    ROLE_MEMBER,
    ROLE_OWNER,
    STATUS_DISMISSED,
    STATUS_MUTED,
    STATUS_NORMAL,
)
from . import conversations, events
from . import group_notices as notices
from .context import Context
from .message_send import require_may_speak as _require_may_speak

PENDING, ACCEPTED, REFUSED = 0, 1, -1
INFO_FIELDS = ("group_name", "face_url", "introduction", "notification", "need_verification")
# The most applications one group_applications_deleted event lists: as many as one call may name.
APPLICATIONS_PER_EVENT = 2000


# ---- lookups and permission checks ------------------------------------------------------------


def _locked_group(ctx: Context, group_id: str) -> Group:
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
    return _live_group(ctx, group_id, populate_existing=True)


def _live_group(ctx: Context, group_id: str, **options) -> Group:
    group = ctx.session.get(Group, group_id, **options)
    if group is None:
        raise errors.GroupNotFound(f"group not found: {group_id}")
    if group.status == STATUS_DISMISSED:
        raise errors.GroupDismissed()
    return group


def _member(ctx: Context, group_id: str, user_id: str) -> GroupMember | None:
    return ctx.session.get(GroupMember, (group_id, user_id))


def _require_member(ctx: Context, group: Group, user_id: str) -> GroupMember:
    member = _member(ctx, group.group_id, user_id)
    if member is None:
        raise errors.NotInGroup(f"{user_id} is not a member of {group.group_id}")
    return member


def _require_manager(ctx: Context, group: Group, user_id: str, what: str) -> GroupMember:
    member = _require_member(ctx, group, user_id)
    if member.role_level < ROLE_ADMIN:
        raise errors.NoPermission(f"only the owner and admins may {what}")
    return member


def _require_owner(ctx: Context, group: Group, user_id: str, what: str) -> GroupMember:
    member = _require_member(ctx, group, user_id)
    if member.role_level != ROLE_OWNER:
        raise errors.NoPermission(f"only the owner may {what}")
    return member


def _require_outranks(actor: GroupMember, target: GroupMember, what: str) -> None:
    """Owners act on admins and members, admins on members only; nobody on their own rank."""
    if target.role_level >= actor.role_level:
        raise errors.NoPermission(f"cannot {what} a member of equal or higher role")


def _require_users(ctx: Context, user_ids) -> None:
    found = set(ctx.session.scalars(select(User.user_id).where(User.user_id.in_(list(user_ids)))))
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise errors.UserNotFound(f"user not found: {missing[0]}", data={"user_ids": missing})


def _member_ids(ctx: Context, group_id: str) -> list[str]:
    return list(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id).order_by(GroupMember.user_id)
        )
    )


def _manager_ids(ctx: Context, group_id: str) -> list[str]:
    return list(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id, GroupMember.role_level >= ROLE_ADMIN)
        )
    )


def _check_room(ctx: Context, group: Group, joining: int) -> None:
    limit = ctx.settings.group_max_members
    if group.member_count + joining > limit:
        raise errors.GroupFull(f"group is limited to {limit} members", data={"max_members": limit})


# ---- membership changes (inside the caller's transaction) -------------------------------------


def _open_windows(ctx: Context, group: Group, user_ids: list[str]) -> int:
    """Open the read windows of joining users at the next seq (the notice of their joining); returns it.

    A few statements whatever the number of users; the conversation row is locked so that no
    message slips in between the window and the notice.
    """
    cid = group.conversation_id
    conversations.ensure_conversation(ctx, cid, GROUP, group.group_id)
    max_seq = ctx.session.scalar(
        select(Conversation.max_seq).where(Conversation.conversation_id == cid).with_for_update(key_share=True)
    )
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
                "conversation_type": GROUP,
                "peer_user_id": None,
                "group_id": group.group_id,
                "has_read_seq": max_seq,
                "min_seq": max_seq + 1,
                "max_readable_seq": None,
                "is_pinned": False,
                "recv_msg_opt": 0,
                "draft_text": "",
                "draft_time": None,
                "hidden": False,
                "updated_at": now,
            }
            for uid in fresh
        ],
    )
    return max_seq + 1


def _close_windows(ctx: Context, group: Group, user_ids: list[str]) -> None:
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


def _add_members(
    ctx: Context, group: Group, roles: dict[str, int], join_source: int, inviter: str
) -> list[GroupMember]:
    """Make users members (user_id -> role_level), to be announced by the very next notice.

    Their join_seq is that notice's seq. A mute still running from when one of them left applies again.
    """
    join_seq = _open_windows(ctx, group, list(roles))
    now = utcnow()
    mutes = _take_left_mutes(ctx, group, list(roles), now)
    members = [
        GroupMember(
            group_id=group.group_id,
            user_id=uid,
            role_level=role,
            join_source=join_source,
            inviter_user_id=inviter if role != ROLE_OWNER else "",
            join_seq=join_seq,
            mute_end_time=mutes.get(uid),
            joined_at=now,
        )
        for uid, role in roles.items()
    ]
    ctx.session.add_all(members)
    group.member_count += len(members)
    return members


def _take_left_mutes(ctx: Context, group: Group, user_ids: list[str], now) -> dict:
    """The mutes that rejoining users left with and that still run (user_id -> end); all are consumed."""
    rows = list(
        ctx.session.scalars(
            select(GroupLeftMute).where(GroupLeftMute.group_id == group.group_id, GroupLeftMute.user_id.in_(user_ids))
        )
    )
    for row in rows:
        ctx.session.delete(row)
    return {r.user_id: r.mute_end_time for r in rows if r.mute_end_time > now}


def _remove_members(ctx: Context, group: Group, members: list[GroupMember]) -> None:
    """Members leave after the notice of it: they keep what they could read, and see nothing newer.

    A running mute is kept beside the group, so that leaving and coming back does not lift it.
    """
    _close_windows(ctx, group, [m.user_id for m in members])
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


def _pending_applications(ctx: Context, group: Group, user_ids=None) -> list[GroupApplication]:
    """The group's pending applications (of these applicants only, when given)."""
    stmt = select(GroupApplication).where(
        GroupApplication.group_id == group.group_id, GroupApplication.handle_result == PENDING
    )
    if user_ids is not None:
        stmt = stmt.where(GroupApplication.from_user_id.in_(list(user_ids)))
    return list(ctx.session.scalars(stmt.order_by(GroupApplication.id)))


def _publish_to_managers(ctx: Context, group: Group, type_: str, batches) -> None:
    """One event per batch to each manager: a call about n applications costs n + managers rows, not n * managers."""
    managers = _manager_ids(ctx, group.group_id)
    for data in batches:
        events.publish(ctx, managers, type_, data)


def _drop_pending_applications(ctx: Context, group: Group, user_ids=None) -> None:
    """Applications made moot: their applicants joined another way (user_ids), or the group is gone (all).

    Each applicant hears of their own (group_application_deleted); the managers hear of them all in
    group_applications_deleted events of at most APPLICATIONS_PER_EVENT applications each.
    """
    apps = _pending_applications(ctx, group, user_ids)
    if not apps:
        return
    records = [a.public() for a in apps]
    events.publish_each(ctx, ((r["from_user_id"], "group_application_deleted", r) for r in records))
    _publish_to_managers(
        ctx,
        group,
        "group_applications_deleted",
        (
            {"group_id": group.group_id, "applications": records[i : i + APPLICATIONS_PER_EVENT]}
            for i in range(0, len(records), APPLICATIONS_PER_EVENT)
        ),
    )
    stmt = delete(GroupApplication).where(
        GroupApplication.group_id == group.group_id, GroupApplication.handle_result == PENDING
    )
    if user_ids is not None:
        stmt = stmt.where(GroupApplication.from_user_id.in_(list(user_ids)))
    ctx.session.execute(stmt.execution_options(synchronize_session=False))
    for app in apps:
        ctx.session.expunge(app)


def _touch(group: Group) -> None:
    group.updated_at = utcnow()


def _records(*members: GroupMember) -> list[dict]:
    """The member_info records a notice carries: the members' SDKs fire their listener callbacks from them."""
    return [m.public() for m in members]


def _join(
    ctx: Context, group: Group, user_ids: list[str], join_source: int, inviter: str, op_user_id: str, content_type: int
) -> list[GroupMember]:
    """Add users as members with one notice, which tells every member who joined.

    Only the newcomers get an event each (joined_group_added): O(newcomers) rows, however big the group.
    """
    _check_room(ctx, group, len(user_ids))
    members = _add_members(ctx, group, dict.fromkeys(user_ids, ROLE_MEMBER), join_source, inviter)
    _touch(group)
    notices.announce(
        ctx,
        group,
        content_type,
        op_user_id,
        {"user_ids": user_ids, "inviter_user_id": inviter, "members": _records(*members)},
    )
    events.lock_users(ctx, [*user_ids, *_manager_ids(ctx, group.group_id)])
    _drop_pending_applications(ctx, group, user_ids)
    events.publish(ctx, user_ids, "joined_group_added", group.public())
    return members


# ---- groups --------------------------------------------------------------------------------


def create_group(
    ctx: Context,
    owner_id: str,
    group_name: str,
    member_user_ids: list[str],
    admin_user_ids: list[str],
    face_url: str = "",
    introduction: str = "",
    notification: str = "",
    need_verification: int = 0,
) -> dict:
    """Create a group owned by the caller, with members and admins joining at once."""
    admins = [uid for uid in dict.fromkeys(admin_user_ids) if uid != owner_id]
    members = [uid for uid in dict.fromkeys(member_user_ids) if uid != owner_id and uid not in admins]
    _require_users(ctx, [*admins, *members])
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
        status=STATUS_NORMAL,
        owner_user_id=owner_id,
        creator_user_id=owner_id,
        member_count=0,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(group)
    ctx.session.flush()
    roles = {owner_id: ROLE_OWNER, **dict.fromkeys(admins, ROLE_ADMIN), **dict.fromkeys(members, ROLE_MEMBER)}
    _add_members(ctx, group, roles, JOIN_BY_INVITATION, owner_id)
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


def get_joined_group_list(ctx: Context, user_id: str) -> list[dict]:
    groups = ctx.session.scalars(
        select(Group)
        .join(GroupMember, GroupMember.group_id == Group.group_id)
        .where(GroupMember.user_id == user_id)
        .order_by(GroupMember.joined_at, Group.group_id)
    )
    return [g.public() for g in groups]


def get_groups_info(ctx: Context, group_ids: list[str]) -> list[dict]:
    """Public info of the groups that exist (dismissed ones with status 2); unknown ids left out."""
    found = {g.group_id: g for g in ctx.session.scalars(select(Group).where(Group.group_id.in_(group_ids)))}
    return [found[gid].public() for gid in dict.fromkeys(group_ids) if gid in found]


def set_group_info(ctx: Context, user_id: str, group_id: str, fields: dict) -> dict:
    """Owner or admin changes name, face, introduction, notification or need_verification."""
    group = _locked_group(ctx, group_id)
    _require_manager(ctx, group, user_id, "change the group info")
    changed = {k: v for k, v in fields.items() if k in INFO_FIELDS and getattr(group, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(group, key, value)
        _touch(group)
        notices.announce(ctx, group, notices.GROUP_INFO_SET, user_id, {"changed": changed})
        events.publish(ctx, _member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()


def dismiss_group(ctx: Context, user_id: str, group_id: str) -> None:
    """Only the owner dismisses; members keep the history up to the dismissal notice.

    Pending applications are deleted (group_application_deleted to each applicant, one
    group_applications_deleted per 2,000 of them to the managers),
    so none stays pending forever; handling one afterwards answers GroupDismissed like any change.
    """
    group = _locked_group(ctx, group_id)
    _require_owner(ctx, group, user_id, "dismiss the group")
    notices.announce(ctx, group, notices.GROUP_DISMISSED, user_id, {})
    members = list(ctx.session.scalars(select(GroupMember).where(GroupMember.group_id == group_id)))
    events.lock_users(
        ctx, [*(m.user_id for m in members), *(a.from_user_id for a in _pending_applications(ctx, group))]
    )
    # Nobody can handle them any more: they are deleted, while the managers are still members to hear it.
    _drop_pending_applications(ctx, group)
    _remove_members(ctx, group, members)
    group.status = STATUS_DISMISSED
    _touch(group)
    events.publish(ctx, [m.user_id for m in members], "group_dismissed", group.public())


def change_group_mute(ctx: Context, user_id: str, group_id: str, is_mute: bool) -> dict:
    """Owner or admin mutes the whole group: then only the owner and admins speak."""
    group = _locked_group(ctx, group_id)
    _require_manager(ctx, group, user_id, "mute the group")
    status = STATUS_MUTED if is_mute else STATUS_NORMAL
    if group.status != status:
        group.status = status
        _touch(group)
        notices.announce(ctx, group, notices.GROUP_MUTED if is_mute else notices.GROUP_CANCEL_MUTED, user_id, {})
        events.publish(ctx, _member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()


def transfer_group_owner(ctx: Context, user_id: str, group_id: str, new_owner_id: str) -> dict:
    """Only the owner hands the group over; they become an ordinary member."""
    group = _locked_group(ctx, group_id)
    old = _require_owner(ctx, group, user_id, "transfer the group")
    if new_owner_id == user_id:
        raise errors.SelfOperation("you already own the group")
    new = _require_member(ctx, group, new_owner_id)
    old.role_level, new.role_level = ROLE_MEMBER, ROLE_OWNER
    group.owner_user_id = new_owner_id
    _touch(group)
    notices.announce(
        ctx,
        group,
        notices.GROUP_OWNER_TRANSFERRED,
        user_id,
        {"old_owner_user_id": user_id, "new_owner_user_id": new_owner_id, "members": _records(old, new)},
    )
    events.publish(ctx, _member_ids(ctx, group_id), "group_info_changed", group.public())
    return group.public()


# ---- joining and leaving --------------------------------------------------------------------


def join_group(ctx: Context, user_id: str, group_id: str, req_msg: str = "") -> dict:
    """Join directly when need_verification is 2; otherwise apply to the owner and admins."""
    group = _locked_group(ctx, group_id)
    if _member(ctx, group_id, user_id) is not None:
        raise errors.AlreadyInGroup()
    _check_room(ctx, group, 1)
    if group.need_verification == 2:
        _join(ctx, group, [user_id], JOIN_BY_SEARCH, "", user_id, notices.MEMBER_ENTER)
        return {"joined": True, "application": None}
    app = _apply(ctx, group, user_id, req_msg, JOIN_BY_SEARCH, "")
    return {"joined": False, "application": app.public()}


def _apply(ctx: Context, group: Group, user_id: str, req_msg: str, join_source: int, inviter: str) -> GroupApplication:
    app = ctx.session.scalar(
        select(GroupApplication).where(
            GroupApplication.group_id == group.group_id, GroupApplication.from_user_id == user_id
        )
    )
    if app is None:
        app = GroupApplication(group_id=group.group_id, from_user_id=user_id)
        ctx.session.add(app)
    app.req_msg, app.join_source, app.inviter_user_id = req_msg, join_source, inviter
    app.handle_result, app.handle_msg, app.handle_user_id = PENDING, "", ""
    app.created_at, app.handled_at = utcnow(), None
    ctx.session.flush()
    events.publish(ctx, [user_id, *_manager_ids(ctx, group.group_id)], "group_application_added", app.public())
    return app


def _apply_invited(ctx: Context, group: Group, invitees: list[str], inviter: str) -> None:
    """Applications for users a plain member invited: a few statements and n + managers events.

    The applications of one call differ only in their applicant, so the managers' one
    group_applications_added carries the shared application once and the list of applicants.
    """
    now = utcnow()
    fields = {
        "inviter_user_id": inviter,
        "join_source": JOIN_BY_INVITATION,
        "req_msg": "",
        "handle_result": PENDING,
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
    _publish_to_managers(ctx, group, "group_applications_added", [{"application": shared, "from_user_ids": invitees}])


def invite_user_to_group(ctx: Context, user_id: str, group_id: str, user_ids: list[str]) -> dict:
    """Owners and admins add users at once; members too unless need_verification is 1."""
    group = _locked_group(ctx, group_id)
    inviter = _require_member(ctx, group, user_id)
    invitees = list(dict.fromkeys(user_ids))
    _require_users(ctx, invitees)
    members = set(
        ctx.session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id, GroupMember.user_id.in_(invitees))
        )
    )
    already = [uid for uid in invitees if uid in members]
    if already:
        raise errors.AlreadyInGroup(f"already a member: {already[0]}", data={"user_ids": already})
    _check_room(ctx, group, len(invitees))
    if inviter.role_level >= ROLE_ADMIN or group.need_verification != 1:
        _join(ctx, group, invitees, JOIN_BY_INVITATION, user_id, user_id, notices.MEMBER_INVITED)
        return {"joined_user_ids": invitees, "applied_user_ids": []}
    events.lock_users(ctx, [*invitees, *_manager_ids(ctx, group_id)])
    _apply_invited(ctx, group, invitees, user_id)
    return {"joined_user_ids": [], "applied_user_ids": invitees}


def quit_group(ctx: Context, user_id: str, group_id: str) -> None:
    """A member leaves; the owner must transfer or dismiss first."""
    group = _locked_group(ctx, group_id)
    member = _require_member(ctx, group, user_id)
    if member.role_level == ROLE_OWNER:
        raise errors.OwnerCannotQuit()
    notices.announce(ctx, group, notices.MEMBER_QUIT, user_id, {"user_id": user_id, "members": _records(member)})
    _remove_members(ctx, group, [member])
    _touch(group)
    events.publish(ctx, [user_id], "joined_group_deleted", group.public())


def kick_group_member(ctx: Context, user_id: str, group_id: str, user_ids: list[str], reason: str = "") -> None:
    """Owners remove admins and members, admins remove members."""
    group = _locked_group(ctx, group_id)
    actor = _require_manager(ctx, group, user_id, "remove members")
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
        _require_outranks(actor, target, "remove")
        targets.append(target)
    notices.announce(
        ctx, group, notices.MEMBER_KICKED, user_id, {"user_ids": ids, "reason": reason, "members": _records(*targets)}
    )
    _remove_members(ctx, group, targets)
    _touch(group)
    events.publish(ctx, ids, "joined_group_deleted", group.public())


# ---- applications ------------------------------------------------------------------------------


def get_recv_group_application_list(ctx: Context, user_id: str) -> list[dict]:
    """Applications to the live groups the caller owns or administers, newest first."""
    managed = select(GroupMember.group_id).where(GroupMember.user_id == user_id, GroupMember.role_level >= ROLE_ADMIN)
    apps = ctx.session.scalars(
        select(GroupApplication)
        .where(GroupApplication.group_id.in_(managed))
        .order_by(GroupApplication.created_at.desc(), GroupApplication.id.desc())
    )
    return [a.public() for a in apps]


def get_send_group_application_list(ctx: Context, user_id: str) -> list[dict]:
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
    if app.handle_result != PENDING:
        raise errors.ApplicationHandled()
    return app


def _handle(app: GroupApplication, user_id: str, result: int, handle_msg: str) -> None:
    app.handle_result, app.handle_msg, app.handle_user_id = result, handle_msg, user_id
    app.handled_at = utcnow()


def accept_group_application(
    ctx: Context, user_id: str, group_id: str, from_user_id: str, handle_msg: str = ""
) -> dict:
    group = _locked_group(ctx, group_id)
    _require_manager(ctx, group, user_id, "handle applications")
    app = _pending_application(ctx, group, from_user_id)
    if _member(ctx, group_id, from_user_id) is not None:
        raise errors.AlreadyInGroup()
    _check_room(ctx, group, 1)
    _handle(app, user_id, ACCEPTED, handle_msg)
    events.lock_users(ctx, [from_user_id, *_manager_ids(ctx, group_id)])
    events.publish(ctx, [from_user_id, *_manager_ids(ctx, group_id)], "group_application_accepted", app.public())
    _join(ctx, group, [from_user_id], app.join_source, app.inviter_user_id, user_id, notices.MEMBER_ENTER)
    return app.public()


def refuse_group_application(
    ctx: Context, user_id: str, group_id: str, from_user_id: str, handle_msg: str = ""
) -> dict:
    group = _locked_group(ctx, group_id)
    _require_manager(ctx, group, user_id, "handle applications")
    app = _pending_application(ctx, group, from_user_id)
    _handle(app, user_id, REFUSED, handle_msg)
    events.publish(ctx, [from_user_id, *_manager_ids(ctx, group_id)], "group_application_rejected", app.public())
    return app.public()


# ---- members -------------------------------------------------------------------------------


def get_group_member_list(ctx: Context, user_id: str, group_id: str, offset: int, count: int) -> list[dict]:
    """Members, owner first, then admins, then by join time; only members may look."""
    group = _live_group(ctx, group_id)
    _require_member(ctx, group, user_id)
    rows = ctx.session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.role_level.desc(), GroupMember.joined_at, GroupMember.user_id)
        .offset(offset)
        .limit(count)
    )
    return [m.public() for m in rows]


def get_group_members_info(ctx: Context, user_id: str, group_id: str, user_ids: list[str]) -> list[dict]:
    group = _live_group(ctx, group_id)
    _require_member(ctx, group, user_id)
    found = {
        m.user_id: m
        for m in ctx.session.scalars(
            select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id.in_(user_ids))
        )
    }
    return [found[uid].public() for uid in dict.fromkeys(user_ids) if uid in found]


def set_group_member_role_level(ctx: Context, user_id: str, group_id: str, target_id: str, role_level: int) -> dict:
    """Only the owner makes members admins (60) or admins members (20)."""
    group = _locked_group(ctx, group_id)
    _require_owner(ctx, group, user_id, "set roles")
    if target_id == user_id:
        raise errors.SelfOperation("the owner's role changes only by transfer")
    target = _require_member(ctx, group, target_id)
    if target.role_level != role_level:
        target.role_level = role_level
        notices.announce(
            ctx,
            group,
            notices.MEMBER_SET_TO_ADMIN if role_level == ROLE_ADMIN else notices.MEMBER_SET_TO_ORDINARY,
            user_id,
            {"user_id": target_id, "members": _records(target)},
        )
    return target.public()


def set_group_member_nickname(ctx: Context, user_id: str, group_id: str, target_id: str, nickname: str) -> dict:
    """Members set their own group nickname; owners and admins also those of lower roles."""
    group = _locked_group(ctx, group_id)
    actor = _require_member(ctx, group, user_id)
    target = actor if target_id == user_id else _require_member(ctx, group, target_id)
    if target is not actor:
        _require_manager(ctx, group, user_id, "set other members' nicknames")
        _require_outranks(actor, target, "rename")
    # The notice of a new nickname is shown to every member: one who may not speak may not say it.
    _require_may_speak(group, actor)
    if target.nickname != nickname:
        target.nickname = nickname
        notices.announce(
            ctx,
            group,
            notices.MEMBER_INFO_SET,
            user_id,
            {"user_id": target_id, "nickname": nickname, "members": _records(target)},
        )
    return target.public()


def change_group_member_mute(ctx: Context, user_id: str, group_id: str, target_id: str, mute_seconds: int) -> dict:
    """Owners and admins mute lower-ranked members for mute_seconds; 0 lifts the mute."""
    group = _locked_group(ctx, group_id)
    actor = _require_manager(ctx, group, user_id, "mute members")
    if target_id == user_id:
        raise errors.SelfOperation("cannot mute yourself")
    target = _require_member(ctx, group, target_id)
    _require_outranks(actor, target, "mute")
    now = utcnow()
    was_muted = target.is_muted(now)
    target.mute_end_time = now + timedelta(seconds=mute_seconds) if mute_seconds else None
    if mute_seconds or was_muted:
        notices.announce(
            ctx,
            group,
            notices.MEMBER_MUTED if mute_seconds else notices.MEMBER_CANCEL_MUTED,
            user_id,
            {"user_id": target_id, "mute_seconds": mute_seconds, "members": _records(target)},
        )
    return target.public()
