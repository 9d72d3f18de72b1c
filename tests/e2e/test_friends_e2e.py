"""Friends and blacklist end to end: the Python SDK against a real server process.

Every FriendListener callback is observed on the right users' terminals, the actor's second terminal
(another platform) included, and a terminal that was offline catches up on exactly what it missed.
"""

import pytest

from im.sdk import IMClient, IMError
from tests.support.recorder import Recorder, wait_until
from tests.support.tcp_proxy import TcpProxy

PASSWORD = "password123"


def wait_names(recorder: Recorder, expected: list[str]):
    """Wait until the recorder has as many callbacks as expected, then compare them exactly."""
    wait_until(lambda: len(recorder.calls) >= len(expected), message=f"callbacks {expected} (saw {recorder.names()})")
    assert recorder.names() == expected


def wait_same(expected: list[str], *recorders: Recorder):
    """Wait on every recorder for the expected callbacks, then compare them with each other.

    Each terminal is pushed its events on its own socket: one having heard an event says nothing of
    when the other will, so a comparison must wait on both sides.
    """
    for recorder in recorders:
        wait_names(recorder, expected)
    first, *others = recorders
    for other in others:
        assert other.calls == first.calls


def payloads(recorder: Recorder) -> list[dict]:
    return [args[0] for _, args in recorder.calls]


@pytest.fixture
def terminals(live_server, request):
    """terminal(user_id, platform_id=5, url=None) -> logged-in IMClient with Recorders listening.

    The server runs in the default async mode, or the one given by indirect parametrization.
    """
    mode = getattr(request, "param", None)
    server = live_server({"IM_ASYNC_MODE": mode} if mode else None)
    clients: list[IMClient] = []
    registered: set[str] = set()

    def terminal(user_id, platform_id=5, url=None, **options):
        client = IMClient(url or server.url, platform_id=platform_id, **options)
        if user_id not in registered:
            client.register(user_id, PASSWORD, user_id.title())
            registered.add(user_id)
        client.recorder, client.conn = Recorder(), Recorder(client)
        client.set_friend_listener(client.recorder)
        client.set_conn_listener(client.conn)
        client.login(user_id, PASSWORD)
        clients.append(client)
        return client

    terminal.server = server
    yield terminal
    for client in clients:
        client.close()


def test_every_callback_reaches_the_right_terminals(terminals):
    a_phone = terminals("alice", platform_id=2)
    a_pc = terminals("alice", platform_id=3)
    bob = terminals("bob")
    carol = terminals("carol")

    sent = a_phone.add_friend("bob", "hi bob")
    assert sent["req_msg"] == "hi bob" and sent["handle_result"] == 0
    assert [x["to_user_id"] for x in a_pc.get_send_friend_application_list()] == ["bob"]
    assert [x["from_user_id"] for x in bob.get_recv_friend_application_list()] == ["alice"]
    a_pc.delete_friend_application("bob")
    assert bob.get_recv_friend_application_list() == []
    a_phone.add_friend("bob", "please")
    bob.refuse_friend_application("alice", "not now")
    assert a_pc.get_send_friend_application_list()[0]["handle_result"] == -1
    a_pc.add_friend("bob", "third time")
    accepted = bob.accept_friend_application("alice", "ok")
    assert accepted["handle_result"] == 1 and accepted["handle_msg"] == "ok"

    app_events = [
        "on_friend_application_added",
        "on_friend_application_deleted",
        "on_friend_application_added",
        "on_friend_application_rejected",
        "on_friend_application_added",
        "on_friend_application_accepted",
        "on_friend_added",
    ]
    wait_names(bob.recorder, app_events)
    wait_same(app_events, a_phone.recorder, a_pc.recorder)
    assert payloads(a_pc.recorder)[1]["req_msg"] == "hi bob"
    assert payloads(a_pc.recorder)[3]["handle_msg"] == "not now"
    assert payloads(a_pc.recorder)[6]["user_id"] == "bob"
    assert payloads(bob.recorder)[6]["user_id"] == "alice"

    assert [f["user_id"] for f in a_phone.get_friend_list()] == ["bob"]
    assert [f["user_id"] for f in bob.get_friend_list()] == ["alice"]
    assert a_pc.check_friend(["bob", "carol"]) == [{"user_id": "bob", "result": 1}, {"user_id": "carol", "result": 0}]

    # profile and remark changes: alice's terminals hear both, bob and carol neither
    bob.set_self_info(nickname="Bobby Tables")
    remarked = a_phone.set_friend_remark("bob", "my buddy")
    assert remarked["remark"] == "my buddy"
    expected = app_events + ["on_friend_info_changed", "on_friend_info_changed"]
    for recorder in (a_phone.recorder, a_pc.recorder):
        wait_names(recorder, expected)
        assert payloads(recorder)[-2]["nickname"] == "Bobby Tables"
        assert payloads(recorder)[-1]["remark"] == "my buddy"
    assert a_pc.search_friends("buddy") == [remarked]
    assert a_pc.search_friends("tables", search_nickname=False) == []
    assert a_pc.get_designated_friends_info(["carol", "bob"]) == [remarked]

    # the blacklist is private and one-way: bob hears nothing and stays a friend
    black = a_pc.add_black("bob")
    assert black["user_id"] == "bob"
    assert [b["user_id"] for b in a_phone.get_black_list()] == ["bob"]
    bob.delete_friend("alice")
    with pytest.raises(IMError) as refused:
        bob.add_friend("alice", "let me back")
    assert refused.value.code == 1204
    assert [f["user_id"] for f in a_phone.get_friend_list()] == ["bob"]  # one-way delete
    assert bob.get_friend_list() == []
    a_phone.remove_black("bob")
    assert a_pc.get_black_list() == []
    expected += ["on_black_added", "on_black_deleted"]
    for recorder in (a_phone.recorder, a_pc.recorder):
        wait_names(recorder, expected)
    wait_names(bob.recorder, app_events + ["on_friend_deleted"])
    assert payloads(bob.recorder)[-1]["user_id"] == "alice"

    # alice deletes bob: only alice's terminals hear it
    a_pc.delete_friend("bob")
    expected += ["on_friend_deleted"]
    wait_same(expected, a_phone.recorder, a_pc.recorder)
    # Bob and carol heard none of that. Alice's terminals having heard it says nothing of what is
    # still on its way to them, so wait for a change both do hear, made after: a user's events
    # arrive in order, so anything sent them before it would be ahead of it.
    carol.add_friend("bob", "last")
    wait_names(bob.recorder, app_events + ["on_friend_deleted", "on_friend_application_added"])
    wait_names(carol.recorder, ["on_friend_application_added"])
    assert payloads(bob.recorder)[-1]["req_msg"] == payloads(carol.recorder)[0]["req_msg"] == "last"


