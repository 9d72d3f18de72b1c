"""Group operations: groups, membership, roles, applications and muting."""

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ..services import group_applications, group_members, groups
from ..services.context import Context
from .registry import Caller, FaceUrl, NoParams, Params, UserId, UserIdList, non_blank_text, operation

GroupId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
# A type built by a call is no type to mypy: it checks the field as the str it validates to.
if TYPE_CHECKING:
    GroupName = str
else:
    GroupName = non_blank_text(255)
Introduction = Annotated[str, StringConstraints(max_length=1024)]
Notification = Annotated[str, StringConstraints(max_length=4096)]
NeedVerification = Annotated[int, Field(ge=0, le=2)]
ShortText = Annotated[str, StringConstraints(max_length=255)]
MemberNickname = Annotated[str, StringConstraints(max_length=64, strip_whitespace=True)]
# At most ten years, like OpenIM's practical cap on a mute.
MuteSeconds = Annotated[int, Field(ge=0, le=10 * 365 * 24 * 3600)]


class CreateGroupParams(Params):
    group_name: GroupName
    member_user_ids: UserIdList
    admin_user_ids: UserIdList = []
    face_url: FaceUrl = ""
    introduction: Introduction = ""
    notification: Notification = ""
    need_verification: NeedVerification = 0


class GroupIdParams(Params):
    group_id: GroupId


class GroupIdsParams(Params):
    group_ids: Annotated[list[GroupId], Field(max_length=1000)]


class SetGroupInfoParams(Params):
    group_id: GroupId
    group_name: GroupName | None = None
    face_url: FaceUrl | None = None
    introduction: Introduction | None = None
    notification: Notification | None = None
    need_verification: NeedVerification | None = None


class JoinGroupParams(Params):
    group_id: GroupId
    req_msg: ShortText = ""


# One call may invite or remove as many users as a group can hold (IM_GROUP_MAX_MEMBERS' default);
# the cost of one is O(users + members), and its notice lists each user once.
MAX_USERS_PER_CHANGE = 2000


class GroupUsersParams(Params):
    group_id: GroupId
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_USERS_PER_CHANGE)]


class KickParams(GroupUsersParams):
    reason: ShortText = ""


class TransferParams(Params):
    group_id: GroupId
    new_owner_id: UserId


class RoleLevelParams(Params):
    group_id: GroupId
    user_id: UserId
    role_level: Literal[20, 60]


class MemberNicknameParams(Params):
    group_id: GroupId
    user_id: UserId
    nickname: MemberNickname


class GroupMuteParams(Params):
    group_id: GroupId
    is_mute: bool


class MemberMuteParams(Params):
    group_id: GroupId
    user_id: UserId
    mute_seconds: MuteSeconds


class MemberListParams(Params):
    group_id: GroupId
    offset: Annotated[int, Field(ge=0)] = 0
    count: Annotated[int, Field(ge=1, le=1000)] = 100


class MembersInfoParams(Params):
    group_id: GroupId
    user_ids: UserIdList


class HandleApplicationParams(Params):
    group_id: GroupId
    from_user_id: UserId
    handle_msg: ShortText = ""


@operation("create_group", CreateGroupParams)
def create_group(ctx: Context, caller: Caller, p: CreateGroupParams) -> dict[str, Any]:
    """Create a group owned by the caller; members and admins join at once."""
    return groups.create_group(
        ctx,
        caller.user_id,
        p.group_name,
        p.member_user_ids,
        p.admin_user_ids,
        p.face_url,
        p.introduction,
        p.notification,
        p.need_verification,
    )


@operation("get_joined_group_list")
def get_joined_group_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """The groups the caller is a member of."""
    return groups.get_joined_group_list(ctx, caller.user_id)


@operation("get_groups_info", GroupIdsParams)
def get_groups_info(ctx: Context, caller: Caller, p: GroupIdsParams) -> list[dict[str, Any]]:
    """Public info of groups; unknown ids are left out."""
    return groups.get_groups_info(ctx, p.group_ids)


@operation("set_group_info", SetGroupInfoParams)
def set_group_info(ctx: Context, caller: Caller, p: SetGroupInfoParams) -> dict[str, Any]:
    """Owner or admin changes the group's info."""
    fields = p.model_dump(exclude={"group_id"}, exclude_none=True)
    return groups.set_group_info(ctx, caller.user_id, p.group_id, fields)


@operation("join_group", JoinGroupParams)
def join_group(ctx: Context, caller: Caller, p: JoinGroupParams) -> dict[str, Any]:
    """Join (need_verification 2) or apply to join a group."""
    return group_members.join_group(ctx, caller.user_id, p.group_id, p.req_msg)


