"""Groups over REST: roles, applications, muting, limits, and every permission breach changing nothing."""

import pytest

from im.extensions import db
from im.models import ConversationState, Group, GroupApplication, GroupMember, Message, User


@pytest.fixture
def crew(api):
    """owner, admin, member, outsider: (user_id, token) each, and a group of the first three."""
    users = {name: api.user(name) for name in ("owner", "admin", "member", "outsider")}
    group = api.ok(
        "create_group",
        {"group_name": "Crew", "member_user_ids": ["member"], "admin_user_ids": ["admin"]},
        users["owner"][1],
    )
    return users, group["group_id"]


def tok(users, name):
    return users[name][1]


def err(api, name, payload, token):
    body = api.call(name, payload, token).get_json()
    assert body["errCode"] != 0, body
    return body["errCode"]


def snapshot(app, group_id):
    """Everything a refused call must leave as it was."""
    with app.app_context():
        group = db.session.get(Group, group_id)
        members = sorted(
            (m.user_id, m.role_level, m.nickname, m.mute_end_time)
            for m in db.session.query(GroupMember).filter_by(group_id=group_id)
        )
        apps = sorted(
            (a.from_user_id, a.handle_result) for a in db.session.query(GroupApplication).filter_by(group_id=group_id)
        )
        windows = sorted(
            (s.user_id, s.min_seq, s.max_readable_seq, s.has_read_seq)
            for s in db.session.query(ConversationState).filter_by(group_id=group_id)
        )
        messages = db.session.query(Message).filter_by(group_id=group_id).count()
        seqs = sorted((u.user_id, u.event_seq) for u in db.session.query(User))
        return group.public(), members, apps, windows, messages, seqs


def event_types(api, token):
    return [e["type"] for e in api.ok("sync_events", {"after_seq": 0}, token)["events"]]


def notices(api, token, gid):
    """(content_type, detail) of the group notices the caller can read, oldest first."""
    page = api.ok("get_history_message_list", {"conversation_id": f"sg_{gid}", "count": 100}, token)
    return [(m["content_type"], m["content"]["detail"]) for m in page["messages"] if m["content_type"] >= 1500]


def member_changes(api, token, gid, content_types):
    """The member records the notices of these types carry, in order: what the SDKs hand to the listener."""
    return [m for t, d in notices(api, token, gid) if t in content_types for m in d.get("members", [])]


def test_create_group_roles_lists_and_events(api, crew):
    users, gid = crew
    info = api.ok("get_groups_info", {"group_ids": [gid, "nope"]}, tok(users, "outsider"))
    assert len(info) == 1 and info[0]["owner_user_id"] == "owner" and info[0]["member_count"] == 3
    assert info[0]["conversation_id"] == f"sg_{gid}" and info[0]["need_verification"] == 0
    members = api.ok("get_group_member_list", {"group_id": gid}, tok(users, "member"))
    assert [(m["user_id"], m["role_level"]) for m in members] == [("owner", 100), ("admin", 60), ("member", 20)]
    page = api.ok("get_group_member_list", {"group_id": gid, "offset": 1, "count": 1}, tok(users, "owner"))
    assert [m["user_id"] for m in page] == ["admin"]
    assert [g["group_id"] for g in api.ok("get_joined_group_list", {}, tok(users, "admin"))] == [gid]
    assert api.ok("get_joined_group_list", {}, tok(users, "outsider")) == []
    for name in ("owner", "admin", "member"):
        assert event_types(api, tok(users, name)) == ["joined_group_added"]
    assert event_types(api, tok(users, "outsider")) == []


def test_create_group_refuses_unknown_users_and_too_many(api, app):
    _, token = api.user("boss")
    assert err(api, "create_group", {"group_name": "G", "member_user_ids": ["ghost"]}, token) == 1101
    app.config["IM_GROUP_MAX_MEMBERS"] = 2
    api.user("a"), api.user("b")
    assert err(api, "create_group", {"group_name": "G", "member_user_ids": ["a", "b"]}, token) == 1305
    with app.app_context():
        assert db.session.query(Group).count() == 0 and db.session.query(GroupMember).count() == 0


