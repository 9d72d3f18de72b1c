"""One-to-one messages over REST and the socket test client: send, seq, idempotency, sync, history."""

import threading

import pytest

from im.extensions import db
from im.models import Black, Friend, Message
from im.operations import runner


def text(t="hi"):
    return {"content_type": 101, "content": {"text": t}}


def send(api, token, recv_id, t="hi", **extra):
    return api.ok("send_message", {"recv_id": recv_id, **text(t), **extra}, token)


def code(api, name, payload, token):
    return api.call(name, payload, token).get_json()["errCode"]


def count_messages(app):
    with app.app_context():
        return db.session.query(Message).count()


def test_send_assigns_contiguous_seqs_and_conversation_id(api):
    a, ta = api.user("alice")
    b, tb = api.user("bob")
    m1 = send(api, ta, b, "one")
    m2 = send(api, tb, a, "two")
    assert m1["conversation_id"] == m2["conversation_id"] == "si_alice~bob"
    assert (m1["seq"], m2["seq"]) == (1, 2)
    assert m1["send_id"] == a and m1["recv_id"] == b and m1["content"] == {"text": "one"}
    assert m1["client_msg_id"] and m1["server_msg_id"] and m1["send_time"] > 10**12


def test_resend_with_same_client_msg_id_returns_first(api, app):
    _, ta = api.user()
    b, _ = api.user()
    first = send(api, ta, b, "x", client_msg_id="c-1")
    again = send(api, ta, b, "different", client_msg_id="c-1")
    assert again == first
    assert count_messages(app) == 1


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"content_type": 101, "content": {"text": ""}}, 1001),
        ({"content_type": 101, "content": {"text": " \n\t"}}, 1001),
        ({"content_type": 101, "content": {"text": "x" * 10_001}}, 1001),
        ({"content_type": 101, "content": {"text": "a", "extra": 1}}, 1001),
        ({"content_type": 101, "content": {"txt": "a"}}, 1001),
        ({"content_type": 999, "content": {"text": "a"}}, 1001),
        ({"content_type": 113, "content": {"text": "a"}}, 1001),
        ({"content_type": 106, "content": {"text": "a", "at_user_ids": []}}, 1001),
        ({"content_type": 106, "content": {"text": "a", "at_user_ids": [1]}}, 1001),
        ({"content_type": 114, "content": {"text": "a", "quote_seq": 5}}, 1401),
        ({"content_type": 114, "content": {"text": "a", "quote_seq": "1"}}, 1001),
        ({"content_type": 102, "content": {"url": "/api/files/" + "0" * 32}}, 1406),
        ({"content_type": 105, "content": {"url": "http://elsewhere/x"}}, 1001),
        ({"content_type": 110, "content": {"data": "x" * 70_000}}, 1404),
        ({"content_type": 110, "content": {}}, 1001),
        ({"content_type": "101", "content": {"text": "a"}}, 1001),
        ({"content_type": 101, "content": "hello"}, 1001),
        ({"content_type": 101}, 1001),
        ({"content_type": 101, "content": {"text": "a"}, "client_msg_id": "bad id!"}, 1001),
        ({"content_type": 101, "content": {"text": "a"}, "extra": 1}, 1001),
    ],
)
def test_bad_content_refused_and_nothing_stored(api, app, payload, expected):
    _, ta = api.user()
    b, _ = api.user()
    assert code(api, "send_message", {"recv_id": b, **payload}, ta) == expected
    assert count_messages(app) == 0


def test_refusals_unknown_self_blacklist_friend_verify(api, app):
    a, ta = api.user()
    b, tb = api.user()
    assert code(api, "send_message", {"recv_id": "ghost", **text()}, ta) == 1101
    assert code(api, "send_message", {"recv_id": a, **text()}, ta) == 1201
    assert code(api, "send_message", {"recv_id": "bad id", **text()}, ta) == 1001
    with app.app_context():
        db.session.add(Black(owner_user_id=b, block_user_id=a))
        db.session.commit()
    assert code(api, "send_message", {"recv_id": b, **text()}, ta) == 1204
    assert code(api, "typing_status_update", {"recv_id": b, "msg_tip": "..."}, ta) == 1204
    send(api, tb, a)  # the blacklist is one-directional
    app.config["IM_FRIEND_VERIFY"] = True
    assert code(api, "send_message", {"recv_id": a, **text()}, tb) == 1203
    with app.app_context():
        db.session.add(Friend(owner_user_id=a, friend_user_id=b))
        db.session.commit()
    send(api, tb, a)
    assert count_messages(app) == 2


