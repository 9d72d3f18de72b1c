"""Friend list, friend application and blacklist operations."""

from typing import Annotated

from pydantic import StringConstraints

from ..services import friends
from ..services.context import Context
from .registry import Caller, NoParams, Params, UserId, UserIdList, by_pair, non_blank_text, operation

# Bounds of the free-text fields; the columns hold 255 characters.
ReqMsg = Annotated[str, StringConstraints(max_length=255)]
HandleMsg = Annotated[str, StringConstraints(max_length=255)]
Remark = Annotated[str, StringConstraints(max_length=255)]
Keyword = non_blank_text(64)


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
def get_friend_list(ctx: Context, caller: Caller, p: NoParams):
    """Everyone in the caller's friend list."""
    return friends.get_friend_list(ctx, caller.user_id)


@operation("get_designated_friends_info", UserIdsParams)
def get_designated_friends_info(ctx: Context, caller: Caller, p: UserIdsParams):
    """Friend entries of the given users that are in the caller's list."""
    return friends.get_designated_friends_info(ctx, caller.user_id, p.user_ids)


@operation("search_friends", SearchFriendsParams)
def search_friends(ctx: Context, caller: Caller, p: SearchFriendsParams):
    """Friends whose user_id, nickname or remark contains a keyword."""
    return friends.search_friends(ctx, caller.user_id, p.keyword, p.search_user_id, p.search_nickname, p.search_remark)


@operation("check_friend", UserIdsParams)
def check_friend(ctx: Context, caller: Caller, p: UserIdsParams):
    """For each user: result 1 if in the caller's friend list, else 0."""
    return friends.check_friend(ctx, caller.user_id, p.user_ids)


@operation("add_friend", AddFriendParams, limits=[("add_friend_pair", by_pair("to_user_id"))])
def add_friend(ctx: Context, caller: Caller, p: AddFriendParams):
    """Apply to become someone's friend."""
    return friends.add_friend(ctx, caller.user_id, p.to_user_id, p.req_msg)


@operation("set_friend_remark", SetFriendRemarkParams)
def set_friend_remark(ctx: Context, caller: Caller, p: SetFriendRemarkParams):
    """Set the caller's private remark for a friend."""
    return friends.set_friend_remark(ctx, caller.user_id, p.user_id, p.remark)


@operation("delete_friend", UserIdParams)
def delete_friend(ctx: Context, caller: Caller, p: UserIdParams):
    """Remove a friend from the caller's list (one-way)."""
    return friends.delete_friend(ctx, caller.user_id, p.user_id)


@operation("get_recv_friend_application_list")
def get_recv_friend_application_list(ctx: Context, caller: Caller, p: NoParams):
    """Friend applications the caller received."""
    return friends.get_recv_friend_application_list(ctx, caller.user_id)


@operation("get_send_friend_application_list")
def get_send_friend_application_list(ctx: Context, caller: Caller, p: NoParams):
    """Friend applications the caller sent."""
    return friends.get_send_friend_application_list(ctx, caller.user_id)


@operation("accept_friend_application", HandleApplicationParams)
def accept_friend_application(ctx: Context, caller: Caller, p: HandleApplicationParams):
    """Accept a pending application sent to the caller."""
    return friends.accept_friend_application(ctx, caller.user_id, p.from_user_id, p.handle_msg)


@operation("refuse_friend_application", HandleApplicationParams)
def refuse_friend_application(ctx: Context, caller: Caller, p: HandleApplicationParams):
    """Refuse a pending application sent to the caller."""
    return friends.refuse_friend_application(ctx, caller.user_id, p.from_user_id, p.handle_msg)


@operation("delete_friend_application", DeleteApplicationParams)
def delete_friend_application(ctx: Context, caller: Caller, p: DeleteApplicationParams):
    """Withdraw the caller's own pending application."""
    return friends.delete_friend_application(ctx, caller.user_id, p.to_user_id)


@operation("add_black", UserIdParams)
def add_black(ctx: Context, caller: Caller, p: UserIdParams):
    """Put a user on the caller's blacklist."""
    return friends.add_black(ctx, caller.user_id, p.user_id)


@operation("remove_black", UserIdParams)
def remove_black(ctx: Context, caller: Caller, p: UserIdParams):
    """Take a user off the caller's blacklist."""
    return friends.remove_black(ctx, caller.user_id, p.user_id)


@operation("get_black_list")
def get_black_list(ctx: Context, caller: Caller, p: NoParams):
    """The caller's blacklist."""
    return friends.get_black_list(ctx, caller.user_id)
