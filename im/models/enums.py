"""The protocol's status and kind numbers (OpenIM's values), defined once.

They are IntEnums: stored in Integer columns and written to JSON as the plain numbers.
"""

from enum import IntEnum


class SessionType(IntEnum):
    """A conversation's kind (OpenIM's session type; 2, the old write-group type, is not used)."""

    SINGLE = 1
    GROUP = 3


class MessageStatus(IntEnum):
    OK = 1
    REVOKED = 2


class HandleResult(IntEnum):
    """Where a friend or group application stands."""

    PENDING = 0
    ACCEPTED = 1
    REFUSED = -1


class GroupRole(IntEnum):
    """A member's role level: a larger number may manage the smaller ones."""

    OWNER = 100
    ADMIN = 60
    MEMBER = 20


class GroupStatus(IntEnum):
    NORMAL = 0
    DISMISSED = 2
    MUTED = 3


class GroupVerification(IntEnum):
    """How one joins a group (its need_verification)."""

    # applications need approval, members' invitations join directly
    APPLY_NEEDS_APPROVAL = 0
    # applications and invitations both need approval
    ALL_NEED_APPROVAL = 1
    # anyone joins directly
    DIRECTLY = 2


class JoinSource(IntEnum):
    INVITATION = 2
    SEARCH = 3


class RecvMsgOpt(IntEnum):
    """A user's notification setting for one conversation."""

    NORMAL = 0
    NOT_RECEIVE = 1
    NOT_NOTIFY = 2