def test_concurrent_senders_leave_contiguous_seqs(api, app):
    a, ta = api.user()
    b, tb = api.user()
    results, failures = [], []

    def worker(token, recv, n):
        client = app.test_client()
        for i in range(n):
            body = client.post(
                "/api/send_message", json={"recv_id": recv, **text(str(i))}, headers={"token": token}
            ).get_json()
            (results.append(body["data"]) if body["errCode"] == 0 else failures.append(body))

    threads = [threading.Thread(target=worker, args=((ta, b) if i % 2 else (tb, a)) + (10,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert sorted(m["seq"] for m in results) == list(range(1, 61))


def test_sync_by_seq_and_history(api):
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    for i in range(5):
        send(api, ta, b, f"ab{i}")
    send(api, ta, c, "ac")
    seqs = api.ok("get_max_seqs", {}, tb)["conversations"]
    cid = "si_" + "~".join(sorted((a, b)))
    assert seqs == {cid: {"max_seq": 5, "min_seq": 1, "recv_msg_opt": 0}}
    pulled = api.ok("pull_messages", {"ranges": [{"conversation_id": cid, "begin_seq": 2, "end_seq": 9}]}, tb)
    assert [m["seq"] for m in pulled["messages"]] == [2, 3, 4, 5]
    assert pulled["pulled_to"] == {cid: 5}
    cut = api.ok("pull_messages", {"ranges": [{"conversation_id": cid, "begin_seq": 1, "end_seq": 5}], "limit": 2}, tb)
    assert [m["seq"] for m in cut["messages"]] == [1, 2] and cut["pulled_to"] == {cid: 2}
    page = api.ok("get_history_message_list", {"conversation_id": cid, "count": 2}, tb)
    assert [m["seq"] for m in page["messages"]] == [4, 5] and not page["is_end"]
    page = api.ok("get_history_message_list", {"conversation_id": cid, "start_seq": 4, "count": 3}, tb)
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3] and page["is_end"]
    # an outsider reads nothing and learns nothing
    assert code(api, "get_history_message_list", {"conversation_id": cid}, tc) == 1403
    assert code(api, "pull_messages", {"ranges": [{"conversation_id": cid, "begin_seq": 1, "end_seq": 5}]}, tc) == 1403
    assert code(api, "search_messages", {"keyword": "ab", "conversation_id": cid}, tc) == 1403
    assert api.ok("search_messages", {"keyword": "ab"}, tc)["messages"] == []
    found = api.ok("search_messages", {"keyword": "AB3"}, tb)["messages"]
    assert [m["content"]["text"] for m in found] == ["ab3"]


@pytest.mark.parametrize(
    "payload",
    [
        {"ranges": []},
        {"ranges": [{"conversation_id": "si_a~b", "begin_seq": 0, "end_seq": 1}]},
        {"ranges": [{"conversation_id": "xx", "begin_seq": 1, "end_seq": 1}]},
        {"ranges": [{"conversation_id": "si_a~b", "begin_seq": 1, "end_seq": 1}], "limit": 0},
        {"ranges": [{"conversation_id": "si_a~b", "begin_seq": 1}]},
    ],
)
def test_pull_bad_input(api, payload):
    _, ta = api.user("a")
    api.user("b")
    assert code(api, "pull_messages", payload, ta) == 1001


def test_pull_empty_and_repeated_ranges(api):
    _, ta = api.user("a")
    api.user("b")
    for i in range(4):
        send(api, ta, "b", str(i))
    empty = api.ok("pull_messages", {"ranges": [{"conversation_id": "si_a~b", "begin_seq": 3, "end_seq": 2}]}, ta)
    assert empty == {"messages": [], "pulled_to": {"si_a~b": 2}, "is_end": True}
    twice = api.ok(
        "pull_messages",
        {
            "ranges": [
                {"conversation_id": "si_a~b", "begin_seq": 1, "end_seq": 1},
                {"conversation_id": "si_a~b", "begin_seq": 3, "end_seq": 3},
            ]
        },
        ta,
    )
    assert [m["seq"] for m in twice["messages"]] == [1, 2, 3] and twice["pulled_to"] == {"si_a~b": 3}


@pytest.mark.parametrize(
    "content_type, content",
    [
        (101, {"text": " "}),
        (101, {"text": "x" * 10_001}),
        (101, {"text": 5}),
        (101, {"text": "a", "b": 1}),
        (106, {"text": "a", "at_user_ids": []}),
        (106, {"text": "a", "at_user_ids": [3]}),
        (114, {"text": "a", "quote_seq": True}),
        (102, {"url": "elsewhere"}),
        (110, {}),
        (113, {"msg_tip": "x"}),
        (999, {"text": "a"}),
        (101, "text"),
    ],
)
def test_service_checks_content_for_every_caller(app, content_type, content):
    """Sends may reach the service without the operation's schema: the service checks content itself."""
    from im import errors
    from im.services import auth, message_send

    with app.app_context():
        ctx = runner.context()
        auth.register(ctx, "sa", "password123", "A")
        auth.register(ctx, "sb", "password123", "B")
        with pytest.raises(errors.ContentInvalid):
            message_send.send_one(ctx, message_send.Send("sa", content_type, content, recv_id="sb"))
        db.session.rollback()
        assert db.session.query(Message).count() == 0


def test_socket_delivery_to_recipient_and_senders_other_terminal(api):
    a, ta = api.user()
    b, tb = api.user()
    ta2 = api.login(a, platform_id=1)
    sender_other, receiver = api.socket(ta2), api.socket(tb)
    sender_other.get_received()
    receiver.get_received()
    msg = send(api, ta, b, "live")
    got_b = [e["args"][0] for e in receiver.get_received() if e["name"] == "new_message"]
    got_a2 = [e["args"][0] for e in sender_other.get_received() if e["name"] == "new_message"]
    assert got_b == [msg] and got_a2 == [msg]


def test_search_pages_by_cursor_and_count_without_gaps_or_repeats(api):
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    for i in range(60):
        send(api, ta, b, f"needle a{i}")
    for i in range(43):
        send(api, tb, a, f"needle b{i}")
    send(api, tc, b, "needle from c")
    send(api, ta, b, "no match")

    # without paging parameters: the first 100, newest first, as before
    first = api.ok("search_messages", {"keyword": "NEEDLE"}, tb)
    assert len(first["messages"]) == 100 and first["has_more"] is True and first["cursor"]
    assert first["messages"][0]["content"]["text"] == "needle from c"
    pages, cursor = [], None
    while True:
        page = api.ok(
            "search_messages", {"keyword": "needle", "count": 40, **({"cursor": cursor} if cursor else {})}, tb
        )
        pages.append(page)
        cursor = page["cursor"]
        if not page["has_more"]:
            assert cursor is None
            break
    assert [len(p["messages"]) for p in pages] == [40, 40, 24]
    found = [m for p in pages for m in p["messages"]]
    assert found[:100] == first["messages"]
    assert len({m["server_msg_id"] for m in found}) == 104
    times = [m["send_time"] for m in found]
    assert times == sorted(times, reverse=True)
    # within one conversation, from the cursor of a page that ended just before a2
    cid = "si_" + "~".join(sorted((a, b)))
    head = api.ok("search_messages", {"keyword": "needle", "conversation_id": cid, "count": 100}, tb)
    assert head["messages"][-1]["content"]["text"] == "needle a3"
    one = api.ok(
        "search_messages", {"keyword": "needle", "conversation_id": cid, "cursor": head["cursor"], "count": 5}, tb
    )
    assert [m["content"]["text"] for m in one["messages"]] == ["needle a2", "needle a1", "needle a0"]
    assert one["has_more"] is False
    exact = api.ok("search_messages", {"keyword": "needle", "cursor": pages[1]["cursor"], "count": 24}, tb)
    assert len(exact["messages"]) == 24 and exact["has_more"] is False


@pytest.mark.parametrize(
    "paging",
    [
        {"offset": 0},
        {"cursor": "-1"},
        {"cursor": "x1"},
        {"cursor": 1},
        {"cursor": "1" * 20},
        {"cursor": ""},
        {"count": 0},
        {"count": 101},
        {"count": True},
        {"count": 2**63},
    ],
)
def test_search_paging_out_of_bounds_is_refused(api, paging):
    _, ta = api.user()
    body = api.call("search_messages", {"keyword": "x", **paging}, ta).get_json()
    assert body["errCode"] == 1001
    if body["data"] is not None:  # beyond 64 bits is refused before the fields are looked at
        assert body["data"]["errors"][0]["field"] == next(iter(paging))


@pytest.mark.parametrize("keyword", ["\x00", "a\x00b", "tab\there", "\x1b[31m", "\x7f", "\u0085"])
def test_a_search_keyword_with_a_control_character_is_refused_not_matched(api, keyword):
    """A NUL keyword matched every message the caller could see; control characters are refused."""
    a, ta = api.user()
    b, _ = api.user()
    send(api, ta, b, "plain searchable text")
    body = api.call("search_messages", {"keyword": keyword}, ta).get_json()
    assert body["errCode"] == 1001 and body["data"]["errors"][0]["field"] == "keyword"
    assert api.ok("search_messages", {"keyword": "searchable"}, ta)["messages"]


def _commit_a_retry_during_the_checks(app, monkeypatch, sender, recv_id, client_msg_id):
    """Between a send's checks and its write, another request commits a message with the same
    client_msg_id (the concurrent retry the unique index stops); returns what it committed."""
    from im.services import message_send

    committed = []
    real = message_send.to_store

    def racing(ctx, *args):
        if not committed:
            committed.append(None)
            with app.app_context(), runner.transaction() as other:
                committed[0] = message_send.send_one(
                    other, message_send.Send(sender, 101, {"text": "first"}, client_msg_id, recv_id=recv_id)
                )
        return real(ctx, *args)

    monkeypatch.setattr(message_send, "to_store", racing)
    return committed


def test_a_retry_committed_while_the_send_checked_gets_the_first_message(api, app, monkeypatch):
    a, ta = api.user()
    b, _ = api.user()
    send(api, ta, b, "opens")
    committed = _commit_a_retry_during_the_checks(app, monkeypatch, a, b, "c-race")

    again = send(api, ta, b, "the retry", client_msg_id="c-race")
    after = send(api, ta, b, "after")

    assert again == committed[0] and again["seq"] == 2 and again["content"] == {"text": "first"}
    assert after["seq"] == 3 and count_messages(app) == 3
