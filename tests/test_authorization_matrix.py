"""The authorization matrix: every operation against every relation, allowed or denied with its code.

`MATRIX` below IS the test: one row per (operation, relation), run against a fresh copy of the same
world. A row's expectation is ALLOW, an error code, or a check on the answer's data (for reads that
must succeed but leave out what the caller may not see). A refused call must change nothing. Every
declared operation must have rows, so a new operation without its rows fails here.

The world (user ids are fixed; `{g}` is the group, `{conv}`-style names are conversation ids):
- me and friend are friends both ways; stranger has no relation to anyone; blocker has me on their
  blacklist; fan has a pending friend application to me.
- group {g} (need_verification 1): owner, admin (admin), member; ex joined then quit; fan has a pending
  application to join it. owner, admin, member and ex (before quitting) each sent one message.
- one-to-one: me and friend exchanged messages; friend and stranger have a conversation me is not in.
- me has a kicked token (a newer sign-in on the same platform) and an expired one.
"""

import shutil

import pytest
from sqlalchemy import select, update

from im import create_app
from im.extensions import db
from im.models import LoginSession, utcnow
from im.operations import OPERATIONS
from im.services import auth
from tests.support.server import FAST_HASH

ALLOW = "allow"
ADMIN_SECRET = "matrix-admin-secret"
FORGED = "imt_" + "A" * 43
VOLATILE_COLUMNS = {"last_seen_at", "heartbeat_at"}

RELATIONS = {
    "self",
    "friend",
    "stranger",
    "blacklisted",
    "group member",
    "admin",
    "owner",
    "ex-member",
    "kicked session",
    "expired token",
    "forged token",
    "no token",
    "admin secret",
}
# Token states, answered before anything else: (relation, caller, expected code).
TOKEN_STATES = [
    ("kicked session", "me:kicked", 1506),
    ("expired token", "me:expired", 1501),
    ("forged token", FORGED, 1507),
    ("no token", None, 1500),
]


def empty(data, _values):
    return data in ([], {}, None)


def only(*user_ids):
    return lambda data, _values: sorted(x["user_id"] for x in data) == sorted(user_ids)


def no_messages_of(conversation_id):
    return lambda data, _values: all(m["conversation_id"] != conversation_id for m in data["messages"])


def read_window_ends_at_quit(data, values):
    return bool(data["messages"]) and all(m["seq"] <= values["gseq_ex_quit"] for m in data["messages"])


G_CONV = "sg_{g}"
TEXT = {"content_type": 101, "content": {"text": "hello"}}

