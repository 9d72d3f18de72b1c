"""Each event the server sends declared once: name, payload model, audience, logged or live only.

A logged event is appended to each hearer's event log (a per-user seq, caught up with `sync_events`
after being offline) and sent as the socket event `event` `{"seq", "type", "data"}`; a live one is a
socket event of its own name that a terminal hears only while connected. docs/protocol.md's event
tables and both SDKs' lists of handled events are checked against these declarations (tests), and with
`IM_CHECK_EVENTS` on (the tests) every payload the server publishes is validated by `check`.

Pure declarations: this module imports only pydantic and the standard library.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

ENVELOPE = "event"  # the socket event that carries every logged event


class Payload(BaseModel):
    """What the server builds, exactly: no field it does not declare, no type coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


Millis = int  # milliseconds since the epoch, as every payload's times


# ---- the objects events carry (the same as the operations' answers) -----------------------------


class PublicUser(Payload):
    user_id: str
    nickname: str
    face_url: str
    created_at: Millis


class FriendEntry(Payload):
    owner_user_id: str
    user_id: str
    nickname: str
    face_url: str
    remark: str
    created_at: Millis


class FriendApplication(Payload):
    from_user_id: str
    from_nickname: str
    from_face_url: str
    to_user_id: str
    to_nickname: str
    to_face_url: str
    req_msg: str
    handle_result: int
    handle_msg: str
    created_at: Millis
    handled_at: Millis | None


class BlackEntry(Payload):
    owner_user_id: str
    user_id: str
    nickname: str
    face_url: str
    created_at: Millis


class Message(Payload):
    server_msg_id: str  # "" for what is never stored (typing)
    client_msg_id: str
    conversation_id: str
    conversation_type: int
    seq: int  # 0 for what is never stored (typing)
    send_id: str
    recv_id: str | None
    group_id: str | None
    content_type: int
    content: dict[str, Any]
    status: int
    send_time: Millis
    revoked_time: Millis | None


class Conversation(Payload):
    conversation_id: str
    conversation_type: int
    user_id: str
    group_id: str
    latest_msg: Message | None
    latest_msg_send_time: Millis
    unread_count: int
    is_pinned: bool
    recv_msg_opt: int
    draft_text: str
    draft_text_time: Millis | None
    max_seq: int
    has_read_seq: int
    peer_has_read_seq: int
    min_seq: int
    hidden: bool


class ReadReceipt(Payload):
    conversation_id: str
    user_id: str
    has_read_seq: int
    read_time: Millis


class Revoke(Payload):
    conversation_id: str
    seq: int
    client_msg_id: str
    server_msg_id: str
    send_id: str
    revoker_id: str
    revoke_time: Millis
    session_type: int


class GroupInfo(Payload):
    group_id: str
    group_name: str
    face_url: str
    introduction: str
    notification: str
    need_verification: int
    status: int
    owner_user_id: str
    creator_user_id: str
    member_count: int
    conversation_id: str
    created_at: Millis
    updated_at: Millis


class SharedGroupApplication(Payload):
    """A group application without its applicant: what the applications of one invitation share."""

    group_id: str
    inviter_user_id: str
    join_source: int
    req_msg: str
    handle_result: int
    handle_msg: str
    handle_user_id: str
    req_time: Millis
    handle_time: Millis  # 0 until handled


class GroupApplication(SharedGroupApplication):
    from_user_id: str


class GroupApplicationsAdded(Payload):
    application: SharedGroupApplication
    from_user_ids: list[str]


class GroupApplicationsDeleted(Payload):
    group_id: str
    applications: list[GroupApplication] = Field(max_length=2000)


class KickedOffline(Payload):
    reason: Literal["kicked", "admin", "logout", "password_changed", "password_reset"]
    platform_id: int


class Empty(Payload):
    pass


class TotalUnread(Payload):
    total: int


class Envelope(Payload):
    """The socket event `event`: one entry of the user's event log."""

    seq: int
    type: str
    data: Any


# ---- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    name: str
    payload: Any  # a Payload model, or a list of one
    audience: str  # who hears it; docs/protocol.md's table says at least this
    logged: bool  # in the event log (caught up by seq) or live only


EVENTS: dict[str, EventType] = {}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def event(name: str, payload: Any, audience: str, logged: bool = True) -> None:
    if name in EVENTS or name == ENVELOPE:
        raise ValueError(f"event {name} declared twice")
    EVENTS[name] = EventType(name, payload, audience, logged)
    _ADAPTERS[name] = TypeAdapter(payload)


USER = "the user's terminals"  # the user themself, every terminal
BOTH = "applicant and recipient"
MANAGERS = "the managers"

event("self_info_updated", PublicUser, USER)

event("friend_application_added", FriendApplication, BOTH)
event("friend_application_deleted", FriendApplication, BOTH)
event("friend_application_accepted", FriendApplication, BOTH)
event("friend_application_rejected", FriendApplication, BOTH)
event("friend_added", FriendEntry, "the user whose list gained the friend")
event("friend_deleted", FriendEntry, "the user whose list lost the friend")
event(
    "friend_info_changed",
    FriendEntry,
    "the owner, when they set a remark; everyone who has the user as a friend, when the user changes nickname or face",
)
event("black_added", BlackEntry, "the blacklist's owner")
event("black_deleted", BlackEntry, "the blacklist's owner")

event("new_conversation", list[Conversation], "a user whose list gained the conversation")
event("conversation_changed", list[Conversation], USER)
event("recv_c2c_read_receipt", list[ReadReceipt], "the peer")
event("new_recv_message_revoked", Revoke, "every user of the conversation who may read the message")
event("msg_deleted", Message, USER)

event("joined_group_added", GroupInfo, "a user who became a member")
event("joined_group_deleted", GroupInfo, "a user who quit or was removed")
event("group_application_added", GroupApplication, "the applicant")
event("group_application_deleted", GroupApplication, "the applicant")
event("group_applications_added", GroupApplicationsAdded, MANAGERS)
event("group_applications_deleted", GroupApplicationsDeleted, MANAGERS)
event("group_application_accepted", GroupApplication, "the applicant and the managers")
event("group_application_rejected", GroupApplication, "the applicant and the managers")
event("group_info_changed", GroupInfo, "every member")
event("group_dismissed", GroupInfo, "every member at the time")

event("new_message", Message, "the terminals of the sender and of the recipients", logged=False)
event("kicked_offline", KickedOffline, "the sockets of the revoked login session", logged=False)
event("token_expired", Empty, "the sockets of the expired login session", logged=False)
event("total_unread_message_count_changed", TotalUnread, USER, logged=False)


def logged_types() -> list[str]:
    """The types of the event log, in declaration order."""
    return [e.name for e in EVENTS.values() if e.logged]


def socket_events() -> list[str]:
    """Every socket event name the server emits: the log's envelope, then the live events."""
    return [ENVELOPE, *(e.name for e in EVENTS.values() if not e.logged)]


def check(type_: str, data: Any) -> None:
    """Raise unless `data` is what event `type_` declares (pydantic's ValidationError, or ValueError
    for an undeclared type). `type_` is a log type or a live event's name; an envelope is checked
    whole, its data against its type."""
    if type_ == ENVELOPE:
        envelope = Envelope.model_validate(data)
        if envelope.type not in EVENTS or not EVENTS[envelope.type].logged:
            raise ValueError(f"undeclared event-log type {envelope.type!r}")
        _ADAPTERS[envelope.type].validate_python(envelope.data)
        return
    if type_ not in EVENTS:
        raise ValueError(f"undeclared event {type_!r}")
    _ADAPTERS[type_].validate_python(data)
