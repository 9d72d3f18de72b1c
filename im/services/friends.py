"""Friend lists, friend applications and blacklists, with OpenIM's semantics.

Who hears what (event types are the FriendListener callbacks without `on_`): an application's events
reach both the applicant and the recipient; a friend-list or blacklist change reaches the user whose
list changed. `publish` delivers each to every terminal of those users, the acting one's siblings
included, and keeps it in their event logs for terminals that are offline.
"""

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Result, func, or_, select
from sqlalchemy.orm import aliased

from .. import errors
from ..models import Black, Friend, FriendApplication, HandleResult, User, ts, utcnow
from . import events, relations
from .context import Context

# ---- payloads ---------------------------------------------------------------------------------


class FriendFields(Protocol):
    """What friend_entry reads of a friend-list row (a Friend, or a row of its columns)."""

    @property
    def owner_user_id(self) -> str: ...
    @property
    def remark(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class UserFields(Protocol):
    """What friend_entry reads of the friend (a User, or a row of its columns)."""

    @property
    def user_id(self) -> str: ...
    @property
    def nickname(self) -> str: ...
    @property
    def face_url(self) -> str: ...


def friend_entry(row: FriendFields, friend: UserFields) -> dict[str, Any]:
    """A friend as its owner sees it: the friend's public info plus the owner's own remark."""
    return {
        "owner_user_id": row.owner_user_id,
        "user_id": friend.user_id,
        "nickname": friend.nickname,
        "face_url": friend.face_url,
        "remark": row.remark,
        "created_at": ts(row.created_at),
    }


def application_entry(app: FriendApplication, from_user: User, to_user: User) -> dict[str, Any]:
    return {
        "from_user_id": app.from_user_id,
        "from_nickname": from_user.nickname,
        "from_face_url": from_user.face_url,
        "to_user_id": app.to_user_id,
        "to_nickname": to_user.nickname,
        "to_face_url": to_user.face_url,
        "req_msg": app.req_msg,
        "handle_result": app.handle_result,
        "handle_msg": app.handle_msg,
        "created_at": ts(app.created_at),
        "handled_at": ts(app.handled_at),
    }


def black_entry(row: Black, blocked: User) -> dict[str, Any]:
    return {
        "owner_user_id": row.owner_user_id,
        "user_id": blocked.user_id,
        "nickname": blocked.nickname,
        "face_url": blocked.face_url,
        "created_at": ts(row.created_at),
    }


# ---- helpers ----------------------------------------------------------------------------------


def lock_users(ctx: Context, *user_ids: str) -> dict[str, User]:
    """Load the users, row-locked in id order (on PostgreSQL) so two changes cannot deadlock.

    Every write below touches both users' event logs; taking the locks up front in one order keeps
    concurrent calls on the same pair serialised. An unknown id raises UserNotFound.
    """
    ids = sorted(set(user_ids))
    found = {
        u.user_id: u
        for u in ctx.session.scalars(select(User).where(User.user_id.in_(ids)).order_by(User.user_id).with_for_update())
    }
    for user_id in user_ids:
        if user_id not in found:
            raise errors.UserNotFound(f"user not found: {user_id}")
    return found


def _other_user(ctx: Context, caller_id: str, other_id: str) -> dict[str, User]:
    if caller_id == other_id:
        raise errors.SelfOperation()
    return lock_users(ctx, caller_id, other_id)


def _application(ctx: Context, from_id: str, to_id: str) -> FriendApplication | None:
    return ctx.session.scalar(
        select(FriendApplication).where(
            FriendApplication.from_user_id == from_id, FriendApplication.to_user_id == to_id
        )
    )


def _pending_application(ctx: Context, from_id: str, to_id: str) -> FriendApplication:
    app = _application(ctx, from_id, to_id)
    if app is None:
        raise errors.ApplicationNotFound(f"no friend application from {from_id} to {to_id}")
    if app.handle_result != HandleResult.PENDING:
        raise errors.ApplicationHandled()
    return app


def _friend_count(ctx: Context, owner_id: str) -> int:
    return ctx.session.execute(
        select(func.count()).select_from(Friend).where(Friend.owner_user_id == owner_id)
    ).scalar_one()


def _check_room_for_friend(ctx: Context, owner_id: str) -> None:
    limit = ctx.settings.friend_limit
    if _friend_count(ctx, owner_id) >= limit:
        raise errors.FriendLimit(f"{owner_id} already has {limit} friends")


# Plain columns rather than entities: a list of 3000 friends loads several times faster. Each row
# has the attributes friend_entry reads from both of its arguments.
_FRIEND_COLUMNS = (Friend.owner_user_id, Friend.remark, Friend.created_at, User.user_id, User.nickname, User.face_url)


def _friend_rows(
    ctx: Context, owner_id: str, *conditions: ColumnElement[bool]
) -> Result[str, str, datetime, str, str, str]:
    stmt = (
        select(*_FRIEND_COLUMNS)
        .join(User, User.user_id == Friend.friend_user_id)
        .where(Friend.owner_user_id == owner_id, *conditions)
        .order_by(Friend.created_at, Friend.friend_user_id)
    )
    return ctx.session.execute(stmt)


# ---- friend list ------------------------------------------------------------------------------


def get_friend_list(ctx: Context, owner_id: str) -> list[dict[str, Any]]:
    """Everyone in my friend list, oldest friendship first."""
    return [friend_entry(row, row) for row in _friend_rows(ctx, owner_id)]


def get_designated_friends_info(ctx: Context, owner_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
    """Those of `user_ids` that are in my friend list, in the order asked."""
    rows = _friend_rows(ctx, owner_id, Friend.friend_user_id.in_(user_ids))
    found = {row.user_id: friend_entry(row, row) for row in rows}
    return [found[uid] for uid in dict.fromkeys(user_ids) if uid in found]


def search_friends(
    ctx: Context,
    owner_id: str,
    keyword: str,
    search_user_id: bool = True,
    search_nickname: bool = True,
    search_remark: bool = True,
) -> list[dict[str, Any]]:
    """Friends whose user_id, nickname or remark (as chosen) contains the keyword, ignoring case."""
    needle = keyword.lower()
    columns = [
        col
        for col, wanted in (
            (User.user_id, search_user_id),
            (User.nickname, search_nickname),
            (Friend.remark, search_remark),
        )
        if wanted
    ]
    if not columns:
        return []  # searching no field finds nothing (the published schema allows all three false)
    matches = or_(*(func.lower(col).contains(needle, autoescape=True) for col in columns))
    return [friend_entry(row, row) for row in _friend_rows(ctx, owner_id, matches)]


def check_friend(ctx: Context, owner_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
    """One {user_id, result} per id asked: result 1 if that user is in my friend list, else 0."""
    ids = list(dict.fromkeys(user_ids))
    mine = set(
        ctx.session.scalars(
            select(Friend.friend_user_id).where(Friend.owner_user_id == owner_id, Friend.friend_user_id.in_(ids))
        )
    )
    return [{"user_id": uid, "result": 1 if uid in mine else 0} for uid in ids]


def set_friend_remark(ctx: Context, owner_id: str, user_id: str, remark: str) -> dict[str, Any]:
    """My private remark for a friend; my terminals hear friend_info_changed."""
    users = _other_user(ctx, owner_id, user_id)
    row = ctx.session.get(Friend, (owner_id, user_id))
    if row is None:
        raise errors.NotInFriendList(f"{user_id} is not in your friend list")
    if row.remark != remark:
        row.remark = remark
        events.publish(ctx, [owner_id], "friend_info_changed", friend_entry(row, users[user_id]))
    entry = friend_entry(row, users[user_id])
    return entry


def delete_friend(ctx: Context, owner_id: str, user_id: str) -> dict[str, Any]:
    """Remove a friend from my list only; I stay in theirs."""
    users = _other_user(ctx, owner_id, user_id)
    row = ctx.session.get(Friend, (owner_id, user_id))
    if row is None:
        raise errors.NotInFriendList(f"{user_id} is not in your friend list")
    entry = friend_entry(row, users[user_id])
    ctx.session.delete(row)
    events.publish(ctx, [owner_id], "friend_deleted", entry)
    return entry


def publish_friend_info_changed(ctx: Context, user: User) -> None:
    """Tell everyone who has `user` as a friend about their new profile, each with their own remark.

    Called inside the transaction that changes the profile; the caller commits.
    """
    rows = ctx.session.scalars(
        select(Friend).where(Friend.friend_user_id == user.user_id).order_by(Friend.owner_user_id)
    )
    events.publish_each(ctx, ((row.owner_user_id, "friend_info_changed", friend_entry(row, user)) for row in rows))


def lock_user_and_friend_owners(ctx: Context, user_id: str) -> None:
    """Before a profile change: lock the user and everyone who will hear of it, in id order."""
    owners = select(Friend.owner_user_id).where(Friend.friend_user_id == user_id)
    ctx.session.execute(
        select(User.user_id)
        .where(or_(User.user_id == user_id, User.user_id.in_(owners)))
        .order_by(User.user_id)
        .with_for_update()
    ).all()


# ---- applications -----------------------------------------------------------------------------


def add_friend(ctx: Context, from_id: str, to_id: str, req_msg: str = "") -> dict[str, Any]:
    """Apply to become friends; applying again while pending (or after an answer) renews it."""
    users = _other_user(ctx, from_id, to_id)
    if relations.is_blacklisted(ctx, to_id, from_id):
        raise errors.Blocked()
    mine = ctx.session.get(Friend, (from_id, to_id)) is not None
    theirs = ctx.session.get(Friend, (to_id, from_id)) is not None
    if mine and theirs:
        raise errors.AlreadyFriends()
    if not mine:
        _check_room_for_friend(ctx, from_id)
    now = utcnow()
    app = _application(ctx, from_id, to_id)
    if app is None:
        app = FriendApplication(from_user_id=from_id, to_user_id=to_id)
        ctx.session.add(app)
    app.req_msg, app.handle_result, app.handle_msg = req_msg, HandleResult.PENDING, ""
    app.created_at, app.handled_at = now, None
    entry = application_entry(app, users[from_id], users[to_id])
    events.publish(ctx, [from_id, to_id], "friend_application_added", entry)
    return entry


def accept_friend_application(ctx: Context, to_id: str, from_id: str, handle_msg: str = "") -> dict[str, Any]:
    """Accept: each joins the other's list where missing; a pending reverse application is settled too."""
    users = _other_user(ctx, to_id, from_id)
    app = _pending_application(ctx, from_id, to_id)
    missing = [
        (owner, other)
        for owner, other in ((to_id, from_id), (from_id, to_id))
        if ctx.session.get(Friend, (owner, other)) is None
    ]
    for owner, _ in missing:
        _check_room_for_friend(ctx, owner)
    now = utcnow()
    settled = [app]
    reverse = _application(ctx, to_id, from_id)
    if reverse is not None and reverse.handle_result == HandleResult.PENDING:
        settled.append(reverse)
    for each in settled:
        each.handle_result, each.handle_msg, each.handled_at = HandleResult.ACCEPTED, handle_msg, now
    added = [Friend(owner_user_id=owner, friend_user_id=other, remark="", created_at=now) for owner, other in missing]
    ctx.session.add_all(added)
    for each in settled:
        events.publish(
            ctx,
            [each.from_user_id, each.to_user_id],
            "friend_application_accepted",
            application_entry(each, users[each.from_user_id], users[each.to_user_id]),
        )
    for row in added:
        events.publish(ctx, [row.owner_user_id], "friend_added", friend_entry(row, users[row.friend_user_id]))
    entry = application_entry(app, users[from_id], users[to_id])
    return entry


def refuse_friend_application(ctx: Context, to_id: str, from_id: str, handle_msg: str = "") -> dict[str, Any]:
    """Refuse: the answer is recorded; the applicant may apply again later."""
    users = _other_user(ctx, to_id, from_id)
    app = _pending_application(ctx, from_id, to_id)
    app.handle_result, app.handle_msg, app.handled_at = HandleResult.REFUSED, handle_msg, utcnow()
    entry = application_entry(app, users[from_id], users[to_id])
    events.publish(ctx, [from_id, to_id], "friend_application_rejected", entry)
    return entry


def delete_friend_application(ctx: Context, from_id: str, to_id: str) -> dict[str, Any]:
    """Withdraw my own pending application."""
    users = _other_user(ctx, from_id, to_id)
    app = _pending_application(ctx, from_id, to_id)
    entry = application_entry(app, users[from_id], users[to_id])
    ctx.session.delete(app)
    events.publish(ctx, [from_id, to_id], "friend_application_deleted", entry)
    return entry


def _applications(ctx: Context, where: ColumnElement[bool]) -> list[dict[str, Any]]:
    sender, recipient = aliased(User), aliased(User)
    stmt = (
        select(FriendApplication, sender, recipient)
        .join(sender, sender.user_id == FriendApplication.from_user_id)
        .join(recipient, recipient.user_id == FriendApplication.to_user_id)
        .where(where)
        .order_by(FriendApplication.created_at.desc(), FriendApplication.id.desc())
    )
    return [application_entry(app, f, t) for app, f, t in ctx.session.execute(stmt)]


def get_recv_friend_application_list(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    """Applications sent to me, newest first, whatever their state."""
    return _applications(ctx, FriendApplication.to_user_id == user_id)


def get_send_friend_application_list(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    """Applications I sent, newest first, whatever their state."""
    return _applications(ctx, FriendApplication.from_user_id == user_id)


# ---- blacklist --------------------------------------------------------------------------------


def add_black(ctx: Context, owner_id: str, user_id: str) -> dict[str, Any]:
    """Blacklist a user: private and one-way; it refuses their applications and does not unfriend."""
    users = _other_user(ctx, owner_id, user_id)
    if ctx.session.get(Black, (owner_id, user_id)) is not None:
        raise errors.AlreadyBlacklisted()
    row = Black(owner_user_id=owner_id, block_user_id=user_id, created_at=utcnow())
    ctx.session.add(row)
    entry = black_entry(row, users[user_id])
    events.publish(ctx, [owner_id], "black_added", entry)
    return entry


def remove_black(ctx: Context, owner_id: str, user_id: str) -> dict[str, Any]:
    users = _other_user(ctx, owner_id, user_id)
    row = ctx.session.get(Black, (owner_id, user_id))
    if row is None:
        raise errors.NotBlacklisted()
    entry = black_entry(row, users[user_id])
    ctx.session.delete(row)
    events.publish(ctx, [owner_id], "black_deleted", entry)
    return entry


def get_black_list(ctx: Context, owner_id: str) -> list[dict[str, Any]]:
    """My blacklist, oldest entry first."""
    stmt = (
        select(Black, User)
        .join(User, User.user_id == Black.block_user_id)
        .where(Black.owner_user_id == owner_id)
        .order_by(Black.created_at, Black.block_user_id)
    )
    return [black_entry(row, user) for row, user in ctx.session.execute(stmt)]
