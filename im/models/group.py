"""Groups, their members (with OpenIM's role levels), and join applications."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, ts, utcnow

ROLE_OWNER = 100
ROLE_ADMIN = 60
ROLE_MEMBER = 20

# OpenIM's group status values.
STATUS_NORMAL = 0
STATUS_DISMISSED = 2
STATUS_MUTED = 3

# OpenIM's join sources.
JOIN_BY_INVITATION = 2
JOIN_BY_SEARCH = 3


class Group(db.Model):
    __tablename__ = "groups"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(255))
    face_url: Mapped[str] = mapped_column(String(1024), default="")
    introduction: Mapped[str] = mapped_column(String(1024), default="")
    notification: Mapped[str] = mapped_column(Text, default="")
    # 0: applications need approval, members' invites join directly; 1: both need approval;
    # 2: anyone joins directly (OpenIM's values).
    need_verification: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(Integer, default=STATUS_NORMAL)
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    creator_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def conversation_id(self) -> str:
        return f"sg_{self.group_id}"

    def public(self) -> dict:
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


class GroupMember(db.Model):
    """A current member. `join_seq` is the first seq of the group conversation they may read.

    The read window itself (also kept after leaving) is the member's ConversationState.
    """

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True, index=True)
    role_level: Mapped[int] = mapped_column(Integer, default=ROLE_MEMBER)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    join_source: Mapped[int] = mapped_column(Integer, default=JOIN_BY_INVITATION)
    inviter_user_id: Mapped[str] = mapped_column(String(64), default="")
    join_seq: Mapped[int] = mapped_column(Integer, default=1)
    mute_end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_muted(self, now: datetime) -> bool:
        return self.mute_end_time is not None and self.mute_end_time > now

    def public(self) -> dict:
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


class GroupLeftMute(db.Model):
    """The mute of a member who left while muted: it applies again if they rejoin before it ends.

    Without it, quitting and rejoining (or being kicked and re-invited) would lift a mute.
    """

    __tablename__ = "group_left_mutes"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    mute_end_time: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupApplication(db.Model):
    """One row per (group, applicant): applying again updates it and makes it pending again."""

    __tablename__ = "group_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id"), index=True)
    from_user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    inviter_user_id: Mapped[str] = mapped_column(String(64), default="")
    join_source: Mapped[int] = mapped_column(Integer, default=JOIN_BY_SEARCH)
    req_msg: Mapped[str] = mapped_column(String(255), default="")
    # 0 pending, 1 accepted, -1 refused
    handle_result: Mapped[int] = mapped_column(Integer, default=0)
    handle_msg: Mapped[str] = mapped_column(String(255), default="")
    handle_user_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("group_id", "from_user_id"),)

    def public(self) -> dict:
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
