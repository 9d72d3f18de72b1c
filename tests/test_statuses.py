"""Status and kind numbers are IntEnums defined once in im.models; clients still read plain numbers."""

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import create_engine, text

from im.models import (
    GROUP,
    SINGLE,
    GroupRole,
    GroupStatus,
    GroupVerification,
    HandleResult,
    JoinSource,
    MessageStatus,
    RecvMsgOpt,
    SessionType,
)
from im.models import group as group_model
from im.models import message as message_model
from tests.support.services import POSTGRES_ADMIN_URL, postgres_problem, require


def test_the_old_names_are_the_enum_members():
    assert SINGLE is SessionType.SINGLE and GROUP is SessionType.GROUP
    assert message_model.STATUS_OK is MessageStatus.OK
    assert message_model.STATUS_REVOKED is MessageStatus.REVOKED
    assert group_model.ROLE_OWNER is GroupRole.OWNER
    assert group_model.ROLE_ADMIN is GroupRole.ADMIN
    assert group_model.ROLE_MEMBER is GroupRole.MEMBER
    assert group_model.STATUS_NORMAL is GroupStatus.NORMAL
    assert group_model.STATUS_DISMISSED is GroupStatus.DISMISSED
    assert group_model.STATUS_MUTED is GroupStatus.MUTED
    assert group_model.JOIN_BY_INVITATION is JoinSource.INVITATION
    assert group_model.JOIN_BY_SEARCH is JoinSource.SEARCH


def test_the_numbers_are_openims():
    """Clients switch on these numbers: changing one is a protocol change."""
    assert [(e.__name__, {m.name: int(m) for m in e}) for e in (SessionType, MessageStatus, HandleResult)] == [
        ("SessionType", {"SINGLE": 1, "GROUP": 3}),
        ("MessageStatus", {"OK": 1, "REVOKED": 2}),
        ("HandleResult", {"PENDING": 0, "ACCEPTED": 1, "REFUSED": -1}),
    ]
    assert {m.name: int(m) for m in GroupRole} == {"OWNER": 100, "ADMIN": 60, "MEMBER": 20}
    assert {m.name: int(m) for m in GroupStatus} == {"NORMAL": 0, "DISMISSED": 2, "MUTED": 3}
    assert {m.name: int(m) for m in JoinSource} == {"INVITATION": 2, "SEARCH": 3}
    assert [int(m) for m in GroupVerification] == [0, 1, 2]
    assert [int(m) for m in RecvMsgOpt] == [0, 1, 2]


def test_members_serialize_as_numbers_through_json_and_pydantic():
    assert json.dumps({"role_level": GroupRole.OWNER, "handle_result": HandleResult.REFUSED}) == (
        '{"role_level": 100, "handle_result": -1}'
    )
    assert f"{GroupRole.ADMIN}" == str(GroupRole.ADMIN) == "60"

    class Payload(BaseModel):
        model_config = ConfigDict(strict=True)
        role_level: Literal[20, 60]
        status: int

    payload = Payload(role_level=GroupRole.MEMBER, status=MessageStatus.REVOKED)
    assert payload.model_dump_json() == '{"role_level":20,"status":2}'
    assert [type(v) for v in payload.model_dump().values()] == [int, int]


def _plain_numbers(value, path=""):
    """Every number in a decoded JSON answer, checked to be an int or float, never a str of an enum."""
    if isinstance(value, dict):
        for key, item in value.items():
            _plain_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _plain_numbers(item, f"{path}[{i}]")
    else:
        assert type(value) in (int, float, str, bool, type(None)), path
        assert not (isinstance(value, str) and value.split(".")[0] in _ENUM_NAMES), path


_ENUM_NAMES = {e.__name__ for e in (GroupRole, GroupStatus, JoinSource, MessageStatus, HandleResult, SessionType)}


def test_answers_and_events_carry_the_enum_members_as_plain_numbers(api):
    """A new group's answer and events are built from rows holding enum members (not yet read back)."""
    owner, owner_token = api.user()
    member, member_token = api.user()
    member_socket = api.socket(member_token)
    resp = api.call("create_group", {"group_name": "Enums", "member_user_ids": [member]}, owner_token)
    raw = resp.get_data(as_text=True)
    info = resp.get_json()["data"]
    assert info["status"] == GroupStatus.NORMAL and type(info["status"]) is int
    assert not any(name in raw for name in _ENUM_NAMES), raw

    owner_socket = api.socket(owner_token)
    ack = owner_socket.emit("create_group", {"group_name": "Over socket", "member_user_ids": [member]}, callback=True)
    assert ack["errCode"] == 0 and type(ack["data"]["status"]) is int
    events = [m["args"][0] for m in member_socket.get_received() if m["name"] == "event"]
    added = [e["data"] for e in events if e["type"] == "joined_group_added"]
    assert [g["group_name"] for g in added] == ["Enums", "Over socket"]
    assert [type(g["status"]) for g in added] == [int, int]
    _plain_numbers(events)

    members = api.ok("get_group_member_list", {"group_id": info["group_id"]}, owner_token)
    roles = {m["user_id"]: m["role_level"] for m in members}
    assert roles == {owner: 100, member: 20}
    _plain_numbers(api.ok("sync_events", {"after_seq": 0}, member_token))
    history = api.ok(
        "get_history_message_list", {"conversation_id": f"sg_{info['group_id']}", "count": 10}, member_token
    )
    assert {m["status"] for m in history["messages"]} == {1} and {
        m["conversation_type"] for m in history["messages"]
    } == {3}
    _plain_numbers(history)


def test_postgresql_is_given_a_member_as_its_number():
    """psycopg adapts a plain Enum by its name; an IntEnum must reach PostgreSQL as the integer."""
    require(postgres_problem(), "PostgreSQL")
    engine = create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT :refused + 0, CAST(:owner AS text)"),
                {"refused": HandleResult.REFUSED, "owner": GroupRole.OWNER},
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == (-1, "100")
