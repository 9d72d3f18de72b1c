"""Group chat on the message core: who may send and read which seqs, muting, mentions, unread, notices."""

import pytest

from im.extensions import db
from im.models import Message


@pytest.fixture
def chat(api):
    users = {name: api.user(name)[1] for name in ("owner", "admin", "member", "late", "outsider")}
    gid = api.ok(
        "create_group",
        {"group_name": "Chat", "member_user_ids": ["member"], "admin_user_ids": ["admin"]},
        users["owner"],
    )["group_id"]
    return users, gid


def send(api, token, gid, text, **extra):
    return api.ok("send_message", {"group_id": gid, "content_type": 101, "content": {"text": text}, **extra}, token)


def send_err(api, token, payload):
    body = api.call("send_message", payload, token).get_json()
    assert body["errCode"] != 0, body
    return body["errCode"]


def history(api, token, gid):
    data = api.ok("get_history_message_list", {"conversation_id": f"sg_{gid}", "count": 100}, token)
    return [(m["seq"], m["content_type"], m["content"].get("text")) for m in data["messages"]]


def test_group_message_is_stored_once_and_seqs_continue_after_notices(api, app, chat):
    users, gid = chat
    msg = send(api, users["member"], gid, "hello")
    assert msg["conversation_id"] == f"sg_{gid}" and msg["group_id"] == gid and msg["recv_id"] is None
    assert msg["seq"] == 2 and msg["conversation_type"] == 3
    again = send(api, users["member"], gid, "hello", client_msg_id="m-1")
    assert send(api, users["member"], gid, "hello", client_msg_id="m-1") == again
    with app.app_context():
        assert db.session.query(Message).filter_by(group_id=gid, content_type=101).count() == 2
    assert history(api, users["admin"], gid) == [(1, 1501, None), (2, 101, "hello"), (3, 101, "hello")]


def test_late_joiner_reads_from_join_and_leaver_keeps_only_the_past(api, chat):
    users, gid = chat
    send(api, users["owner"], gid, "before late")
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["late"]}, users["admin"])
    join_seq = api.ok("get_group_members_info", {"group_id": gid, "user_ids": ["late"]}, users["late"])[0]["join_seq"]
    assert join_seq == 3
    send(api, users["member"], gid, "after late")
    assert history(api, users["late"], gid) == [(3, 1509, None), (4, 101, "after late")]
    pulled = api.ok(
        "pull_messages", {"ranges": [{"conversation_id": f"sg_{gid}", "begin_seq": 1, "end_seq": 10}]}, users["late"]
    )
    assert [m["seq"] for m in pulled["messages"]] == [3, 4]

    api.ok("kick_group_member", {"group_id": gid, "user_ids": ["late"]}, users["owner"])
    send(api, users["member"], gid, "after kick")
    assert (
        send_err(api, users["late"], {"group_id": gid, "content_type": 101, "content": {"text": "let me back"}}) == 1303
    )
    assert history(api, users["late"], gid) == [(3, 1509, None), (4, 101, "after late"), (5, 1508, None)]
    maxes = api.ok("get_max_seqs", {}, users["late"])["conversations"][f"sg_{gid}"]
    assert maxes["max_seq"] == 5 and maxes["min_seq"] == 3
    assert history(api, users["member"], gid)[-1] == (6, 101, "after kick")


def test_outsiders_can_neither_send_nor_read(api, chat):
    users, gid = chat
    send(api, users["member"], gid, "secret")
    payload = {"group_id": gid, "content_type": 101, "content": {"text": "hi"}}
    assert send_err(api, users["outsider"], payload) == 1303
    assert send_err(api, users["outsider"], {**payload, "group_id": "nope"}) == 1301
    assert send_err(api, users["outsider"], {**payload, "recv_id": "owner"}) == 1001
    body = api.call("get_history_message_list", {"conversation_id": f"sg_{gid}"}, users["outsider"]).get_json()
    assert body["errCode"] == 1403
    body = api.call(
        "pull_messages", {"ranges": [{"conversation_id": f"sg_{gid}", "begin_seq": 1, "end_seq": 5}]}, users["outsider"]
    ).get_json()
    assert body["errCode"] == 1403
    assert history(api, users["member"], gid)[-1] == (2, 101, "secret")


