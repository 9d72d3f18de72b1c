"""Friend list, friend application and blacklist operations."""

from typing import Annotated, Any

from pydantic import StringConstraints

from ..services import friends
from ..services.context import Context
from .registry import STRIP_BLANKS, Caller, NoParams, Params, UserId, UserIdList, by_pair, non_blank, operation

# Bounds of the free-text fields; the columns hold 255 characters.
ReqMsg = Annotated[str, StringConstraints(max_length=255)]
HandleMsg = Annotated[str, StringConstraints(max_length=255)]
Remark = Annotated[str, StringConstraints(max_length=255)]
Keyword = Annotated[str, non_blank(64), STRIP_BLANKS]


class UserIdsParams(Params):
    user_ids: UserIdList


class UserIdParams(Params):
    user_id: UserId


class SearchFriendsParams(Params):
    keyword: Keyword
    search_user_id: bool = True
    search_nickname: bool = True
    search_remark: bool = True


class AddFriendParams(Params):
    to_user_id: UserId
    req_msg: ReqMsg = ""


class SetFriendRemarkParams(Params):
    user_id: UserId
    remark: Remark


class HandleApplicationParams(Params):
    from_user_id: UserId
    handle_msg: HandleMsg = ""


class DeleteApplicationParams(Params):
    to_user_id: UserId


@operation("get_friend_list")
def get_friend_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """Everyone in the caller's friend list."""
    return friends.get_friend_list(ctx, caller.user_id)


@operation("get_designated_friends_info", UserIdsParams)
def get_designated_friends_info(ctx: Context, caller: Caller, p: UserIdsParams) -> list[dict[str, Any]]:
    """Friend entries of the given users that are in the caller's list."""
    return friends.get_designated_friends_info(ctx, caller.user_id, p.user_ids)


@operation("search_friends", SearchFriendsParams)
def search_friends(ctx: Context, caller: Caller, p: SearchFriendsParams) -> list[dict[str, Any]]:
    """Friends whose user_id, nickname or remark contains a keyword."""
    return friends.search_friends(ctx, caller.user_id, p.keyword, p.search_user_id, p.search_nickname, p.search_remark)


@operation("check_friend", UserIdsParams)
def check_friend(ctx: Context, caller: Caller, p: UserIdsParams) -> list[dict[str, Any]]:
    """For each user: result 1 if in the caller's friend list, else 0."""
    return friends.check_friend(ctx, caller.user_id, p.user_ids)


@operation("add_friend", AddFriendParams, limits=[("add_friend_pair", by_pair("to_user_id"))])
def add_friend(ctx: Context, caller: Caller, p: AddFriendParams) -> dict[str, Any]:
    """Apply to become someone's friend."""
    return friends.add_friend(ctx, caller.user_id, p.to_user_id, p.req_msg)


@operation("set_friend_remark", SetFriendRemarkParams)
def set_friend_remark(ctx: Context, caller: Caller, p: SetFriendRemarkParams) -> dict[str, Any]:
    """Set the caller's private remark for a friend."""
    return friends.set_friend_remark(ctx, caller.user_id, p.user_id, p.remark)


@operation("delete_friend", UserIdParams)
def delete_friend(ctx: Context, caller: Caller, p: UserIdParams) -> dict[str, Any]:
    """Remove a friend from the caller's list (one-way)."""
    return friends.delete_friend(ctx, caller.user_id, p.user_id)


@operation("get_recv_friend_application_list")
def get_recv_friend_application_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """Friend applications the caller received."""
    return friends.get_recv_friend_application_list(ctx, caller.user_id)


@operation("get_send_friend_application_list")
def get_send_friend_application_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """Friend applications the caller sent."""
    return friends.get_send_friend_application_list(ctx, caller.user_id)


@operation("accept_friend_application", HandleApplicationParams)
def accept_friend_application(ctx: Context, caller: Caller, p: HandleApplicationParams) -> dict[str, Any]:
    """Accept a pending application sent to the caller."""
    return friends.accept_friend_application(ctx, caller.user_id, p.from_user_id, p.handle_msg)


@operation("refuse_friend_application", HandleApplicationParams)
def refuse_friend_application(ctx: Context, caller: Caller, p: HandleApplicationParams) -> dict[str, Any]:
    """Refuse a pending application sent to the caller."""
    return friends.refuse_friend_application(ctx, caller.user_id, p.from_user_id, p.handle_msg)


@operation("delete_friend_application", DeleteApplicationParams)
def delete_friend_application(ctx: Context, caller: Caller, p: DeleteApplicationParams) -> dict[str, Any]:
    """Withdraw the caller's own pending application."""
    return friends.delete_friend_application(ctx, caller.user_id, p.to_user_id)


@operation("add_black", UserIdParams)
def add_black(ctx: Context, caller: Caller, p: UserIdParams) -> dict[str, Any]:
    """Put a user on the caller's blacklist."""
    return friends.add_black(ctx, caller.user_id, p.user_id)


@operation("remove_black", UserIdParams)
def remove_black(ctx: Context, caller: Caller, p: UserIdParams) -> dict[str, Any]:
    """Take a user off the caller's blacklist."""
    return friends.remove_black(ctx, caller.user_id, p.user_id)


@operation("get_black_list")
def get_black_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """The caller's blacklist."""
    return friends.get_black_list(ctx, caller.user_id)