# (operation, relation, caller, params, expected). `caller` is a user id (their current token), or
# a token state; "{g}", "{seq_user}" and "{gseq_user}" in params are filled in from the world.
MATRIX = [
    # accounts
    ("register", "no token", None, {"user_id": "newcomer", "password": "password123", "nickname": "N"}, ALLOW),
    ("login", "no token", None, {"user_id": "me", "password": "password123", "platform_id": 5}, ALLOW),
    ("error_codes", "no token", None, {}, ALLOW),
    ("logout", "self", "me", {}, ALLOW),
    ("get_self_user_info", "self", "me", {}, lambda d, _v: d["user_id"] == "me"),
    ("get_users_info", "stranger", "me", {"user_ids": ["stranger"]}, only("stranger")),
    ("get_users_info", "blacklisted", "me", {"user_ids": ["blocker"]}, only("blocker")),
    ("set_self_info", "self", "me", {"nickname": "Me Again"}, ALLOW),
    ("get_users_online_status", "stranger", "me", {"user_ids": ["stranger"]}, ALLOW),
    ("sync_events", "self", "me", {}, ALLOW),
    ("admin_force_logout", "admin secret", "admin-secret", {"user_id": "me"}, ALLOW),
    ("admin_force_logout", "self", "me", {"user_id": "me"}, 1104),
    ("admin_force_logout", "no token", None, {"user_id": "me"}, 1104),
    (
        "change_password",
        "self",
        "me",
        {"old_password": "password123", "new_password": "password456"},
        lambda d, _v: d == {"revoked_sessions": 0},
    ),
    ("change_password", "self", "me", {"old_password": "password-guess", "new_password": "password456"}, 1103),
    ("change_password", "self", "me", {"old_password": "password123", "new_password": "password123"}, 1001),
    (
        "admin_reset_password",
        "admin secret",
        "admin-secret",
        {"user_id": "me", "new_password": "password456"},
        lambda d, _v: d == {"revoked_sessions": 1},
    ),
    (
        "admin_reset_password",
        "admin secret",
        "admin-secret",
        {"user_id": "nobody", "new_password": "password456"},
        1101,
    ),
    ("admin_reset_password", "self", "me", {"user_id": "me", "new_password": "password456"}, 1104),
    ("admin_reset_password", "stranger", "stranger", {"user_id": "me", "new_password": "password456"}, 1104),
    ("admin_reset_password", "no token", None, {"user_id": "me", "new_password": "password456"}, 1104),
    # friends and blacklist
    ("get_friend_list", "self", "me", {}, lambda d, _v: [f["user_id"] for f in d] == ["friend"]),
    ("get_designated_friends_info", "friend", "me", {"user_ids": ["friend"]}, only("friend")),
    ("get_designated_friends_info", "stranger", "me", {"user_ids": ["stranger"]}, empty),
    ("search_friends", "self", "me", {"keyword": "e"}, lambda d, _v: [f["user_id"] for f in d] == ["friend"]),
    (
        "check_friend",
        "stranger",
        "me",
        {"user_ids": ["stranger", "friend"]},
        lambda d, _v: [r["result"] for r in d] == [0, 1],
    ),
    ("add_friend", "self", "me", {"to_user_id": "me"}, 1201),
    ("add_friend", "friend", "me", {"to_user_id": "friend"}, 1202),
    ("add_friend", "stranger", "me", {"to_user_id": "stranger"}, ALLOW),
    ("add_friend", "blacklisted", "me", {"to_user_id": "blocker"}, 1204),
    ("set_friend_remark", "self", "me", {"user_id": "me", "remark": "x"}, 1201),
    ("set_friend_remark", "friend", "me", {"user_id": "friend", "remark": "x"}, ALLOW),
    ("set_friend_remark", "stranger", "me", {"user_id": "stranger", "remark": "x"}, 1210),
    ("delete_friend", "self", "me", {"user_id": "me"}, 1201),
    ("delete_friend", "friend", "me", {"user_id": "friend"}, ALLOW),
    ("delete_friend", "stranger", "me", {"user_id": "stranger"}, 1210),
    ("get_recv_friend_application_list", "self", "me", {}, lambda d, _v: [a["from_user_id"] for a in d] == ["fan"]),
    ("get_send_friend_application_list", "stranger", "stranger", {}, empty),
    ("accept_friend_application", "stranger", "me", {"from_user_id": "fan"}, ALLOW),
    ("accept_friend_application", "self", "me", {"from_user_id": "me"}, 1201),
    ("accept_friend_application", "stranger", "stranger", {"from_user_id": "fan"}, 1205),
    ("refuse_friend_application", "stranger", "me", {"from_user_id": "fan"}, ALLOW),
    ("refuse_friend_application", "stranger", "stranger", {"from_user_id": "fan"}, 1205),
    ("delete_friend_application", "stranger", "fan", {"to_user_id": "me"}, ALLOW),
    ("delete_friend_application", "stranger", "stranger", {"to_user_id": "me"}, 1205),
    ("delete_friend_application", "self", "me", {"to_user_id": "me"}, 1201),
    ("add_black", "self", "me", {"user_id": "me"}, 1201),
    ("add_black", "friend", "me", {"user_id": "friend"}, ALLOW),
    ("add_black", "blacklisted", "blocker", {"user_id": "me"}, 1208),
    ("add_black", "blacklisted", "me", {"user_id": "blocker"}, ALLOW),
    ("remove_black", "blacklisted", "blocker", {"user_id": "me"}, ALLOW),
    ("remove_black", "blacklisted", "me", {"user_id": "blocker"}, 1209),
    ("remove_black", "self", "me", {"user_id": "me"}, 1201),
    ("get_black_list", "blacklisted", "blocker", {}, lambda d, _v: [b["user_id"] for b in d] == ["me"]),
    # one-to-one messages: my own conversation, and friend and stranger's, which I am not in
    ("send_message", "self", "me", {"recv_id": "me", **TEXT}, 1201),
    ("send_message", "friend", "me", {"recv_id": "friend", **TEXT}, ALLOW),
    ("send_message", "stranger", "me", {"recv_id": "stranger", **TEXT}, ALLOW),
    ("send_message", "blacklisted", "me", {"recv_id": "blocker", **TEXT}, 1204),
    ("typing_status_update", "self", "me", {"recv_id": "me", "msg_tip": "..."}, 1201),
    ("typing_status_update", "friend", "me", {"recv_id": "friend", "msg_tip": "..."}, ALLOW),
    ("typing_status_update", "blacklisted", "me", {"recv_id": "blocker", "msg_tip": "..."}, 1204),
    ("get_max_seqs", "stranger", "me", {}, lambda d, _v: "si_friend~stranger" not in d["conversations"]),
    (
        "pull_messages",
        "friend",
        "me",
        {"ranges": [{"conversation_id": "si_friend~me", "begin_seq": 1, "end_seq": 10}]},
        lambda d, _v: len(d["messages"]) == 2,
    ),
    (
        "pull_messages",
        "stranger",
        "me",
        {"ranges": [{"conversation_id": "si_friend~stranger", "begin_seq": 1, "end_seq": 10}]},
        1403,
    ),
    ("get_history_message_list", "friend", "me", {"conversation_id": "si_friend~me"}, ALLOW),
    ("get_history_message_list", "stranger", "me", {"conversation_id": "si_friend~stranger"}, 1403),
    # nobody has a conversation with themselves: an id that no state row names is nobody's
    ("get_history_message_list", "self", "me", {"conversation_id": "si_me~me"}, 1403),
    ("get_one_conversation", "self", "me", {"user_id": "me"}, 1201),
    ("get_one_conversation", "friend", "me", {"user_id": "friend"}, ALLOW),
    ("search_messages", "friend", "me", {"keyword": "secret"}, no_messages_of("si_friend~stranger")),
    ("search_messages", "stranger", "me", {"keyword": "secret", "conversation_id": "si_friend~stranger"}, 1403),
    ("revoke_message", "self", "me", {"conversation_id": "si_friend~me", "seq": "{seq_me}"}, ALLOW),
    ("revoke_message", "friend", "me", {"conversation_id": "si_friend~me", "seq": "{seq_friend}"}, 1002),
    ("revoke_message", "stranger", "me", {"conversation_id": "si_friend~stranger", "seq": 1}, 1403),
    ("delete_message", "friend", "me", {"conversation_id": "si_friend~me", "seq": "{seq_friend}"}, ALLOW),
    ("delete_message", "stranger", "me", {"conversation_id": "si_friend~stranger", "seq": 1}, 1403),
    # conversations
    (
        "get_all_conversation_list",
        "self",
        "me",
        {},
        lambda d, _v: all("stranger" not in c["conversation_id"] for c in d),
    ),
    ("get_conversation_list_split", "self", "me", {"offset": 0, "count": 10}, ALLOW),
    ("get_total_unread_msg_count", "self", "me", {}, ALLOW),
    ("get_one_conversation", "friend", "me", {"conversation_id": "si_friend~me"}, ALLOW),
    ("get_one_conversation", "stranger", "me", {"conversation_id": "si_friend~stranger"}, 1403),
    ("get_multiple_conversation", "stranger", "me", {"conversation_ids": ["si_friend~stranger", G_CONV]}, empty),
    ("pin_conversation", "stranger", "me", {"conversation_id": "si_friend~stranger", "is_pinned": True}, 1403),
    ("pin_conversation", "friend", "me", {"conversation_id": "si_friend~me", "is_pinned": True}, ALLOW),
    ("set_conversation_recv_message_opt", "stranger", "me", {"conversation_id": "si_friend~stranger", "opt": 1}, 1403),
    ("set_conversation_draft", "stranger", "me", {"conversation_id": "si_friend~stranger", "text": "x"}, 1403),
    ("delete_conversation", "stranger", "me", {"conversation_id": "si_friend~stranger"}, 1403),
    ("mark_conversation_message_as_read", "stranger", "me", {"conversation_id": "si_friend~stranger"}, 1403),
    ("mark_conversation_message_as_read", "friend", "me", {"conversation_id": "si_friend~me"}, ALLOW),
    # groups: the caller's role in {g}
    ("create_group", "self", "me", {"group_name": "Mine", "member_user_ids": ["friend"]}, ALLOW),
    ("create_group", "blacklisted", "me", {"group_name": "Mine", "member_user_ids": ["blocker"]}, ALLOW),
    ("get_joined_group_list", "ex-member", "ex", {}, empty),
    ("get_joined_group_list", "group member", "member", {}, lambda d, v: [x["group_id"] for x in d] == [v["g"]]),
    ("get_groups_info", "stranger", "stranger", {"group_ids": ["{g}"]}, ALLOW),
    ("set_group_info", "owner", "owner", {"group_id": "{g}", "introduction": "x"}, ALLOW),
    ("set_group_info", "admin", "admin", {"group_id": "{g}", "introduction": "x"}, ALLOW),
    ("set_group_info", "group member", "member", {"group_id": "{g}", "introduction": "x"}, 1002),
    ("set_group_info", "ex-member", "ex", {"group_id": "{g}", "introduction": "x"}, 1303),
    ("set_group_info", "stranger", "stranger", {"group_id": "{g}", "introduction": "x"}, 1303),
    ("join_group", "group member", "member", {"group_id": "{g}"}, 1302),
    ("join_group", "ex-member", "ex", {"group_id": "{g}"}, ALLOW),
    ("join_group", "stranger", "stranger", {"group_id": "{g}"}, ALLOW),
    ("quit_group", "owner", "owner", {"group_id": "{g}"}, 1309),
    ("quit_group", "group member", "member", {"group_id": "{g}"}, ALLOW),
    ("quit_group", "ex-member", "ex", {"group_id": "{g}"}, 1303),
    ("dismiss_group", "owner", "owner", {"group_id": "{g}"}, ALLOW),
    ("dismiss_group", "admin", "admin", {"group_id": "{g}"}, 1002),
    ("dismiss_group", "group member", "member", {"group_id": "{g}"}, 1002),
    ("dismiss_group", "stranger", "stranger", {"group_id": "{g}"}, 1303),
    (
        "invite_user_to_group",
        "admin",
        "admin",
        {"group_id": "{g}", "user_ids": ["stranger"]},
        lambda d, _v: d["joined_user_ids"] == ["stranger"],
    ),
    (
        "invite_user_to_group",
        "group member",
        "member",
        {"group_id": "{g}", "user_ids": ["stranger"]},
        lambda d, _v: d["applied_user_ids"] == ["stranger"] and d["joined_user_ids"] == [],
    ),
    ("invite_user_to_group", "ex-member", "ex", {"group_id": "{g}", "user_ids": ["stranger"]}, 1303),
    ("invite_user_to_group", "stranger", "stranger", {"group_id": "{g}", "user_ids": ["stranger"]}, 1303),
    ("kick_group_member", "owner", "owner", {"group_id": "{g}", "user_ids": ["admin"]}, ALLOW),
    ("kick_group_member", "admin", "admin", {"group_id": "{g}", "user_ids": ["member"]}, ALLOW),
    ("kick_group_member", "admin", "admin", {"group_id": "{g}", "user_ids": ["owner"]}, 1002),
    ("kick_group_member", "group member", "member", {"group_id": "{g}", "user_ids": ["admin"]}, 1002),
    ("kick_group_member", "self", "admin", {"group_id": "{g}", "user_ids": ["admin"]}, 1201),
    ("kick_group_member", "ex-member", "ex", {"group_id": "{g}", "user_ids": ["member"]}, 1303),
    ("transfer_group_owner", "owner", "owner", {"group_id": "{g}", "new_owner_id": "member"}, ALLOW),
    ("transfer_group_owner", "owner", "owner", {"group_id": "{g}", "new_owner_id": "ex"}, 1303),
    ("transfer_group_owner", "admin", "admin", {"group_id": "{g}", "new_owner_id": "admin"}, 1002),
    ("transfer_group_owner", "stranger", "stranger", {"group_id": "{g}", "new_owner_id": "stranger"}, 1303),
    (
        "set_group_member_role_level",
        "owner",
        "owner",
        {"group_id": "{g}", "user_id": "member", "role_level": 60},
        ALLOW,
    ),
    ("set_group_member_role_level", "admin", "admin", {"group_id": "{g}", "user_id": "member", "role_level": 60}, 1002),
    (
        "set_group_member_role_level",
        "group member",
        "member",
        {"group_id": "{g}", "user_id": "member", "role_level": 60},
        1002,
    ),
    ("set_group_member_nickname", "self", "member", {"group_id": "{g}", "user_id": "member", "nickname": "n"}, ALLOW),
    ("set_group_member_nickname", "admin", "admin", {"group_id": "{g}", "user_id": "member", "nickname": "n"}, ALLOW),
    (
        "set_group_member_nickname",
        "group member",
        "member",
        {"group_id": "{g}", "user_id": "admin", "nickname": "n"},
        1002,
    ),
    ("set_group_member_nickname", "ex-member", "ex", {"group_id": "{g}", "user_id": "ex", "nickname": "n"}, 1303),
    ("change_group_mute", "admin", "admin", {"group_id": "{g}", "is_mute": True}, ALLOW),
    ("change_group_mute", "group member", "member", {"group_id": "{g}", "is_mute": True}, 1002),
    ("change_group_mute", "stranger", "stranger", {"group_id": "{g}", "is_mute": True}, 1303),
    ("change_group_member_mute", "owner", "owner", {"group_id": "{g}", "user_id": "admin", "mute_seconds": 60}, ALLOW),
    ("change_group_member_mute", "admin", "admin", {"group_id": "{g}", "user_id": "owner", "mute_seconds": 60}, 1002),
    (
        "change_group_member_mute",
        "group member",
        "member",
        {"group_id": "{g}", "user_id": "admin", "mute_seconds": 60},
        1002,
    ),
    ("get_group_member_list", "group member", "member", {"group_id": "{g}"}, only("owner", "admin", "member")),
    ("get_group_member_list", "ex-member", "ex", {"group_id": "{g}"}, 1303),
    ("get_group_member_list", "stranger", "stranger", {"group_id": "{g}"}, 1303),
    ("get_group_members_info", "group member", "member", {"group_id": "{g}", "user_ids": ["owner"]}, only("owner")),
    ("get_group_members_info", "ex-member", "ex", {"group_id": "{g}", "user_ids": ["owner"]}, 1303),
    ("get_recv_group_application_list", "admin", "admin", {}, lambda d, _v: [a["from_user_id"] for a in d] == ["fan"]),
    ("get_recv_group_application_list", "group member", "member", {}, empty),
    ("get_send_group_application_list", "stranger", "fan", {}, lambda d, v: [a["group_id"] for a in d] == [v["g"]]),
    ("accept_group_application", "admin", "admin", {"group_id": "{g}", "from_user_id": "fan"}, ALLOW),
    ("accept_group_application", "group member", "member", {"group_id": "{g}", "from_user_id": "fan"}, 1002),
    ("accept_group_application", "stranger", "stranger", {"group_id": "{g}", "from_user_id": "fan"}, 1303),
    ("refuse_group_application", "owner", "owner", {"group_id": "{g}", "from_user_id": "fan"}, ALLOW),
    ("refuse_group_application", "group member", "member", {"group_id": "{g}", "from_user_id": "fan"}, 1002),
    ("refuse_group_application", "ex-member", "ex", {"group_id": "{g}", "from_user_id": "fan"}, 1303),
    # group chat
    ("send_message", "group member", "member", {"group_id": "{g}", **TEXT}, ALLOW),
    ("send_message", "ex-member", "ex", {"group_id": "{g}", **TEXT}, 1303),
    ("send_message", "stranger", "stranger", {"group_id": "{g}", **TEXT}, 1303),
    ("get_history_message_list", "group member", "member", {"conversation_id": G_CONV}, ALLOW),
    ("get_history_message_list", "ex-member", "ex", {"conversation_id": G_CONV}, read_window_ends_at_quit),
    ("get_history_message_list", "stranger", "stranger", {"conversation_id": G_CONV}, 1403),
    (
        "pull_messages",
        "stranger",
        "stranger",
        {"ranges": [{"conversation_id": G_CONV, "begin_seq": 1, "end_seq": 50}]},
        1403,
    ),
    (
        "pull_messages",
        "ex-member",
        "ex",
        {"ranges": [{"conversation_id": G_CONV, "begin_seq": 1, "end_seq": 50}]},
        lambda d, v: all(m["seq"] <= v["gseq_ex_quit"] for m in d["messages"]),
    ),
    ("search_messages", "stranger", "stranger", {"keyword": "group", "conversation_id": G_CONV}, 1403),
    ("revoke_message", "owner", "owner", {"conversation_id": G_CONV, "seq": "{gseq_owner}"}, ALLOW),
    ("revoke_message", "group member", "member", {"conversation_id": G_CONV, "seq": "{gseq_owner}"}, 1002),
    ("revoke_message", "stranger", "stranger", {"conversation_id": G_CONV, "seq": "{gseq_owner}"}, 1403),
    ("delete_message", "group member", "member", {"conversation_id": G_CONV, "seq": "{gseq_owner}"}, ALLOW),
    ("delete_message", "stranger", "stranger", {"conversation_id": G_CONV, "seq": "{gseq_owner}"}, 1403),
    ("get_one_conversation", "group member", "member", {"conversation_id": G_CONV}, ALLOW),
    ("get_one_conversation", "stranger", "stranger", {"conversation_id": G_CONV}, 1403),
    ("mark_conversation_message_as_read", "stranger", "stranger", {"conversation_id": G_CONV}, 1403),
    ("set_conversation_draft", "group member", "member", {"conversation_id": G_CONV, "text": "x"}, ALLOW),
    ("delete_conversation", "group member", "member", {"conversation_id": G_CONV}, ALLOW),
] + [
    # every operation that needs a token, with a token that is not good any more (answered first)
    (name, relation, caller, {}, code)
    for name, op in sorted(OPERATIONS.items())
    if op.auth
    for relation, caller, code in TOKEN_STATES
]