@pytest.mark.parametrize(
    "actor, op, payload, code",
    [
        ("member", "kick_group_member", {"user_ids": ["owner"]}, 1002),
        ("admin", "kick_group_member", {"user_ids": ["owner"]}, 1002),
        ("owner", "kick_group_member", {"user_ids": ["owner"]}, 1201),
        ("owner", "kick_group_member", {"user_ids": ["outsider"]}, 1303),
        ("admin", "dismiss_group", {}, 1002),
        ("member", "dismiss_group", {}, 1002),
        ("outsider", "dismiss_group", {}, 1303),
        ("admin", "transfer_group_owner", {"new_owner_id": "admin"}, 1002),
        ("owner", "transfer_group_owner", {"new_owner_id": "outsider"}, 1303),
        ("owner", "transfer_group_owner", {"new_owner_id": "owner"}, 1201),
        ("admin", "set_group_member_role_level", {"user_id": "member", "role_level": 60}, 1002),
        ("owner", "set_group_member_role_level", {"user_id": "owner", "role_level": 20}, 1201),
        ("owner", "set_group_member_role_level", {"user_id": "member", "role_level": 100}, 1001),
        ("member", "set_group_info", {"group_name": "Mine"}, 1002),
        ("outsider", "set_group_info", {"group_name": "Mine"}, 1303),
        ("member", "change_group_mute", {"is_mute": True}, 1002),
        ("member", "change_group_member_mute", {"user_id": "admin", "mute_seconds": 60}, 1002),
        ("admin", "change_group_member_mute", {"user_id": "owner", "mute_seconds": 60}, 1002),
        ("owner", "change_group_member_mute", {"user_id": "owner", "mute_seconds": 60}, 1201),
        ("owner", "change_group_member_mute", {"user_id": "member", "mute_seconds": -1}, 1001),
        ("member", "set_group_member_nickname", {"user_id": "admin", "nickname": "x"}, 1002),
        ("admin", "set_group_member_nickname", {"user_id": "owner", "nickname": "x"}, 1002),
        ("owner", "quit_group", {}, 1309),
        ("outsider", "quit_group", {}, 1303),
        ("outsider", "get_group_member_list", {}, 1303),
        ("outsider", "get_group_members_info", {"user_ids": ["owner"]}, 1303),
        ("outsider", "invite_user_to_group", {"user_ids": ["outsider"]}, 1303),
        ("owner", "invite_user_to_group", {"user_ids": ["member"]}, 1302),
        ("owner", "invite_user_to_group", {"user_ids": ["ghost"]}, 1101),
        ("member", "join_group", {}, 1302),
        ("member", "accept_group_application", {"from_user_id": "outsider"}, 1002),
        ("owner", "accept_group_application", {"from_user_id": "outsider"}, 1308),
        ("owner", "refuse_group_application", {"from_user_id": "outsider"}, 1308),
        ("owner", "kick_group_member", {"user_ids": ["member"], "extra": 1}, 1001),
        ("owner", "join_group", {"req_msg": 5}, 1001),
        ("owner", "set_group_info", {"need_verification": True}, 1001),
        ("owner", "set_group_info", {"need_verification": 3}, 1001),
        ("owner", "set_group_info", {"group_name": "   "}, 1001),
        ("owner", "change_group_mute", {"is_mute": 1}, 1001),
        ("owner", "set_group_member_role_level", {"user_id": "member", "role_level": True}, 1001),
    ],
)
def test_permission_breaches_and_bad_input_change_nothing(api, app, crew, actor, op, payload, code):
    users, gid = crew
    before = snapshot(app, gid)
    assert err(api, op, {"group_id": gid, **payload}, tok(users, actor)) == code
    assert snapshot(app, gid) == before


