"""Multi-terminal policy, presence and socket authentication (Flask-SocketIO test client)."""

import time

import pytest

from im.models import LoginSession
from im.operations import runner
from im.services.auth import _sessions_to_kick


def _sessions(*platforms):
    return [LoginSession(id=i + 1, platform_id=p) for i, p in enumerate(platforms)]


@pytest.mark.parametrize(
    "policy, existing, new, kicked",
    [
        (1, (5, 5, 1), 5, [1, 2]),
        (1, (5, 1), 3, []),
        (4, (1, 2, 3, 8), 2, [1, 2]),
        (4, (3, 4, 7, 5), 7, [1, 2, 3]),
        (4, (8, 9, 6), 9, [1, 2]),
        (5, (3, 4, 1, 8, 5), 3, []),
        (5, (3, 4, 1, 8, 5), 2, [3, 4, 5]),
        (0, (5, 5), 5, []),
        (0, (5,) * 30, 5, [1]),
    ],
)
def test_policy_table(policy, existing, new, kicked):
    assert [s.id for s in _sessions_to_kick(_sessions(*existing), new, policy)] == kicked


def test_connect_refused_with_codes(api):
    for token, code in ((None, 1500), ("imt_nope", 1507), ("zzz", 1503)):
        sock = api.app.extensions["socketio"].test_client(api.app, auth={"token": token} if token else None)
        assert not sock.is_connected()


def test_connect_refused_when_the_auth_token_and_the_url_token_disagree(api):
    _, token = api.user()
    _, other = api.user()
    socketio = api.app.extensions["socketio"]
    for auth_token, url_token in ((token, other), (token, "imt_forged"), ("imt_forged", token)):
        sock = socketio.test_client(api.app, auth={"token": auth_token}, query_string=f"token={url_token}")
        assert not sock.is_connected(), (auth_token, url_token)
    same = socketio.test_client(api.app, auth={"token": token}, query_string=f"token={token}")
    assert same.is_connected()
    url_only = socketio.test_client(api.app, auth={"token": ""}, query_string=f"token={token}")
    assert url_only.is_connected()


def test_socket_operations_and_presence(api):
    user_id, token = api.user()
    sock = api.socket(token)
    assert sock.is_connected()
    status = sock.emit("get_users_online_status", {"user_ids": [user_id, "ghost"]}, callback=True)
    assert status["data"] == [
        {"user_id": user_id, "status": "online", "platform_ids": [5]},
        {"user_id": "ghost", "status": "offline", "platform_ids": []},
    ]
    sock.disconnect()
    again = api.ok("get_users_online_status", {"user_ids": [user_id]}, token)
    assert again[0]["status"] == "offline"


@pytest.mark.parametrize("args", [("x",), ([1],), (None,), ({"user_ids": "a"},), ({}, {})])
def test_socket_bad_payloads(api, args):
    _, token = api.user()
    sock = api.socket(token)
    ack = sock.emit("get_users_info", *args, callback=True)
    assert ack["errCode"] == 1001
    assert sock.emit("no_such_event", {}, callback=True)["errCode"] == 1003
    assert sock.emit("login", {}, callback=True)["errCode"] == 1003  # REST only


def test_new_login_kicks_socket_of_same_platform(api):
    user_id, token = api.user()
    old = api.socket(token)
    other_platform = api.socket(api.login(user_id, platform_id=1))
    api.login(user_id, platform_id=5)
    deadline = time.monotonic() + 5
    while old.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not old.is_connected()
    assert other_platform.is_connected()
    assert api.call("get_self_user_info", token=token).get_json()["errCode"] == 1506


def _kicks(sock):
    return [pkt["args"][0] for pkt in sock.queue if pkt["name"] == "kicked_offline"]


def _wait_closed(sock, timeout=5.0):
    deadline = time.monotonic() + timeout
    while sock.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not sock.is_connected()


def test_logout_tells_the_sessions_other_sockets_why_they_close(api):
    """Other tabs of the session hear kicked_offline with reason logout (as the doc promises) before
    their socket closes; the socket that called logout does not, and other sessions hear nothing."""
    user_id, token = api.user()
    caller, other_tab = api.socket(token), api.socket(token)
    other_session = api.socket(api.login(user_id, platform_id=1))
    assert caller.emit("logout", {}, callback=True) == {"errCode": 0, "errMsg": "", "data": None}
    assert _wait_closed(other_tab)
    assert _kicks(other_tab) == [{"reason": "logout", "platform_id": 5}]
    assert _kicks(caller) == []
    assert other_session.is_connected() and _kicks(other_session) == []

    rest_token = api.login(user_id, platform_id=2)
    tab = api.socket(rest_token)
    api.ok("logout", token=rest_token)
    assert _wait_closed(tab) and _kicks(tab) == [{"reason": "logout", "platform_id": 2}]


def test_a_revoked_tokens_refusal_names_the_reason(api):
    _, token = api.user()
    api.ok("logout", token=token)
    body = api.call("get_self_user_info", token=token).get_json()
    assert body["errCode"] == 1502 and body["data"] == {"reason": "logout"}


def test_revoked_session_socket_cannot_act(api):
    user_id, token = api.user()
    sock = api.socket(token)
    api.ok("logout", token=token)
    # the disconnect runs in the background; either way the socket may not act any more
    if sock.is_connected():
        assert sock.emit("get_self_user_info", {}, callback=True)["errCode"] == 1502


def test_the_sweeper_leaves_a_fresh_revocation_to_its_own_kick_and_then_names_the_platform(api):
    """A revocation tells and closes its sockets after its commit; the sweeper, racing it, would send
    a second kicked_offline (without platform_id, and even to the socket that called logout)."""
    from datetime import timedelta

    from sqlalchemy import update

    from im.extensions import db
    from im.models import utcnow
    from im.services import presence

    user_id, token = api.user(platform_id=2)
    sock = api.socket(token)
    node_id = api.app.config["IM_NODE_ID"]
    with api.app.app_context():
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id)
            .values(revoked_at=utcnow(), revoke_reason="admin")
        )
        db.session.commit()
        assert presence.dead_connections(runner.context(), node_id) == []
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id)
            .values(revoked_at=utcnow() - presence.REVOKE_GRACE - timedelta(seconds=1))
        )
        db.session.commit()
        assert [(why, platform) for _, why, platform in presence.dead_connections(runner.context(), node_id)] in (
            [("admin", 2)],
            [],
        )  # [] once the app's own sweeper has already closed it
    assert _wait_closed(sock) and _kicks(sock) == [{"reason": "admin", "platform_id": 2}]
