"""Group commit: sends that share a transaction keep every guarantee of a send alone."""

import threading

import pytest
from sqlalchemy import select

from im import group_commit
from im.extensions import db
from im.models import Connection, Message


def _sid(app, user_id):
    with app.app_context():
        return db.session.scalar(select(Connection.sid).where(Connection.user_id == user_id))


def _text(recv_id, text, client_msg_id=None):
    body = {"recv_id": recv_id, "content_type": 101, "content": {"text": text}}
    if client_msg_id:
        body["client_msg_id"] = client_msg_id
    return body


def _batch(app, calls):
    """Run [(sid, payload)] as one batch of the writer; their envelopes in order."""
    with app.app_context():
        made = [group_commit._Call("send_message", payload, sid, "127.0.0.1") for sid, payload in calls]
        try:
            group_commit._run_batch(made)
        finally:
            db.session.remove()
    return [c.body for c in made]


def _messages(app, conversation_id):
    with app.app_context():
        return [
            (m.send_id, m.seq, m.content)
            for m in db.session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
            )
        ]


def test_a_refused_call_leaves_the_rest_of_its_batch_committed(app, api):
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    carol, carol_token = api.user()
    api.ok("add_black", {"user_id": carol}, bob_token)
    sockets = [api.socket(t) for t in (alice_token, carol_token)]
    a, c = _sid(app, alice), _sid(app, carol)

    bodies = _batch(
        app,
        [
            (a, _text(bob, "one")),
            (c, _text(bob, "blocked")),
            (a, _text(bob, "two")),
            (a, {"recv_id": bob, "content_type": 101, "content": {}}),
        ],
    )

    assert [b["errCode"] for b in bodies[:3]] == [0, bodies[1]["errCode"], 0]
    assert bodies[1]["errCode"] != 0 and bodies[3]["errCode"] != 0
    assert [b["data"]["seq"] for b in (bodies[0], bodies[2])] == [1, 2]
    cid = bodies[0]["data"]["conversation_id"]
    assert _messages(app, cid) == [(alice, 1, {"text": "one"}), (alice, 2, {"text": "two"})]
    for s in sockets:
        s.disconnect()


def test_a_failure_after_writing_undoes_the_batch_and_each_call_runs_alone(app, api, monkeypatch):
    alice, alice_token = api.user()
    bob, _ = api.user()
    sock = api.socket(alice_token)
    a = _sid(app, alice)
    from im.services import message_send

    real = message_send.message_public

    def fail_on_poison(row):
        if getattr(row, "content", None) == {"text": "poison"}:
            raise RuntimeError("injected failure after the message was written")
        return real(row)

    monkeypatch.setattr(message_send, "message_public", fail_on_poison)
    bodies = _batch(app, [(a, _text(bob, "one")), (a, _text(bob, "poison")), (a, _text(bob, "two"))])

    assert bodies[0]["errCode"] == 0 and bodies[2]["errCode"] == 0
    assert bodies[1]["errCode"] != 0
    cid = bodies[0]["data"]["conversation_id"]
    # The failed send left nothing behind; the others were written again, alone, with contiguous seqs.
    assert _messages(app, cid) == [(alice, 1, {"text": "one"}), (alice, 2, {"text": "two"})]
    assert [bodies[0]["data"]["seq"], bodies[2]["data"]["seq"]] == [1, 2]
    sock.disconnect()


def test_a_revoked_session_cannot_send_inside_a_batch(app, api):
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    sockets = [api.socket(alice_token), api.socket(bob_token)]
    a, b = _sid(app, alice), _sid(app, bob)
    api.ok("logout", {}, alice_token)

    bodies = _batch(
        app, [(a, _text(bob, "after logout")), (b, _text(alice, "still here")), ("nosuch", _text(bob, "x"))]
    )

    assert bodies[0]["errCode"] != 0 and bodies[2]["errCode"] != 0
    assert bodies[1]["errCode"] == 0
    assert _messages(app, bodies[1]["data"]["conversation_id"]) == [(bob, 1, {"text": "still here"})]
    for s in sockets:
        if s.is_connected():
            s.disconnect()


def test_a_retry_in_the_same_batch_gets_the_first_message(app, api):
    alice, alice_token = api.user()
    bob, _ = api.user()
    sock = api.socket(alice_token)
    a = _sid(app, alice)

    bodies = _batch(app, [(a, _text(bob, "hello", "m1")), (a, _text(bob, "hello", "m1"))])

    assert bodies[0]["data"] == bodies[1]["data"]
    assert len(_messages(app, bodies[0]["data"]["conversation_id"])) == 1
    sock.disconnect()