def test_unknown_and_dismissed_groups(api, app, crew):
    users, gid = crew
    assert err(api, "join_group", {"group_id": "nope"}, tok(users, "outsider")) == 1301
    assert err(api, "get_group_member_list", {"group_id": "bad id"}, tok(users, "owner")) == 1001
    api.ok("dismiss_group", {"group_id": gid}, tok(users, "owner"))
    for name in ("owner", "admin", "member"):
        assert event_types(api, tok(users, name))[-1] == "group_dismissed"
        assert api.ok("get_joined_group_list", {}, tok(users, name)) == []
    assert api.ok("get_groups_info", {"group_ids": [gid]}, tok(users, "owner"))[0]["status"] == 2
    before = snapshot(app, gid)
    assert err(api, "join_group", {"group_id": gid}, tok(users, "outsider")) == 1304
    assert err(api, "dismiss_group", {"group_id": gid}, tok(users, "owner")) == 1304
    assert err(api, "set_group_info", {"group_id": gid, "group_name": "x"}, tok(users, "owner")) == 1304
    assert snapshot(app, gid) == before


def test_dismissing_deletes_pending_applications_and_handling_one_afterwards_answers_1304(api, app, crew):
    users, gid = crew
    _, late = api.user("late")
    _, refused = api.user("refused")
    _, invitee = api.user("invitee")
    api.ok("join_group", {"group_id": gid, "req_msg": "let me in"}, tok(users, "outsider"))
    api.ok("join_group", {"group_id": gid}, late)
    api.ok("join_group", {"group_id": gid}, refused)
    api.ok("refuse_group_application", {"group_id": gid, "from_user_id": "refused"}, tok(users, "admin"))
    api.ok("set_group_info", {"group_id": gid, "need_verification": 1}, tok(users, "owner"))
    invited = api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["invitee"]}, tok(users, "member"))
    assert invited["applied_user_ids"] == ["invitee"]
    pending = {
        a["from_user_id"]
        for a in api.ok("get_recv_group_application_list", {}, tok(users, "admin"))
        if a["handle_result"] == 0
    }
    assert pending == {"outsider", "late", "invitee"}
    seqs = {
        name: api.ok("sync_events", {}, token)["max_seq"]
        for name, token in [
            ("outsider", tok(users, "outsider")),
            ("late", late),
            ("invitee", invitee),
            ("refused", refused),
            ("admin", tok(users, "admin")),
            ("member", tok(users, "member")),
        ]
    }

    api.ok("dismiss_group", {"group_id": gid}, tok(users, "owner"))

    def news(name, token):
        return [
            (
                e["type"],
                e["data"].get("from_user_id") or [a["from_user_id"] for a in e["data"].get("applications", [])] or None,
            )
            for e in api.ok("sync_events", {"after_seq": seqs[name]}, token)["events"]
        ]

    # each applicant hears that their application is gone
    for name, token in [("outsider", tok(users, "outsider")), ("late", late), ("invitee", invitee)]:
        assert news(name, token) == [("group_application_deleted", name)]
        assert api.ok("get_send_group_application_list", {}, token) == []
    # the managers hear of all three in one event, then the end
    gone = ("group_applications_deleted", ["outsider", "late", "invitee"])
    assert news("admin", tok(users, "admin")) == [gone, ("group_dismissed", None)]
    assert news("member", tok(users, "member")) == [("group_dismissed", None)]
    # an application already answered stays in its applicant's list as it was, and hears nothing
    assert news("refused", refused) == []
    assert [a["handle_result"] for a in api.ok("get_send_group_application_list", {}, refused)] == [-1]
    with app.app_context():
        assert db.session.query(GroupApplication).filter_by(group_id=gid, handle_result=0).count() == 0

    before = snapshot(app, gid)
    for actor in ("owner", "admin"):
        for op in ("accept_group_application", "refuse_group_application"):
            for applicant in ("outsider", "refused"):
                assert err(api, op, {"group_id": gid, "from_user_id": applicant}, tok(users, actor)) == 1304
    assert (
        err(api, "accept_group_application", {"group_id": gid, "from_user_id": "outsider"}, tok(users, "member"))
        == 1304
    )
    assert err(api, "join_group", {"group_id": gid}, late) == 1304
    assert snapshot(app, gid) == before