def _register(client, user_id):
    client.post("/api/register", json={"user_id": user_id, "password": "password123", "nickname": user_id.title()})


def _login(client, user_id, platform_id=5):
    return client.post(
        "/api/login", json={"user_id": user_id, "password": "password123", "platform_id": platform_id}
    ).get_json()["data"]["token"]


def _ok(client, token, name, payload):
    body = client.post(f"/api/{name}", json=payload, headers={"token": token}).get_json()
    assert body["errCode"] == 0, (name, body)
    return body["data"]


def _build_world(app) -> dict:
    client = app.test_client()
    tokens, values = {}, {}
    for user_id in ("me", "friend", "stranger", "blocker", "owner", "admin", "member", "ex", "fan"):
        _register(client, user_id)
        tokens[user_id] = _login(client, user_id)
    tokens["me:kicked"] = tokens["me"]
    tokens["me"] = _login(client, "me")
    tokens["me:expired"] = _login(client, "me", platform_id=3)
    _ok(client, tokens["me"], "add_friend", {"to_user_id": "friend"})
    _ok(client, tokens["friend"], "accept_friend_application", {"from_user_id": "me"})
    _ok(client, tokens["blocker"], "add_black", {"user_id": "me"})
    _ok(client, tokens["fan"], "add_friend", {"to_user_id": "me"})
    values["seq_me"] = _ok(client, tokens["me"], "send_message", {"recv_id": "friend", **TEXT})["seq"]
    values["seq_friend"] = _ok(client, tokens["friend"], "send_message", {"recv_id": "me", **TEXT})["seq"]
    _ok(
        client,
        tokens["friend"],
        "send_message",
        {"recv_id": "stranger", "content_type": 101, "content": {"text": "a secret between us"}},
    )
    group = _ok(
        client,
        tokens["owner"],
        "create_group",
        {
            "group_name": "Crew",
            "member_user_ids": ["admin", "member", "ex"],
            "admin_user_ids": ["admin"],
            "need_verification": 1,
        },
    )
    values["g"] = group["group_id"]
    for user_id in ("owner", "admin", "member", "ex"):
        values[f"gseq_{user_id}"] = _ok(
            client,
            tokens[user_id],
            "send_message",
            {"group_id": values["g"], "content_type": 101, "content": {"text": f"group text from {user_id}"}},
        )["seq"]
    _ok(client, tokens["ex"], "quit_group", {"group_id": values["g"]})
    values["gseq_ex_quit"] = values["gseq_ex"] + 1
    _ok(client, tokens["owner"], "send_message", {"group_id": values["g"], **TEXT})
    _ok(client, tokens["fan"], "join_group", {"group_id": values["g"], "req_msg": "let me in"})
    with app.app_context():
        expired = _session_id_of(tokens["me:expired"])
        db.session.execute(
            update(LoginSession).where(LoginSession.id == expired).values(expires_at=utcnow().replace(year=2000))
        )
        db.session.commit()
    tokens["admin-secret"] = ADMIN_SECRET
    return {"tokens": tokens, "values": values}