def _five_changes(alice_pc: IMClient, bob: IMClient):
    """Five changes alice must hear: application added, accepted, friend added, remark, black added."""
    bob.add_friend("alice", "from bob")
    alice_pc.accept_friend_application("bob")
    alice_pc.set_friend_remark("bob", "B")
    alice_pc.add_black("carol")


FIVE = [
    "on_friend_application_added",
    "on_friend_application_accepted",
    "on_friend_added",
    "on_friend_info_changed",
    "on_black_added",
]


@pytest.mark.parametrize("terminals", ["gevent", "eventlet"], indirect=True)
def test_terminal_cut_off_catches_up_exactly_on_reconnect(terminals):
    proxy = TcpProxy(terminals.server.port)
    try:
        phone = terminals("alice", platform_id=2, url=proxy.url, max_backoff=0.5)
        pc = terminals("alice", platform_id=3)
        bob = terminals("bob")
        terminals("carol")
        proxy.cut()
        # the login already said on_connecting once: the second is the reconnect, so the cut was seen
        phone.conn.wait_for("on_connecting", count=2)
        _five_changes(pc, bob)
        wait_names(pc.recorder, FIVE)
        assert phone.recorder.calls == []
        proxy.resume()
        wait_same(FIVE, phone.recorder, pc.recorder)
        # one more change, live: it arrives once, after the five, with no repeat of them, on both
        # terminals (the acting one hears it on its socket too, in its own time)
        pc.remove_black("carol")
        wait_same(FIVE + ["on_black_deleted"], phone.recorder, pc.recorder)
        assert phone.get_login_status() == 101
    finally:
        proxy.close()


def test_logged_out_terminal_catches_up_on_login(terminals):
    phone = terminals("alice", platform_id=2)
    pc = terminals("alice", platform_id=3)
    bob = terminals("bob")
    terminals("carol")
    phone.logout()
    # logout() returns before its socket is closed: the server closes it from a task of its own, and
    # until then it is still pushed alice's events, which this SDK would still hand to the listener
    wait_until(
        lambda: pc.get_users_online_status(["alice"])[0]["platform_ids"] == [3],
        message="the phone's socket closed on the server",
    )
    _five_changes(pc, bob)
    wait_names(pc.recorder, FIVE)
    assert phone.recorder.calls == []
    phone.login("alice", PASSWORD)
    wait_names(phone.recorder, FIVE)
    assert phone.recorder.calls == pc.recorder.calls
    pc.remove_black("carol")
    wait_names(phone.recorder, FIVE + ["on_black_deleted"])