def test_need_verification_0_apply_then_accept_and_refuse(api, crew):
    users, gid = crew
    _, late = api.user("late")
    answer = api.ok("join_group", {"group_id": gid, "req_msg": "let me in"}, tok(users, "outsider"))
    assert answer["joined"] is False and answer["application"]["req_msg"] == "let me in"
    api.ok("join_group", {"group_id": gid}, late)
    recv = api.ok("get_recv_group_application_list", {}, tok(users, "admin"))
    assert {a["from_user_id"] for a in recv} == {"outsider", "late"}
    assert api.ok("get_recv_group_application_list", {}, tok(users, "member")) == []
    assert [a["group_id"] for a in api.ok("get_send_group_application_list", {}, late)] == [gid]
    accepted = api.ok(
        "accept_group_application",
        {"group_id": gid, "from_user_id": "outsider", "handle_msg": "welcome"},
        tok(users, "admin"),
    )
    assert accepted["handle_result"] == 1 and accepted["handle_user_id"] == "admin"
    refused = api.ok("refuse_group_application", {"group_id": gid, "from_user_id": "late"}, tok(users, "owner"))
    assert refused["handle_result"] == -1
    assert err(api, "accept_group_application", {"group_id": gid, "from_user_id": "late"}, tok(users, "owner")) == 1206
    assert event_types(api, tok(users, "outsider")) == [
        "group_application_added",
        "group_application_accepted",
        "joined_group_added",
    ]
    assert event_types(api, late) == ["group_application_added", "group_application_rejected"]
    # Everyone learns of the newcomer from the one notice, not from an event each.
    assert "group_member_added" not in event_types(api, tok(users, "member"))
    added = member_changes(api, tok(users, "member"), gid, {1510})
    assert [(m["user_id"], m["role_level"], m["join_source"]) for m in added] == [("outsider", 20, 3)]
    assert member_changes(api, tok(users, "outsider"), gid, {1510}) == added
    assert "group_application_added" not in event_types(api, tok(users, "member"))
    members = api.ok(
        "get_group_members_info", {"group_id": gid, "user_ids": ["outsider", "late"]}, tok(users, "member")
    )
    assert [m["user_id"] for m in members] == ["outsider"] and members[0]["join_source"] == 3


def test_member_invites_by_verification_level(api, crew):
    users, gid = crew
    api.user("x1"), api.user("x2"), api.user("x3")
    # 0: a member's invitation joins directly.
    done = api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["x1"]}, tok(users, "member"))
    assert done == {"joined_user_ids": ["x1"], "applied_user_ids": []}
    # 1: a member's invitation becomes an application; an admin's joins directly.
    api.ok("set_group_info", {"group_id": gid, "need_verification": 1}, tok(users, "admin"))
    done = api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["x2"]}, tok(users, "member"))
    assert done == {"joined_user_ids": [], "applied_user_ids": ["x2"]}
    app = api.ok("get_recv_group_application_list", {}, tok(users, "owner"))[0]
    assert app["from_user_id"] == "x2" and app["inviter_user_id"] == "member" and app["join_source"] == 2
    # Inviting a pending applicant directly deletes the application.
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["x2"]}, tok(users, "admin"))
    assert api.ok("get_recv_group_application_list", {}, tok(users, "owner")) == []
    _, x2 = users_x2 = ("x2", api.login("x2"))
    assert "group_application_deleted" in event_types(api, x2)
    # 2: anyone joins directly.
    api.ok("set_group_info", {"group_id": gid, "need_verification": 2}, tok(users, "owner"))
    _, x3 = "x3", api.login("x3")
    assert api.ok("join_group", {"group_id": gid}, x3) == {"joined": True, "application": None}
    info = api.ok("get_groups_info", {"group_ids": [gid]}, x3)[0]
    assert info["member_count"] == 6


