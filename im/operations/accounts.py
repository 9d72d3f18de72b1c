"""Accounts, login and presence operations."""

from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from ..errors import codes_table
from ..services import auth, events, users
from ..services.context import Context
from .registry import (
    Caller,
    FaceUrl,
    Nickname,
    NoParams,
    Params,
    PlatformId,
    UserId,
    UserIdList,
    by_address,
    by_param,
    by_user,
    operation,
)

# A new password (register, change, reset); one being checked may be shorter (set under older rules).
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RegisterParams(Params):
    user_id: UserId
    password: Password
    nickname: Nickname
    face_url: FaceUrl = ""


class LoginParams(Params):
    user_id: UserId
    password: GivenPassword
    platform_id: PlatformId


class UserIdsParams(Params):
    user_ids: UserIdList


class SetSelfInfoParams(Params):
    nickname: Nickname | None = None
    face_url: FaceUrl | None = None


class ForceLogoutParams(Params):
    user_id: UserId
    platform_id: PlatformId | None = None


class ChangePasswordParams(Params):
    old_password: GivenPassword
    new_password: Password

    @field_validator("new_password")
    @classmethod
    def differs_from_old(cls, value: str, info: ValidationInfo) -> str:
        # "Changed" to the same password would leave a stolen one working while the user thinks it
        # is replaced; refused as bad input, before any hashing.
        if value == info.data.get("old_password"):
            raise ValueError("must differ from old_password")
        return value


class ResetPasswordParams(Params):
    user_id: UserId
    new_password: Password


class SyncEventsParams(Params):
    after_seq: Annotated[int, Field(ge=0)] | None = None
    limit: Annotated[int, Field(ge=1, le=events.MAX_PAGE)] = events.MAX_PAGE


@operation("register", RegisterParams, auth=False, limits=[("register_address", by_address)])
def register(ctx: Context, caller: Caller | None, p: RegisterParams) -> dict[str, Any]:
    """Create an account."""
    return auth.register(ctx, p.user_id, p.password, p.nickname, p.face_url)


@operation(
    "login",
    LoginParams,
    auth=False,
    rest_only=True,
    limits=[("login_address", by_address), ("login_user", by_param("user_id"))],
)
def login(ctx: Context, caller: Caller | None, p: LoginParams) -> dict[str, Any]:
    """Sign in on a platform; returns a token and applies the multi-terminal policy."""
    return auth.login(ctx, p.user_id, p.password, p.platform_id)


@operation("logout")
def logout(ctx: Context, caller: Caller, p: NoParams) -> None:
    """Revoke the calling token and close its sockets."""
    auth.logout(ctx, caller.session_id, calling_sid=caller.sid)
    return None


@operation("change_password", ChangePasswordParams, limits=[("change_password_user", by_user)])
def change_password(ctx: Context, caller: Caller, p: ChangePasswordParams) -> dict[str, int]:
    """Change own password; every other session of the caller is revoked, this one stays."""
    return auth.change_password(ctx, caller.user_id, caller.session_id, p.old_password, p.new_password)


@operation("get_self_user_info")
def get_self_user_info(ctx: Context, caller: Caller, p: NoParams) -> dict[str, Any]:
    """The caller's own public info."""
    return users.require_user(ctx, caller.user_id).public()


@operation("get_users_info", UserIdsParams)
def get_users_info(ctx: Context, caller: Caller, p: UserIdsParams) -> list[dict[str, Any]]:
    """Public info of users; unknown ids are left out."""
    return users.get_users_info(ctx, p.user_ids)


@operation("set_self_info", SetSelfInfoParams)
def set_self_info(ctx: Context, caller: Caller, p: SetSelfInfoParams) -> dict[str, Any]:
    """Change own nickname and/or face_url."""
    return users.set_self_info(ctx, caller.user_id, p.nickname, p.face_url)


@operation("get_users_online_status", UserIdsParams)
def get_users_online_status(ctx: Context, caller: Caller, p: UserIdsParams) -> list[dict[str, Any]]:
    """Online status and connected platform ids of users."""
    return users.get_users_online_status(ctx, p.user_ids)


@operation("sync_events", SyncEventsParams)
def sync_events(ctx: Context, caller: Caller, p: SyncEventsParams) -> dict[str, Any]:
    """Events of the caller's log after a seq (offline catch-up)."""
    return events.sync_events(ctx, caller.user_id, p.after_seq, p.limit)


@operation("error_codes", auth=False)
def error_codes(ctx: Context, caller: Caller | None, p: NoParams) -> list[dict[str, Any]]:
    """Every error code the server can answer."""
    return codes_table()


@operation("admin_force_logout", ForceLogoutParams, auth=False, admin=True, rest_only=True)
def admin_force_logout(ctx: Context, caller: Caller | None, p: ForceLogoutParams) -> dict[str, int]:
    """Admin: kick all terminals of a user, or those on one platform."""
    return auth.force_logout(ctx, p.user_id, p.platform_id)


@operation("admin_reset_password", ResetPasswordParams, auth=False, admin=True, rest_only=True)
def admin_reset_password(ctx: Context, caller: Caller | None, p: ResetPasswordParams) -> dict[str, int]:
    """Admin: set a user's password and revoke all of their sessions."""
    return auth.reset_password(ctx, p.user_id, p.new_password)
