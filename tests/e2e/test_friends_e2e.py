"""Friends and blacklist end to end: the Python SDK against a real server process.

Every FriendListener callback is observed on the right users' terminals, the actor's second terminal
(another platform) included, and a terminal that was offline catches up on exactly what it missed.
"""
import threading
import time

import pytest

from im.sdk import ConnListener, FriendListener, IMClient, IMError
from tests.support.tcp_proxy import TcpProxy

WAIT = 10.0
PASSWORD = "password123"


class Recorder(FriendListener, ConnListener):
    """Records every friend callback as (name, data) and connection callbacks by name."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.conn: list[str] = []
        self._lock = threading.Lock()

    def __getattribute__(self, name):
        if name.startswith("on_") and hasattr(FriendListener, name):
            return lambda data, _name=name: self._record(_name, data)
        if name.startswith("on_") and hasattr(ConnListener, name):
            return lambda *args, _name=name: self._record_conn(_name)
        return super().__getattribute__(name)

    def _record(self, name, data):
        with self._lock:
            self.calls.append((name, data))

    def _record_conn(self, name):
        with self._lock:
            self.conn.append(name)

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]


def wait_until(predicate, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_names(recorder: Recorder, expected: list[str]):
    """Wait until the recorder has at least as many callbacks as expected, then compare exactly."""
    wait_until(lambda: len(recorder.calls) >= len(expected), f"{expected}, got {recorder.names()}")
    assert recorder.names() == expected


@pytest.fixture
def terminals(live_server):
    """terminal(user_id, platform_id=5, url=None) -> logged-in IMClient with a Recorder listening."""
    server = live_server()
    clients: list[IMClient] = []
    registered: set[str] = set()

    def terminal(user_id, platform_id=5, url=None, **options):
        client = IMClient(url or server.url, platform_id=platform_id, **options)
        if user_id not in registered:
            client.register(user_id, PASSWORD, user_id.title())
            registered.add(user_id)
        client.recorder = Recorder()
        client.set_friend_listener(client.recorder)
        client.set_conn_listener(client.recorder)
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

    app_events = ["on_friend_application_added", "on_friend_application_deleted",
                  "on_friend_application_added", "on_friend_application_rejected",
                  "on_friend_application_added", "on_friend_application_accepted", "on_friend_added"]
    for recorder in (a_phone.recorder, a_pc.recorder, bob.recorder):
        wait_names(recorder, app_events)
    assert a_phone.recorder.calls == a_pc.recorder.calls
    assert a_pc.recorder.calls[1][1]["req_msg"] == "hi bob"
    assert a_pc.recorder.calls[3][1]["handle_msg"] == "not now"
    assert a_pc.recorder.calls[6][1]["user_id"] == "bob"
    assert bob.recorder.calls[6][1]["user_id"] == "alice"

    assert [f["user_id"] for f in a_phone.get_friend_list()] == ["bob"]
    assert [f["user_id"] for f in bob.get_friend_list()] == ["alice"]
    assert a_pc.check_friend(["bob", "carol"]) == [{"user_id": "bob", "result": 1},
                                                   {"user_id": "carol", "result": 0}]

    # profile and remark changes: alice's terminals hear both, bob and carol neither
    bob.set_self_info(nickname="Bobby Tables")
    remarked = a_phone.set_friend_remark("bob", "my buddy")
    assert remarked["remark"] == "my buddy"
    expected = app_events + ["on_friend_info_changed", "on_friend_info_changed"]
    for recorder in (a_phone.recorder, a_pc.recorder):
        wait_names(recorder, expected)
        assert recorder.calls[-2][1]["nickname"] == "Bobby Tables"
        assert recorder.calls[-1][1]["remark"] == "my buddy"
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
    assert bob.recorder.calls[-1][1]["user_id"] == "alice"

    # alice deletes bob: only alice's terminals hear it
    a_pc.delete_friend("bob")
    expected += ["on_friend_deleted"]
    for recorder in (a_phone.recorder, a_pc.recorder):
        wait_names(recorder, expected)
    assert a_phone.recorder.calls == a_pc.recorder.calls
    assert bob.recorder.names() == app_events + ["on_friend_deleted"]
    assert carol.recorder.calls == []


def _five_changes(alice_pc: IMClient, bob: IMClient):
    """Five changes alice must hear: application added, accepted, friend added, remark, black added."""
    bob.add_friend("alice", "from bob")
    alice_pc.accept_friend_application("bob")
    alice_pc.set_friend_remark("bob", "B")
    alice_pc.add_black("carol")


FIVE = ["on_friend_application_added", "on_friend_application_accepted", "on_friend_added",
        "on_friend_info_changed", "on_black_added"]


def test_terminal_cut_off_catches_up_exactly_on_reconnect(terminals):
    proxy = TcpProxy(terminals.server.port)
    try:
        phone = terminals("alice", platform_id=2, url=proxy.url, max_backoff=0.5)
        pc = terminals("alice", platform_id=3)
        bob = terminals("bob")
        terminals("carol")
        proxy.cut()
        wait_until(lambda: "on_connecting" in phone.recorder.conn, "the phone to notice the drop")
        _five_changes(pc, bob)
        wait_names(pc.recorder, FIVE)
        assert phone.recorder.calls == []
        proxy.resume()
        wait_names(phone.recorder, FIVE)
        assert phone.recorder.calls == pc.recorder.calls
        # one more change, live: it arrives once, after the five, with no repeat of them
        pc.remove_black("carol")
        wait_names(phone.recorder, FIVE + ["on_black_deleted"])
        assert phone.recorder.calls == pc.recorder.calls
        assert phone.get_login_status() == 101
    finally:
        proxy.close()


def test_logged_out_terminal_catches_up_on_login(terminals):
    phone = terminals("alice", platform_id=2)
    pc = terminals("alice", platform_id=3)
    bob = terminals("bob")
    terminals("carol")
    phone.logout()
    _five_changes(pc, bob)
    wait_names(pc.recorder, FIVE)
    assert phone.recorder.calls == []
    phone.login("alice", PASSWORD)
    wait_names(phone.recorder, FIVE)
    assert phone.recorder.calls == pc.recorder.calls
    pc.remove_black("carol")
    wait_names(phone.recorder, FIVE + ["on_black_deleted"])
