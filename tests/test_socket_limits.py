"""The socket event gate (im/realtime/dispatch.py): per-socket and per-user limits answer 1008 and
run nothing, a socket's backlog is bounded, a socket refused too often is closed, and a client
within the limits is never refused."""

import json
import shutil
import time

import pytest
import requests
import websocket

from im import create_app
from tests.support.raw_socket import RawSocket
from tests.support.recorder import wait_until
from tests.support.server import FAST_HASH

TEXT = {"content_type": 101, "content": {"text": "hi"}}


@pytest.fixture
def make_app(tmp_path, migrated_sqlite):
    """An app on a copy of the migrated schema, with the rate limits given (the others default)."""
    apps = []

    def make(**limits):
        path = tmp_path / f"gate{len(apps)}.sqlite3"
        shutil.copyfile(migrated_sqlite, path)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                "IM_SOCKETIO_ASYNC_MODE": "threading",
                "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
                "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
                "IM_RATE_LIMITS": limits,
                "TESTING": True,
            }
        )
        apps.append(app)
        return app

    return make


class Users:
    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def token(self, user_id):
        account = {"user_id": user_id, "password": "password123"}
        self.client.post("/api/register", json={**account, "nickname": user_id})
        return self.client.post("/api/login", json={**account, "platform_id": 5}).get_json()["data"]["token"]

    def socket(self, token):
        return self.app.extensions["socketio"].test_client(self.app, auth={"token": token})

    def rest(self, name, payload, token):
        return self.client.post(f"/api/{name}", json=payload, headers={"token": token}).get_json()


def test_a_socket_over_its_limit_is_answered_1008_and_runs_nothing(make_app):
    users = Users(make_app(socket_event_socket="5/hour"))
    a, _b = users.token("a"), users.token("b")
    sock = users.socket(a)
    answers = [sock.emit("send_message", {"recv_id": "b", **TEXT}, callback=True) for _ in range(6)]
    assert [x["errCode"] for x in answers] == [0] * 5 + [1008]
    refused = answers[-1]
    assert refused["data"]["limit"] == "socket_event_socket"
    assert refused["data"]["reset_at"] > time.time() * 1000
    assert "socket_event_socket" in refused["errMsg"]
    # The refused send (a group-commit operation, handed to the writer) was never run.
    seqs = users.rest("get_max_seqs", {}, a)["data"]["conversations"]
    assert [c["max_seq"] for c in seqs.values()] == [5]
    # The limit is this socket's: another socket of the same session is served.
    assert users.socket(a).emit("get_self_user_info", {}, callback=True)["errCode"] == 0


def test_the_user_limit_counts_every_socket_of_the_user(make_app):
    users = Users(make_app(socket_event_user="6/hour", socket_event_socket="100/hour"))
    a, b = users.token("a"), users.token("b")
    first, second = users.socket(a), users.socket(a)
    # Operations and unknown events alike are counted.
    for sock in (first, second):
        assert sock.emit("get_self_user_info", {}, callback=True)["errCode"] == 0
        assert sock.emit("get_self_user_info", {}, callback=True)["errCode"] == 0
        assert sock.emit("no_such_event", {}, callback=True)["errCode"] == 1003
    for sock in (first, second):
        over = sock.emit("get_self_user_info", {}, callback=True)
        assert over["errCode"] == 1008 and over["data"]["limit"] == "socket_event_user"
    # Another user's sockets are not touched by it.
    assert users.socket(b).emit("get_self_user_info", {}, callback=True)["errCode"] == 0


def test_a_client_within_the_limits_is_never_refused(make_app):
    users = Users(make_app())  # the defaults: 200 a second per socket, 400 per user
    a, b = users.token("a"), users.token("b")
    busy, other = users.socket(a), users.socket(a)
    # As fast as this process can send them, as many as the socket's limit allows in any second.
    assert [busy.emit("get_self_user_info", {}, callback=True)["errCode"] for _ in range(200)] == [0] * 200
    assert [other.emit("get_self_user_info", {}, callback=True)["errCode"] for _ in range(100)] == [0] * 100
    assert users.socket(b).emit("get_self_user_info", {}, callback=True)["errCode"] == 0


def test_a_socket_refused_100_times_is_closed_and_told_why(make_app):
    users = Users(make_app(socket_event_socket="1/hour"))
    sock = users.socket(users.token("a"))
    answers = [sock.emit("get_self_user_info", {}, callback=True) for _ in range(101)]
    assert answers[0]["errCode"] == 0
    assert all(x["errCode"] == 1008 for x in answers[1:])
    assert not any(x["data"].get("closing") for x in answers[1:100])
    last = answers[100]
    assert last["data"]["closing"] is True and "this socket is closed" in last["errMsg"]
    wait_until(lambda: not sock.is_connected(), message="the refused socket disconnected")


def test_events_past_the_backlog_are_refused_at_once(live_server):
    """A burst in one write reaches the server's reader at once: one event runs, two wait, and the
    others are answered 1008 without waiting for them."""
    server = live_server({"IM_SOCKET_EVENT_CONCURRENCY": "1", "IM_SOCKET_EVENT_BACKLOG": "2"})
    users = {}
    for user_id in ("a", "b"):
        users[user_id] = _live_token(server.url, user_id)
    raw = RawSocket(server.url, users["a"])
    count = 40
    raw.ws.sock.sendall(
        b"".join(
            websocket.ABNF.create_frame(f'42{n}["get_self_user_info",{{}}]', websocket.ABNF.OPCODE_TEXT).format()
            for n in range(1, count + 1)
        )
    )
    answers = {}
    while len(answers) < count:
        packet = raw._next_packet()
        if packet.startswith("43"):
            answers[int(packet[2 : packet.index("[")])] = json.loads(packet[packet.index("[") :])[0]
    codes = [answers[n]["errCode"] for n in range(1, count + 1)]
    assert set(codes) == {0, 1008}, codes
    assert codes.count(0) >= 3  # the running one and the two waiting
    assert {answers[n]["data"]["limit"] for n in answers if answers[n]["errCode"]} == {"socket_event_backlog"}
    # Fewer than 100 refusals: the socket stays, and is served again once its backlog is done.
    assert raw.call("get_self_user_info", {})["errCode"] == 0
    other = RawSocket(server.url, users["b"])
    assert other.call("get_self_user_info", {})["errCode"] == 0
    raw.close()
    other.close()


def _live_token(url, user_id):
    account = {"user_id": user_id, "password": "password123"}
    requests.post(f"{url}/api/register", json={**account, "nickname": user_id}, timeout=10)
    return requests.post(f"{url}/api/login", json={**account, "platform_id": 5}, timeout=10).json()["data"]["token"]