def test_muting(api, chat):
    users, gid = chat
    text = {"group_id": gid, "content_type": 101, "content": {"text": "x"}}
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 600}, users["admin"])
    body = api.call("send_message", text, users["member"]).get_json()
    assert body["errCode"] == 1307 and body["data"]["mute_end_time"] > 0
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 0}, users["admin"])
    send(api, users["member"], gid, "free again")
    api.ok("change_group_mute", {"group_id": gid, "is_mute": True}, users["owner"])
    assert send_err(api, users["member"], text) == 1306
    send(api, users["admin"], gid, "admins speak")
    send(api, users["owner"], gid, "owners speak")
    api.ok("change_group_mute", {"group_id": gid, "is_mute": False}, users["admin"])
    send(api, users["member"], gid, "all speak")
    types = [t for _s, t, _x in history(api, users["member"], gid)]
    assert types == [1501, 1512, 1513, 101, 1514, 101, 101, 1515, 101]


def test_mentions(api, chat):
    users, gid = chat

    def at(token, ids):
        return api.call(
            "send_message",
            {"group_id": gid, "content_type": 106, "content": {"text": "hey", "at_user_ids": ids}},
            token,
        ).get_json()

    assert at(users["member"], ["admin"])["errCode"] == 0
    assert at(users["member"], ["AtAllTag"])["errCode"] == 1002
    refused = at(users["member"], ["outsider", "admin"])
    assert refused["errCode"] == 1404 and refused["data"]["user_ids"] == ["outsider"]
    ok = at(users["admin"], ["AtAllTag"])
    assert ok["errCode"] == 0 and ok["data"]["content"]["at_user_ids"] == ["AtAllTag"]
    assert at(users["owner"], "admin")["errCode"] == 1001  # not a list: refused by the parameter shape
    assert [t for _s, t, _x in history(api, users["owner"], gid)] == [1501, 106, 106]


def test_group_unread_and_read_state_per_member(api, chat):
    users, gid = chat
    cid = f"sg_{gid}"

    def unread(name):
        return api.ok("get_one_conversation", {"conversation_id": cid}, users[name])["unread_count"]

    assert (unread("owner"), unread("admin"), unread("member")) == (0, 1, 1)
    for i in range(3):
        send(api, users["member"], gid, f"m{i}")
    assert (unread("owner"), unread("admin"), unread("member")) == (3, 4, 0)
    api.ok("mark_conversation_message_as_read", {"conversation_id": cid}, users["admin"])
    assert (unread("owner"), unread("admin"), unread("member")) == (3, 0, 0)
    assert api.ok("get_total_unread_msg_count", {}, users["owner"]) == 3
    api.ok("quit_group", {"group_id": gid}, users["member"])
    send(api, users["owner"], gid, "after quit")
    # The member read everything up to their own message; only their quit notice (theirs) follows.
    assert (unread("owner"), unread("admin"), unread("member")) == (0, 2, 0)


def test_notices_cannot_be_revoked(api, chat):
    users, gid = chat
    body = api.call("revoke_message", {"conversation_id": f"sg_{gid}", "seq": 1}, users["owner"]).get_json()
    assert body["errCode"] == 1002
    mine = send(api, users["owner"], gid, "oops")
    assert api.ok("revoke_message", {"conversation_id": f"sg_{gid}", "seq": mine["seq"]}, users["owner"])["status"] == 2


def test_dismissed_group_keeps_history_and_refuses_messages(api, chat):
    users, gid = chat
    send(api, users["member"], gid, "last words")
    api.ok("dismiss_group", {"group_id": gid}, users["owner"])
    assert send_err(api, users["owner"], {"group_id": gid, "content_type": 101, "content": {"text": "x"}}) == 1304
    assert history(api, users["member"], gid) == [(1, 1501, None), (2, 101, "last words"), (3, 1511, None)]


def test_fan_out_is_one_write_and_one_emit_per_member_whatever_the_size(api, app, monkeypatch):
    from sqlalchemy import event

    import im.push

    _, owner = api.user("big-owner")
    emitted = []
    monkeypatch.setattr(im.push.socketio, "emit", lambda name, payload, to=None: emitted.append((name, to)))

    def cost(size):
        ids = [api.user(f"m{size}-{i}")[0] for i in range(size)]
        gid = api.ok("create_group", {"group_name": "Big", "member_user_ids": ids}, owner)["group_id"]
        writes = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
                writes.append(statement)

        emitted.clear()
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                send(api, owner, gid, "to everyone")
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
        # An emit may name one room or, batched, a list of rooms.
        rooms = [
            room for name, to in emitted if name == "new_message" for room in (to if isinstance(to, list) else [to])
        ]
        return writes, sorted(rooms)

    small_writes, small_rooms = cost(3)
    big_writes, big_rooms = cost(40)
    assert len(small_writes) == len(big_writes)
    assert sum(w.lstrip().startswith("INSERT INTO messages") for w in big_writes) == 1
    assert len(small_rooms) == 4 and len(big_rooms) == 41 and len(set(big_rooms)) == 41