def _session_id_of(token):
    return db.session.execute(
        select(LoginSession.id).where(LoginSession.token_hash == auth.hash_token(token))
    ).scalar_one()


def _snapshot():
    state = {}
    for table in db.metadata.sorted_tables:
        cols = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
        state[table.name] = sorted(map(repr, db.session.execute(select(*cols)).all()))
    db.session.rollback()
    return state


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix")
    template, live = base / "template.sqlite3", base / "live.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{template}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_RATE_LIMITS_ENABLED": False,
            "IM_ADMIN_SECRET": ADMIN_SECRET,
        }
    )
    built = _build_world(app)
    with app.app_context():
        db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()
    app2 = create_app(
        {
            **{
                k: app.config[k]
                for k in (
                    "IM_SOCKETIO_ASYNC_MODE",
                    "IM_ARGON2_TIME_COST",
                    "IM_ARGON2_MEMORY_KIB",
                    "IM_RATE_LIMITS_ENABLED",
                    "IM_ADMIN_SECRET",
                )
            },
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{live}",
        }
    )

    def reset():
        with app2.app_context():
            db.session.remove()
            db.engine.dispose()
        for suffix in ("-wal", "-shm"):
            live.with_name(live.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(template, live)

    return app2, reset, built


def _row_id(row):
    return f"{row[0]}[{row[1]}:{row[2] if row[2] != FORGED else 'forged'}]"


def test_matrix_covers_every_operation_and_relation():
    assert {row[0] for row in MATRIX} == set(OPERATIONS), "every operation needs rows in MATRIX"
    assert {row[1] for row in MATRIX} == RELATIONS


@pytest.mark.parametrize("row", MATRIX, ids=[_row_id(r) for r in MATRIX])
def test_authorization(world, row):
    name, _relation, caller, params, expected = row
    app, reset, built = world
    reset()
    values = built["values"]
    params = _fill_params(params, values)
    headers = {}
    if caller == "admin-secret":
        headers["X-IM-Admin-Secret"] = ADMIN_SECRET
    elif caller is not None:
        headers["token"] = built["tokens"].get(caller, caller)
    client = app.test_client()
    with app.app_context():
        before = _snapshot()
    response = client.post(f"/api/{name}", json=params, headers=headers)
    assert response.status_code < 500
    body = response.get_json()
    if expected == ALLOW or callable(expected):
        assert body["errCode"] == 0, body
        if callable(expected):
            assert expected(body["data"], values), body["data"]
    else:
        assert body["errCode"] == expected, body
        with app.app_context():
            assert _snapshot() == before, "a refused call changed data"


def _fill_params(value, values):
    """Put the world's ids and seqs into params: "{gseq_owner}" becomes that int, "sg_{g}" a string."""
    if isinstance(value, str) and "{" in value:
        key = value[1:-1]
        if value == "{%s}" % key and isinstance(values.get(key), int):
            return values[key]
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill_params(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_params(v, values) for v in value]
    return value
