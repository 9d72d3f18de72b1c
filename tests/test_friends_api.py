"""Friends and blacklist over REST and socket: OpenIM semantics, events, and refusals that change nothing."""

import pytest


def events(api, token, after=0):
    return [(e["type"], e["data"]) for e in api.ok("sync_events", {"after_seq": after}, token)["events"]]


def types(api, token, after=0):
    return [t for t, _ in events(api, token, after)]


def state(api, token):
    """Everything a friends call could change for one user, to prove a refusal changed nothing."""
    return {
        name: api.ok(name, {}, token)
        for name in (
            "get_friend_list",
            "get_black_list",
            "get_recv_friend_application_list",
            "get_send_friend_application_list",
            "sync_events",
        )
    }


def befriend(api, a, b):
    (a_id, a_tok), (b_id, b_tok) = a, b
    api.ok("add_friend", {"to_user_id": b_id, "req_msg": "hi"}, a_tok)
    api.ok("accept_friend_application", {"from_user_id": a_id}, b_tok)


def test_apply_and_accept(api):
    (a, ta), (b, tb) = api.user(), api.user()
    app = api.ok("add_friend", {"to_user_id": b, "req_msg": "hello"}, ta)
    assert app["from_user_id"] == a and app["to_user_id"] == b and app["req_msg"] == "hello"
    assert app["handle_result"] == 0 and app["handled_at"] is None and app["created_at"] > 0
    assert app["from_nickname"] == a.title()
    assert api.ok("get_send_friend_application_list", {}, ta) == [app]
    assert api.ok("get_recv_friend_application_list", {}, tb) == [app]
    assert api.ok("get_recv_friend_application_list", {}, ta) == []
    assert events(api, ta) == events(api, tb) == [("friend_application_added", app)]

    done = api.ok("accept_friend_application", {"from_user_id": a, "handle_msg": "welcome"}, tb)
    assert done["handle_result"] == 1 and done["handle_msg"] == "welcome"
    assert done["handled_at"] >= done["created_at"]
    a_list, b_list = api.ok("get_friend_list", {}, ta), api.ok("get_friend_list", {}, tb)
    assert [f["user_id"] for f in a_list] == [b] and [f["user_id"] for f in b_list] == [a]
    assert set(a_list[0]) >= {"user_id", "nickname", "face_url", "remark", "created_at"}
    assert (
        types(api, ta) == types(api, tb) == ["friend_application_added", "friend_application_accepted", "friend_added"]
    )
    assert events(api, ta)[2][1] == a_list[0] and events(api, tb)[2][1] == b_list[0]
    assert api.ok("check_friend", {"user_ids": [b, "ghost", b]}, ta) == [
        {"user_id": b, "result": 1},
        {"user_id": "ghost", "result": 0},
    ]


def test_applying_again_renews_one_application(api):
    (a, ta), (b, tb) = api.user(), api.user()
    api.ok("add_friend", {"to_user_id": b, "req_msg": "first"}, ta)
    api.ok("add_friend", {"to_user_id": b, "req_msg": "second"}, ta)
    recv = api.ok("get_recv_friend_application_list", {}, tb)
    assert [r["req_msg"] for r in recv] == ["second"]
    api.ok("refuse_friend_application", {"from_user_id": a, "handle_msg": "no"}, tb)
    assert api.ok("get_send_friend_application_list", {}, ta)[0]["handle_result"] == -1
    assert (
        types(api, ta)
        == types(api, tb)
        == ["friend_application_added", "friend_application_added", "friend_application_rejected"]
    )
    again = api.ok("add_friend", {"to_user_id": b, "req_msg": "third"}, ta)
    assert again["handle_result"] == 0 and again["handle_msg"] == "" and again["handled_at"] is None
    assert len(api.ok("get_recv_friend_application_list", {}, tb)) == 1