def test_rejoining_member_reads_from_the_new_join_only(api, chat):
    users, gid = chat
    send(api, users["owner"], gid, "while in")
    api.ok("quit_group", {"group_id": gid}, users["member"])
    send(api, users["owner"], gid, "while out")
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["member"]}, users["owner"])
    send(api, users["owner"], gid, "back in")
    assert history(api, users["member"], gid) == [(5, 1509, None), (6, 101, "back in")]
    conv = api.ok("get_one_conversation", {"conversation_id": f"sg_{gid}"}, users["member"])
    assert conv["min_seq"] == 5 and conv["unread_count"] == 2


def _count_messages(app, gid):
    with app.app_context():
        return db.session.query(Message).filter_by(group_id=gid).count()


def test_a_muted_member_cannot_broadcast_through_a_nickname(api, app, chat):
    """A nickname change is a notice to every member: whoever may not speak may not say it that way."""
    users, gid = chat
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 600}, users["admin"])
    before = _count_messages(app, gid)
    body = api.call(
        "set_group_member_nickname",
        {"group_id": gid, "user_id": "member", "nickname": "buy cheap pills"},
        users["member"],
    ).get_json()
    assert body["errCode"] == 1307 and body["data"]["mute_end_time"] > 0
    assert _count_messages(app, gid) == before
    # A manager may still rename the muted member: the manager is the one speaking.
    renamed = api.ok(
        "set_group_member_nickname", {"group_id": gid, "user_id": "member", "nickname": "M"}, users["admin"]
    )
    assert renamed["nickname"] == "M"
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 0}, users["admin"])
    api.ok("change_group_mute", {"group_id": gid, "is_mute": True}, users["owner"])
    body = api.call(
        "set_group_member_nickname", {"group_id": gid, "user_id": "member", "nickname": "x"}, users["member"]
    ).get_json()
    assert body["errCode"] == 1306
    api.ok("set_group_member_nickname", {"group_id": gid, "user_id": "admin", "nickname": "A"}, users["admin"])


def _mute_end(api, token, gid, user_id):
    return api.ok("get_group_members_info", {"group_id": gid, "user_ids": [user_id]}, token)[0]["mute_end_time"]


def test_a_mute_holds_across_quitting_and_rejoining(api, app, chat):
    users, gid = chat
    text = {"group_id": gid, "content_type": 101, "content": {"text": "x"}}
    muted = api.ok(
        "change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 600}, users["admin"]
    )
    # Quit, then join again directly (need_verification 2): still muted, until the same end.
    api.ok("set_group_info", {"group_id": gid, "need_verification": 2}, users["owner"])
    api.ok("quit_group", {"group_id": gid}, users["member"])
    assert api.ok("join_group", {"group_id": gid}, users["member"])["joined"] is True
    assert send_err(api, users["member"], text) == 1307
    assert _mute_end(api, users["owner"], gid, "member") == muted["mute_end_time"]
    # Kicked, then invited back: still muted.
    api.ok("kick_group_member", {"group_id": gid, "user_ids": ["member"]}, users["admin"])
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["member"]}, users["admin"])
    assert send_err(api, users["member"], text) == 1307
    # Through an accepted application (need_verification 0): still muted.
    api.ok("set_group_info", {"group_id": gid, "need_verification": 0}, users["owner"])
    api.ok("quit_group", {"group_id": gid}, users["member"])
    api.ok("join_group", {"group_id": gid, "req_msg": "sorry"}, users["member"])
    api.ok("accept_group_application", {"group_id": gid, "from_user_id": "member"}, users["admin"])
    assert send_err(api, users["member"], text) == 1307
    # A lifted mute is not brought back by leaving and coming back.
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 0}, users["admin"])
    api.ok("kick_group_member", {"group_id": gid, "user_ids": ["member"]}, users["admin"])
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["member"]}, users["admin"])
    send(api, users["member"], gid, "free")
    assert _mute_end(api, users["owner"], gid, "member") == 0


def test_a_mute_that_ended_while_away_is_not_brought_back(api, app, chat):
    from datetime import timedelta

    from im.models import GroupLeftMute, utcnow

    users, gid = chat
    api.ok("change_group_member_mute", {"group_id": gid, "user_id": "member", "mute_seconds": 600}, users["admin"])
    api.ok("quit_group", {"group_id": gid}, users["member"])
    with app.app_context():
        kept = db.session.get(GroupLeftMute, (gid, "member"))
        kept.mute_end_time = utcnow() - timedelta(seconds=1)
        db.session.commit()
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["member"]}, users["admin"])
    send(api, users["member"], gid, "served my time")
    with app.app_context():
        assert db.session.get(GroupLeftMute, (gid, "member")) is None