def test_group_full(api, app, crew):
    users, gid = crew
    app.config["IM_GROUP_MAX_MEMBERS"] = 3
    before = snapshot(app, gid)
    assert err(api, "invite_user_to_group", {"group_id": gid, "user_ids": ["outsider"]}, tok(users, "owner")) == 1305
    assert err(api, "join_group", {"group_id": gid}, tok(users, "outsider")) == 1305
    assert snapshot(app, gid) == before


def test_roles_transfer_nickname_and_mutes(api, crew):
    users, gid = crew
    promoted = api.ok(
        "set_group_member_role_level", {"group_id": gid, "user_id": "member", "role_level": 60}, tok(users, "owner")
    )
    assert promoted["role_level"] == 60
    # an admin cannot kick or mute another admin
    assert err(api, "kick_group_member", {"group_id": gid, "user_ids": ["member"]}, tok(users, "admin")) == 1002
    api.ok("set_group_member_role_level", {"group_id": gid, "user_id": "member", "role_level": 20}, tok(users, "owner"))
    mine = api.ok(
        "set_group_member_nickname", {"group_id": gid, "user_id": "member", "nickname": "M"}, tok(users, "member")
    )
    assert mine["nickname"] == "M"
    muted = api.ok(
        "change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 600}, tok(users, "admin")
    )
    assert muted["mute_end_time"] > 0
    lifted = api.ok(
        "change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 0}, tok(users, "admin")
    )
    assert lifted["mute_end_time"] == 0
    group = api.ok("change_group_mute", {"group_id": gid, "is_mute": True}, tok(users, "admin"))
    assert group["status"] == 3
    group = api.ok("transfer_group_owner", {"group_id": gid, "new_owner_id": "admin"}, tok(users, "owner"))
    assert group["owner_user_id"] == "admin"
    roles = {
        m["user_id"]: m["role_level"] for m in api.ok("get_group_member_list", {"group_id": gid}, tok(users, "owner"))
    }
    assert roles == {"owner": 20, "admin": 100, "member": 20}
    assert err(api, "dismiss_group", {"group_id": gid}, tok(users, "owner")) == 1002
    member_events = event_types(api, tok(users, "member"))
    assert "group_member_info_changed" not in member_events
    assert member_events.count("group_info_changed") == 2
    changed = member_changes(api, tok(users, "member"), gid, {1507, 1512, 1513, 1516, 1517, 1518})
    # 2 roles, nickname, 2 mutes, transfer x2: each record as it was right after its change.
    assert [(m["user_id"], m["role_level"], m["nickname"], m["mute_end_time"] > 0) for m in changed] == [
        ("member", 60, "", False),
        ("member", 20, "", False),
        ("member", 20, "M", False),
        ("member", 20, "M", True),
        ("member", 20, "M", False),
        ("owner", 20, "", False),
        ("admin", 100, "", False),
    ]


def test_quit_and_kick(api, app, crew):
    users, gid = crew
    api.ok("quit_group", {"group_id": gid}, tok(users, "member"))
    assert event_types(api, tok(users, "member"))[-1] == "joined_group_deleted"
    assert [m["user_id"] for m in member_changes(api, tok(users, "member"), gid, {1504})] == ["member"]
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["outsider", "member"]}, tok(users, "admin"))
    api.ok(
        "kick_group_member",
        {"group_id": gid, "user_ids": ["outsider", "member"], "reason": "spam"},
        tok(users, "admin"),
    )
    assert event_types(api, tok(users, "outsider"))[-2:] == ["joined_group_added", "joined_group_deleted"]
    # The kicked read the notice of their removal: who went, and why.
    kicked = [(t, d) for t, d in notices(api, tok(users, "outsider"), gid) if t == 1508]
    assert [(m["user_id"]) for m in kicked[0][1]["members"]] == ["outsider", "member"]
    assert kicked[0][1]["reason"] == "spam"
    roles = [m["user_id"] for m in api.ok("get_group_member_list", {"group_id": gid}, tok(users, "owner"))]
    assert roles == ["owner", "admin"]
    assert err(api, "get_group_member_list", {"group_id": gid}, tok(users, "member")) == 1303
    with app.app_context():
        assert db.session.get(Group, gid).member_count == 2