def test_accept_settles_the_reverse_application(api):
    (a, ta), (b, tb) = api.user(), api.user()
    api.ok("add_friend", {"to_user_id": b}, ta)
    api.ok("add_friend", {"to_user_id": a}, tb)
    api.ok("accept_friend_application", {"from_user_id": a}, tb)
    assert [x["handle_result"] for x in api.ok("get_send_friend_application_list", {}, tb)] == [1]
    assert api.call("accept_friend_application", {"from_user_id": b}, ta).get_json()["errCode"] == 1206
    assert types(api, ta).count("friend_application_accepted") == 2
    assert types(api, ta).count("friend_added") == 1


def test_delete_is_one_way_and_reapply_restores(api):
    a, b = api.user(), api.user()
    befriend(api, a, b)
    (a_id, ta), (b_id, tb) = a, b
    before_b = types(api, tb)
    gone = api.ok("delete_friend", {"user_id": b_id}, ta)
    assert gone["user_id"] == b_id
    assert api.ok("get_friend_list", {}, ta) == []
    assert [f["user_id"] for f in api.ok("get_friend_list", {}, tb)] == [a_id]
    assert types(api, ta)[-1] == "friend_deleted" and types(api, tb) == before_b
    # no longer friends in both directions: either may apply again
    api.ok("add_friend", {"to_user_id": b_id}, ta)
    api.ok("accept_friend_application", {"from_user_id": a_id}, tb)
    assert [f["user_id"] for f in api.ok("get_friend_list", {}, ta)] == [b_id]
    assert types(api, ta)[-1] == "friend_added"
    assert "friend_added" not in types(api, tb)[len(before_b) :]


def test_blacklist_refuses_applications_and_keeps_friendship(api):
    a, b = api.user(), api.user()
    befriend(api, a, b)
    (a_id, ta), (b_id, tb) = a, b
    black = api.ok("add_black", {"user_id": b_id}, ta)
    assert black["user_id"] == b_id and black["owner_user_id"] == a_id
    assert api.ok("get_black_list", {}, ta) == [black]
    assert api.ok("get_black_list", {}, tb) == []
    assert types(api, ta)[-1] == "black_added" and "black_added" not in types(api, tb)
    assert api.ok("check_friend", {"user_ids": [b_id]}, ta)[0]["result"] == 1
    api.ok("delete_friend", {"user_id": a_id}, tb)
    snapshot = (state(api, ta), state(api, tb))
    body = api.call("add_friend", {"to_user_id": a_id}, tb).get_json()
    assert body["errCode"] == 1204
    assert (state(api, ta), state(api, tb)) == snapshot
    api.ok("remove_black", {"user_id": b_id}, ta)
    assert types(api, ta)[-1] == "black_deleted"
    api.ok("add_friend", {"to_user_id": a_id}, tb)


def test_remark_is_private_and_profile_changes_reach_friends(api):
    a, b = api.user(), api.user()
    c = api.user()
    befriend(api, a, b)
    (a_id, ta), (b_id, tb), (c_id, tc) = a, b, c
    api.ok("add_friend", {"to_user_id": b_id}, tc)  # C applied but is not B's friend
    entry = api.ok("set_friend_remark", {"user_id": b_id, "remark": "Bobby"}, ta)
    assert entry["remark"] == "Bobby"
    assert events(api, ta)[-1] == ("friend_info_changed", entry)
    assert api.ok("get_friend_list", {}, tb)[0]["remark"] == ""
    seq_b, seq_c = (api.ok("sync_events", {}, t)["max_seq"] for t in (tb, tc))
    api.ok("set_self_info", {"nickname": "Bob New", "face_url": "http://x/b.png"}, tb)
    changed = events(api, ta)[-1]
    assert changed[0] == "friend_info_changed"
    assert changed[1]["nickname"] == "Bob New" and changed[1]["remark"] == "Bobby"
    assert api.ok("get_designated_friends_info", {"user_ids": ["ghost", b_id]}, ta) == [changed[1]]
    assert events(api, tc, seq_c) == []
    assert events(api, tb, seq_b) == [("self_info_updated", api.ok("get_self_user_info", {}, tb))]
    # the same profile again changes nothing and tells nobody
    seq_a = api.ok("sync_events", {}, ta)["max_seq"]
    api.ok("set_self_info", {"nickname": "Bob New"}, tb)
    assert events(api, ta, seq_a) == []