def test_concurrent_socket_sends_are_each_acked_after_their_commit(app, api):
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    senders = [api.socket(alice_token) for _ in range(4)]
    receiver = api.socket(bob_token)
    acks = []

    def send(sock, n):
        for i in range(10):
            ack = sock.emit("send_message", _text(bob, f"{n}-{i}"), callback=True)
            # Acked means committed: a fresh session already sees the message.
            with app.app_context():
                seen = db.session.scalar(
                    select(Message.id).where(Message.server_msg_id == ack["data"]["server_msg_id"])
                )
                db.session.remove()
            acks.append((ack["errCode"], seen is not None, ack["data"]["seq"]))

    threads = [threading.Thread(target=send, args=(s, n)) for n, s in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(code == 0 and seen for code, seen, _ in acks)
    assert sorted(seq for _, _, seq in acks) == list(range(1, 41))
    received = [e for e in receiver.get_received() if e["name"] == "new_message"]
    assert sorted(e["args"][0]["seq"] for e in received) == list(range(1, 41))
    for s in [*senders, receiver]:
        s.disconnect()


def test_without_group_commit_each_socket_send_is_its_own_transaction(app, api):
    app.config["IM_GROUP_COMMIT"] = False
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    sock = api.socket(alice_token)

    acks = [sock.emit("send_message", _text(bob, f"m{i}"), callback=True) for i in range(3)]
    refused = sock.emit("send_message", _text(alice, "self"), callback=True)
    api.ok("logout", {}, alice_token)
    after = sock.emit("send_message", _text(bob, "after logout"), callback=True) if sock.is_connected() else None

    assert [a["data"]["seq"] for a in acks] == [1, 2, 3] and refused["errCode"] != 0
    assert after is None or after["errCode"] != 0
    assert group_commit._WRITER not in app.extensions
    assert len(_messages(app, acks[0]["data"]["conversation_id"])) == 3


def test_a_retry_in_a_later_batch_gets_the_committed_message(app, api):
    alice, alice_token = api.user()
    bob, _ = api.user()
    carol, _ = api.user()
    sock = api.socket(alice_token)
    a = _sid(app, alice)

    first = _batch(app, [(a, _text(bob, "hello", "m1")), (a, _text(carol, "hi", "m2"))])
    again = _batch(app, [(a, _text(carol, "hi", "m2")), (a, _text(bob, "new", "m3")), (a, _text(bob, "hello", "m1"))])

    assert again[0]["data"] == first[1]["data"] and again[2]["data"] == first[0]["data"]
    assert again[1]["data"]["seq"] == 2
    assert [m[1] for m in _messages(app, first[0]["data"]["conversation_id"])] == [1, 2]
    sock.disconnect()


def test_friend_verification_holds_inside_a_batch(app, api):
    app.config["IM_FRIEND_VERIFY"] = True
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    carol, _ = api.user()
    api.ok("add_friend", {"to_user_id": bob, "req_msg": "hi"}, alice_token)
    api.ok("accept_friend_application", {"from_user_id": alice}, bob_token)
    sock = api.socket(alice_token)
    a = _sid(app, alice)

    bodies = _batch(app, [(a, _text(bob, "friend")), (a, _text(carol, "stranger")), (a, _text("nobody", "x"))])

    assert bodies[0]["errCode"] == 0
    assert bodies[1]["errCode"] != 0 and bodies[2]["errCode"] != 0 and bodies[1]["errCode"] != bodies[2]["errCode"]
    sock.disconnect()


@pytest.mark.timeout(30)  # a dead writer never answers: the sends would wait forever
def test_the_writer_answers_and_lives_on_when_a_batch_breaks(app, api, monkeypatch):
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    sock = api.socket(alice_token)
    api.ok("send_message", _text(bob, "first"), alice_token)  # the conversation exists
    writer = group_commit.writer_for(app)

    class BrokenApp:
        """The writer's app, failing to give it an app context once."""

        def app_context(self):
            writer.app = app
            raise RuntimeError("injected failure outside the batch's transaction")

    writer.app = BrokenApp()
    failed = sock.emit("send_message", _text(bob, "lost"), callback=True)
    after = sock.emit("send_message", _text(bob, "after"), callback=True)

    assert failed["errCode"] != 0
    assert after["errCode"] == 0 and after["data"]["seq"] == 2
    assert [m[2]["text"] for m in _messages(app, after["data"]["conversation_id"])] == ["first", "after"]
    sock.disconnect()


def test_a_batch_answers_every_refusal_as_a_send_alone_does(app, api):
    alice, alice_token = api.user()
    bob, bob_token = api.user()
    carol, carol_token = api.user()
    api.ok("add_black", {"user_id": alice}, carol_token)
    api.ok("send_message", _text(bob, "opens the conversation", "m1"), alice_token)
    sock = api.socket(alice_token)
    a = _sid(app, alice)
    big = {"recv_id": bob, "content_type": 110, "content": {"data": "x" * (70 * 1024)}}
    cases = [
        _text(alice, "to myself"),
        _text("nobody", "to no one"),
        _text(carol, "blocked"),
        big,
        {**big, "client_msg_id": "m1"},  # a retry is answered with the first message, whatever it carries
        {"recv_id": bob, "content_type": 106, "content": {"text": "hi", "at_user_ids": ["x"] * 1001}},
    ]

    alone = [api.call("send_message", case, alice_token).get_json() for case in cases]
    batched = _batch(app, [(a, case) for case in cases])

    assert [b["errCode"] for b in batched] == [b["errCode"] for b in alone]
    assert [b["errCode"] != 0 for b in batched] == [True, True, True, True, False, True]
    assert batched[4]["data"] == alone[4]["data"]
    assert [m[2] for m in _messages(app, batched[4]["data"]["conversation_id"])] == [{"text": "opens the conversation"}]
    sock.disconnect()