@operation("quit_group", GroupIdParams)
def quit_group(ctx: Context, caller: Caller, p: GroupIdParams) -> None:
    """Leave a group (not for the owner)."""
    return group_members.quit_group(ctx, caller.user_id, p.group_id)


@operation("dismiss_group", GroupIdParams)
def dismiss_group(ctx: Context, caller: Caller, p: GroupIdParams) -> None:
    """Owner only: end the group."""
    return groups.dismiss_group(ctx, caller.user_id, p.group_id)


@operation("invite_user_to_group", GroupUsersParams)
def invite_user_to_group(ctx: Context, caller: Caller, p: GroupUsersParams) -> dict[str, Any]:
    """Add users to a group, or apply for them when the group needs approval."""
    return group_members.invite_user_to_group(ctx, caller.user_id, p.group_id, p.user_ids)


@operation("kick_group_member", KickParams)
def kick_group_member(ctx: Context, caller: Caller, p: KickParams) -> None:
    """Owner or admin removes members of a lower role."""
    return group_members.kick_group_member(ctx, caller.user_id, p.group_id, p.user_ids, p.reason)


@operation("transfer_group_owner", TransferParams)
def transfer_group_owner(ctx: Context, caller: Caller, p: TransferParams) -> dict[str, Any]:
    """Owner only: hand the group to another member."""
    return groups.transfer_group_owner(ctx, caller.user_id, p.group_id, p.new_owner_id)


@operation("set_group_member_role_level", RoleLevelParams)
def set_group_member_role_level(ctx: Context, caller: Caller, p: RoleLevelParams) -> dict[str, Any]:
    """Owner only: make a member admin (60) or an admin member (20)."""
    return group_members.set_group_member_role_level(ctx, caller.user_id, p.group_id, p.user_id, p.role_level)


@operation("set_group_member_nickname", MemberNicknameParams)
def set_group_member_nickname(ctx: Context, caller: Caller, p: MemberNicknameParams) -> dict[str, Any]:
    """Set a member's nickname in the group (own, or lower roles' as owner/admin)."""
    return group_members.set_group_member_nickname(ctx, caller.user_id, p.group_id, p.user_id, p.nickname)


@operation("change_group_mute", GroupMuteParams)
def change_group_mute(ctx: Context, caller: Caller, p: GroupMuteParams) -> dict[str, Any]:
    """Owner or admin mutes or unmutes the whole group."""
    return groups.change_group_mute(ctx, caller.user_id, p.group_id, p.is_mute)


@operation("change_group_member_mute", MemberMuteParams)
def change_group_member_mute(ctx: Context, caller: Caller, p: MemberMuteParams) -> dict[str, Any]:
    """Owner or admin mutes a member for mute_seconds (0 lifts it)."""
    return group_members.change_group_member_mute(ctx, caller.user_id, p.group_id, p.user_id, p.mute_seconds)


@operation("get_group_member_list", MemberListParams)
def get_group_member_list(ctx: Context, caller: Caller, p: MemberListParams) -> list[dict[str, Any]]:
    """A page of the group's members (members only)."""
    return group_members.get_group_member_list(ctx, caller.user_id, p.group_id, p.offset, p.count)


@operation("get_group_members_info", MembersInfoParams)
def get_group_members_info(ctx: Context, caller: Caller, p: MembersInfoParams) -> list[dict[str, Any]]:
    """Member info of some users of the group (members only)."""
    return group_members.get_group_members_info(ctx, caller.user_id, p.group_id, p.user_ids)


@operation("get_recv_group_application_list")
def get_recv_group_application_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """Applications to the groups the caller owns or administers."""
    return group_applications.get_recv_group_application_list(ctx, caller.user_id)


@operation("get_send_group_application_list")
def get_send_group_application_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """The caller's own applications."""
    return group_applications.get_send_group_application_list(ctx, caller.user_id)


@operation("accept_group_application", HandleApplicationParams)
def accept_group_application(ctx: Context, caller: Caller, p: HandleApplicationParams) -> dict[str, Any]:
    """Owner or admin lets an applicant in."""
    return group_applications.accept_group_application(ctx, caller.user_id, p.group_id, p.from_user_id, p.handle_msg)


@operation("refuse_group_application", HandleApplicationParams)
def refuse_group_application(ctx: Context, caller: Caller, p: HandleApplicationParams) -> dict[str, Any]:
    """Owner or admin turns an applicant down."""
    return group_applications.refuse_group_application(ctx, caller.user_id, p.group_id, p.from_user_id, p.handle_msg)