def test_search_friends(api):
    a = api.user()
    friends = [api.user("bob_search"), api.user("carol"), api.user("dave")]
    for f in friends:
        befriend(api, a, f)
    ta = a[1]
    api.ok("set_friend_remark", {"user_id": "carol", "remark": "100%Neighbour"}, ta)
    api.ok("set_friend_remark", {"user_id": "dave", "remark": "50 Nice"}, ta)

    def found(**kw):
        return [f["user_id"] for f in api.ok("search_friends", kw, ta)]

    assert found(keyword="BOB") == ["bob_search"]
    assert found(keyword="neigh") == ["carol"]
    assert found(keyword="neigh", search_remark=False) == []
    assert found(keyword="%n") == ["carol"]  # LIKE wildcards are matched literally
    assert found(keyword="_") == ["bob_search"]
    assert found(keyword="_", search_user_id=False, search_nickname=False) == []
    assert found(keyword="o") == ["bob_search", "carol"]
    assert found(keyword="o", search_user_id=False, search_nickname=False, search_remark=False) == []


def test_friend_limit(api):
    api.app.config["IM_FRIEND_LIMIT"] = 1
    (a, ta), (b, tb), (c, tc) = api.user(), api.user(), api.user()
    api.ok("add_friend", {"to_user_id": b}, ta)
    api.ok("add_friend", {"to_user_id": a}, tc)
    api.ok("accept_friend_application", {"from_user_id": a}, tb)
    snapshot = (state(api, ta), state(api, tc))
    assert api.call("accept_friend_application", {"from_user_id": c}, ta).get_json()["errCode"] == 1207
    assert api.call("add_friend", {"to_user_id": c}, ta).get_json()["errCode"] == 1207
    assert (state(api, ta), state(api, tc)) == snapshot


LONG = "x" * 256


@pytest.mark.parametrize(
    "name, payload, code",
    [
        ("add_friend", {"to_user_id": "ghost"}, 1101),
        ("add_friend", {"to_user_id": "{a}"}, 1201),
        ("add_friend", {"to_user_id": "{b}", "req_msg": LONG}, 1001),
        ("add_friend", {"to_user_id": "{b}", "req_msg": 5}, 1001),
        ("add_friend", {"to_user_id": "{b}", "extra": 1}, 1001),
        ("add_friend", {"to_user_id": "{c}"}, 1202),
        ("accept_friend_application", {"from_user_id": "{b}"}, 1206),
        ("accept_friend_application", {"from_user_id": "{d}"}, 1205),
        ("accept_friend_application", {"from_user_id": "ghost"}, 1101),
        ("accept_friend_application", {"from_user_id": "{a}"}, 1201),
        ("accept_friend_application", {"from_user_id": "{e}", "handle_msg": LONG}, 1001),
        ("refuse_friend_application", {"from_user_id": "{b}"}, 1206),
        ("refuse_friend_application", {"from_user_id": "{d}"}, 1205),
        ("delete_friend_application", {"to_user_id": "{d}"}, 1205),
        ("delete_friend_application", {"to_user_id": "{e}"}, 1205),
        ("delete_friend_application", {"to_user_id": "{a}"}, 1201),
        ("delete_friend", {"user_id": "{d}"}, 1210),
        ("delete_friend", {"user_id": "ghost"}, 1101),
        ("delete_friend", {"user_id": "{a}"}, 1201),
        ("set_friend_remark", {"user_id": "{c}", "remark": LONG}, 1001),
        ("set_friend_remark", {"user_id": "{d}", "remark": "x"}, 1210),
        ("set_friend_remark", {"user_id": "{a}", "remark": "x"}, 1201),
        ("add_black", {"user_id": "{a}"}, 1201),
        ("add_black", {"user_id": "ghost"}, 1101),
        ("add_black", {"user_id": "{d}"}, 1208),
        ("remove_black", {"user_id": "{c}"}, 1209),
        ("search_friends", {"keyword": "   "}, 1001),
        ("check_friend", {"user_ids": ["bad id"]}, 1001),
        ("get_friend_list", {"x": 1}, 1001),
    ],
)
def test_bad_input_changes_nothing(api, name, payload, code):
    """A: refused B's application, friends with C, D blacklisted, pending application from E."""
    users = {k: api.user() for k in "abcde"}
    ta = users["a"][1]
    ids = {k: u[0] for k, u in users.items()}
    api.ok("add_friend", {"to_user_id": ids["a"]}, users["b"][1])
    api.ok("refuse_friend_application", {"from_user_id": ids["b"]}, ta)
    befriend(api, users["a"], users["c"])
    api.ok("add_black", {"user_id": ids["d"]}, ta)
    api.ok("add_friend", {"to_user_id": ids["a"]}, users["e"][1])
    payload = {k: v.format(**ids) if isinstance(v, str) else v for k, v in payload.items()}
    before = {k: state(api, t) for k, (_, t) in users.items()}
    body = api.call(name, payload, ta).get_json()
    assert body["errCode"] == code, body
    assert {k: state(api, t) for k, (_, t) in users.items()} == before


