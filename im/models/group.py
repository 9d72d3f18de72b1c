"""Groups, their members (with OpenIM's role levels), and join applications."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, ts, utcnow
from .enums import GroupRole, GroupStatus, GroupVerification, HandleResult, JoinSource

# The names the services import; the enums are the one definition.
ROLE_OWNER = GroupRole.OWNER
ROLE_ADMIN = GroupRole.ADMIN
ROLE_MEMBER = GroupRole.MEMBER
STATUS_NORMAL = GroupStatus.NORMAL
STATUS_DISMISSED = GroupStatus.DISMISSED
STATUS_MUTED = GroupStatus.MUTED
JOIN_BY_INVITATION = JoinSource.INVITATION
JOIN_BY_SEARCH = JoinSource.SEARCH


class Group(Base):
    __tablename__ = "groups"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(255))
    face_url: Mapped[str] = mapped_column(String(1024), default="")
    introduction: Mapped[str] = mapped_column(String(1024), default="")
    notification: Mapped[str] = mapped_column(Text, default="")
    need_verification: Mapped[int] = mapped_column(Integer, default=GroupVerification.APPLY_NEEDS_APPROVAL)
    status: Mapped[int] = mapped_column(Integer, default=GroupStatus.NORMAL)
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    creator_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def conversation_id(self) -> str:
        return f"sg_{self.group_id}"

    def public(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "group_name": self.group_name,
            "face_url": self.face_url,
            "introduction": self.introduction,
            "notification": self.notification,
            "need_verification": self.need_verification,
            "status": self.status,
            "owner_user_id": self.owner_user_id,
            "creator_user_id": self.creator_user_id,
            "member_count": self.member_count,
            "conversation_id": self.conversation_id,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
        }


class GroupMember(Base):
    """A current member. `join_seq` is the first seq of the group conversation they may read.

    The read window itself (also kept after leaving) is the member's ConversationState.
    """

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True, index=True)
    role_level: Mapped[int] = mapped_column(Integer, default=GroupRole.MEMBER)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    join_source: Mapped[int] = mapped_column(Integer, default=JoinSource.INVITATION)
    inviter_user_id: Mapped[str] = mapped_column(String(64), default="")
    join_seq: Mapped[int] = mapped_column(Integer, default=1)
    mute_end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_muted(self, now: datetime) -> bool:
        return self.mute_end_time is not None and self.mute_end_time > now

    def public(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "user_id": self.user_id,
            "role_level": self.role_level,
            "nickname": self.nickname,
            "join_source": self.join_source,
            "inviter_user_id": self.inviter_user_id,
            "join_seq": self.join_seq,
            "mute_end_time": ts(self.mute_end_time) or 0,
            "join_time": ts(self.joined_at),
        }


class GroupLeftMute(Base):
    """The mute of a member who left while muted: it applies again if they rejoin before it ends.

    Without it, quitting and rejoining (or being kicked and re-invited) would lift a mute.
    """

    __tablename__ = "group_left_mutes"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    mute_end_time: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupApplication(Base):
    """One row per (group, applicant): applying again updates it and makes it pending again."""

    __tablename__ = "group_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), index=True)
    from_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    inviter_user_id: Mapped[str] = mapped_column(String(64), default="")
    join_source: Mapped[int] = mapped_column(Integer, default=JoinSource.SEARCH)
    req_msg: Mapped[str] = mapped_column(String(255), default="")
    handle_result: Mapped[int] = mapped_column(Integer, default=HandleResult.PENDING)
    handle_msg: Mapped[str] = mapped_column(String(255), default="")
    handle_user_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("group_id", "from_user_id"),)

    def public(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "from_user_id": self.from_user_id,
            "inviter_user_id": self.inviter_user_id,
            "join_source": self.join_source,
            "req_msg": self.req_msg,
            "handle_result": self.handle_result,
            "handle_msg": self.handle_msg,
            "handle_user_id": self.handle_user_id,
            "req_time": ts(self.created_at),
            "handle_time": ts(self.handled_at) or 0,
        }
