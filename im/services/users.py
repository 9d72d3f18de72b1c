"""Public user info, own profile, online status."""

from typing import Any

from sqlalchemy import select

from .. import errors
from ..models import Connection, User, utcnow
from . import events, friends
from .context import Context


def get_users_info(ctx: Context, user_ids: list[str]) -> list[dict[str, Any]]:
    """Public info of the users that exist, in the order asked; unknown ids are left out."""
    found = {u.user_id: u for u in ctx.session.scalars(select(User).where(User.user_id.in_(user_ids)))}
    return [found[uid].public() for uid in dict.fromkeys(user_ids) if uid in found]


def require_user(ctx: Context, user_id: str) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise errors.UserNotFound(f"user not found: {user_id}")
    return user


def set_self_info(
    ctx: Context, user_id: str, nickname: str | None = None, face_url: str | None = None
) -> dict[str, Any]:
    """Change own nickname and/or face; my other terminals and whoever has me as a friend hear of it."""
    user = require_user(ctx, user_id)
    changes = {}
    if nickname is not None and nickname != user.nickname:
        changes["nickname"] = nickname
    if face_url is not None and face_url != user.face_url:
        changes["face_url"] = face_url
    if changes:
        friends.lock_user_and_friend_owners(ctx, user_id)
        for field, value in changes.items():
            setattr(user, field, value)
        user.updated_at = utcnow()
        friends.publish_friend_info_changed(ctx, user)
        # OpenIM's OnSelfInfoUpdated: through my own event log, so an offline terminal catches up too.
        events.publish(ctx, [user_id], "self_info_updated", user.public())
    return user.public()


def get_users_online_status(ctx: Context, user_ids: list[str]) -> list[dict[str, Any]]:
    """Online if the user has at least one connected socket on any process."""
    rows = ctx.session.execute(
        select(Connection.user_id, Connection.platform_id).where(Connection.user_id.in_(user_ids))
    ).all()
    platforms: dict[str, set[int]] = {}
    for uid, pid in rows:
        platforms.setdefault(uid, set()).add(pid)
    return [
        {
            "user_id": uid,
            "status": "online" if uid in platforms else "offline",
            "platform_ids": sorted(platforms.get(uid, ())),
        }
        for uid in dict.fromkeys(user_ids)
    ]