def test_every_terminal_hears_the_change_over_the_socket(api):
    (a, ta), (b, tb) = api.user(platform_id=2), api.user()
    ta_pc = api.login(a, platform_id=3)
    a_phone, a_pc, b_web = api.socket(ta), api.socket(ta_pc), api.socket(tb)
    ack = a_phone.emit("add_friend", {"to_user_id": b, "req_msg": "over socket"}, callback=True)
    assert ack["errCode"] == 0
    for sock in (a_phone, a_pc, b_web):
        got = [m["args"][0] for m in sock.get_received() if m["name"] == "event"]
        assert got == [{"seq": 1, "type": "friend_application_added", "data": ack["data"]}]
    bad = a_pc.emit("add_friend", {"to_user_id": a}, callback=True)
    assert bad["errCode"] == 1201
    assert [m for s in (a_phone, a_pc, b_web) for m in s.get_received() if m["name"] == "event"] == []


def test_friend_limit_is_configured_from_the_environment(tmp_path):
    from im.config import load_config

    env = {"SECRET_KEY": "k"}
    assert load_config(str(tmp_path), env)["IM_FRIEND_LIMIT"] == 3000
    assert load_config(str(tmp_path), {**env, "IM_FRIEND_LIMIT": "7"})["IM_FRIEND_LIMIT"] == 7


def test_profile_change_fans_out_to_every_owner_in_chunks(api, monkeypatch):
    from im.services import events

    monkeypatch.setattr(events, "_FANOUT_CHUNK", 2)  # three owners: two chunks
    star = api.user()
    owners = [api.user() for _ in range(3)]
    for owner in owners:
        befriend(api, owner, star)
    api.ok("set_friend_remark", {"user_id": star[0], "remark": "the star"}, owners[1][1])
    seqs = [api.ok("sync_events", {}, t)["max_seq"] for _, t in owners]
    star_seq = api.ok("sync_events", {}, star[1])["max_seq"]
    api.ok("set_self_info", {"face_url": "http://x/star.png"}, star[1])
    for (owner_id, token), seq in zip(owners, seqs):
        got = api.ok("sync_events", {"after_seq": seq}, token)["events"]
        assert [(e["seq"], e["type"]) for e in got] == [(seq + 1, "friend_info_changed")]
        data = got[0]["data"]
        assert data["owner_user_id"] == owner_id and data["face_url"] == "http://x/star.png"
        assert data["remark"] == ("the star" if owner_id == owners[1][0] else "")
    own = api.ok("sync_events", {"after_seq": star_seq}, star[1])["events"]
    assert [(e["type"], e["data"]["face_url"]) for e in own] == [("self_info_updated", "http://x/star.png")]
