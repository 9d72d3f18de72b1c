"""Login status, the connection listener and the multi-terminal policies, on a real server process
through the Python SDK, under both async modes."""

import threading
import time

import pytest
import requests
import socketio

from im.sdk import ConnListener, IMClient, IMError, LoginStatus
from tests.support.recorder import Recorder, wait_until
from tests.support.tcp_proxy import TcpProxy

PASSWORD = "password123"


# Every test signs in users of its own: those whose environment is within this one share a server.
SHARED_ENV = {"IM_MULTI_LOGIN_POLICY": "1", "IM_ADMIN_SECRET": "s3cret-admin"}


@pytest.fixture(params=["gevent", "eventlet"])
def server(request, live_server, shared_server):
    """A server in the parametrized async mode with extra environment."""

    def start(**env):
        env = {k: str(v) for k, v in env.items()}
        if all(SHARED_ENV.get(k) == v for k, v in env.items()):
            return shared_server({"IM_ASYNC_MODE": request.param, **SHARED_ENV})
        return live_server({"IM_ASYNC_MODE": request.param, **env})

    return start


@pytest.fixture
def clients():
    made = []

    def make(url, platform_id=5, **kwargs):
        client = IMClient(url, platform_id=platform_id, timeout=5, **kwargs)
        recorder = Recorder(client)
        client.set_conn_listener(recorder)
        made.append(client)
        return client, recorder

    yield make
    for client in made:
        client.close()


def _register(url, *user_ids):
    anon = IMClient(url)
    try:
        for user_id in user_ids:
            anon.register(user_id, PASSWORD, user_id.title())
    finally:
        anon.close()


def test_status_transitions_and_callbacks(server, clients):
    srv = server()
    _register(srv.url, "alice")
    alice, rec = clients(srv.url)
    assert alice.get_login_status() == LoginStatus.LOGGED_OUT == 201
    assert alice.get_login_user() is None

    with pytest.raises(IMError) as failed:
        alice.login("alice", "wrong-password")
    assert failed.value.code == 1103
    assert alice.get_login_status() == LoginStatus.LOGIN_FAILED == 103

    seen = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.add(alice.get_login_status())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        alice.login("alice", PASSWORD)
    finally:
        done.set()
        watcher.join()
    assert LoginStatus.LOGGING_IN in seen
    assert alice.get_login_status() == LoginStatus.LOGGED_IN == 101
    assert alice.get_login_user() == "alice"
    rec.wait_for("on_connect_success")
    assert rec.names()[:2] == ["on_connecting", "on_connect_success"]

    with pytest.raises(IMError) as twice:
        alice.login("alice", PASSWORD)
    assert twice.value.code == 10004

    assert alice.get_users_online_status(["alice"])[0]["status"] == "online"
    alice.logout()
    assert alice.get_login_status() == LoginStatus.LOGGED_OUT
    with pytest.raises(IMError) as after:
        alice.get_self_user_info()
    assert after.value.code == 10003
    assert "on_kicked_offline" not in rec.names()


def test_logout_in_another_tab_of_the_session_is_not_a_kick(server, clients):
    """Two sockets of one session (two tabs): a logout from one tells the other `kicked_offline`
    with reason `logout`; the SDK ends its session as a logout, not as a kick by another device."""
    from tests.support.raw_socket import RawSocket

    srv = server()
    _register(srv.url, "lou")
    lou, rec = clients(srv.url)
    lou.login("lou", PASSWORD)
    rec.wait_for("on_connect_success")

    tab = RawSocket(srv.url, lou._token)  # a second tab holding the same session's token
    try:
        lou.logout()  # over the SDK's socket
        assert tab.wait_event("kicked_offline") == {"reason": "logout", "platform_id": 5}
    finally:
        tab.close()
    assert "on_kicked_offline" not in rec.names()

    lou.login("lou", PASSWORD)
    rec.wait_for("on_connect_success", count=2)
    tab = RawSocket(srv.url, lou._token)
    try:
        assert tab.call("logout", {}) == {"errCode": 0, "errMsg": "", "data": None}
    finally:
        tab.close()
    wait_until(lambda: lou.get_login_status() == LoginStatus.LOGGED_OUT, message="the SDK's session ended")
    time.sleep(0.5)  # callbacks run on the SDK's own thread: a kick reported with the end would be in by now
    assert "on_kicked_offline" not in rec.names()
    assert "on_user_token_expired" not in rec.names()


def test_connect_failure_is_reported(server, clients):
    srv = server()
    _register(srv.url, "bob")
    proxy = TcpProxy(srv.port)
    try:
        bob, rec = clients(proxy.url)
        proxy.allow_only(1)  # the REST login gets through, the socket connection does not
        with pytest.raises(IMError) as failed:
            bob.login("bob", PASSWORD)
        assert failed.value.code == 10001
        code, _message = rec.wait_for("on_connect_failed")[0]
        assert code == 10001
        assert rec.names() == ["on_connecting", "on_connect_failed"]
        assert bob.get_login_status() == LoginStatus.LOGIN_FAILED
    finally:
        proxy.close()


def test_policy_1_kicks_same_platform_only(server, clients):
    srv = server(IM_MULTI_LOGIN_POLICY=1)
    _register(srv.url, "carol")
    web1, rec1 = clients(srv.url, platform_id=5)
    android, rec_android = clients(srv.url, platform_id=2)
    web1.login("carol", PASSWORD)
    android.login("carol", PASSWORD)
    web2, rec2 = clients(srv.url, platform_id=5)
    web2.login("carol", PASSWORD)

    rec1.wait_for("on_kicked_offline")
    assert rec1.statuses["on_kicked_offline"] == LoginStatus.LOGGED_OUT
    wait_until(lambda: web1._sio is None, message="kicked socket closed")
    assert web2.get_login_status() == android.get_login_status() == LoginStatus.LOGGED_IN
    status = web2.get_users_online_status(["carol"])[0]
    wait_until(lambda: web2.get_users_online_status(["carol"])[0]["platform_ids"] == [2, 5])
    assert status["status"] == "online"
    assert "on_kicked_offline" not in rec_android.names() + rec2.names()


def test_policy_4_kicks_within_device_class(server, clients):
    srv = server(IM_MULTI_LOGIN_POLICY=4)
    _register(srv.url, "dan")
    windows, rec_win = clients(srv.url, platform_id=3)
    ios, rec_ios = clients(srv.url, platform_id=1)
    windows.login("dan", PASSWORD)
    ios.login("dan", PASSWORD)
    linux, _ = clients(srv.url, platform_id=7)  # same PC class as Windows
    linux.login("dan", PASSWORD)
    rec_win.wait_for("on_kicked_offline")
    android, _ = clients(srv.url, platform_id=2)  # same mobile class as iOS
    android.login("dan", PASSWORD)
    rec_ios.wait_for("on_kicked_offline")
    ipad, _ = clients(srv.url, platform_id=9)  # Pad is a class of its own
    ipad.login("dan", PASSWORD)
    assert linux.get_login_status() == android.get_login_status() == LoginStatus.LOGGED_IN


def test_policy_0_keeps_both(server, clients):
    srv = server(IM_MULTI_LOGIN_POLICY=0)
    _register(srv.url, "erin")
    first, rec = clients(srv.url, platform_id=5)
    second, _ = clients(srv.url, platform_id=5)
    first.login("erin", PASSWORD)
    second.login("erin", PASSWORD)
    assert first.get_self_user_info()["user_id"] == "erin"
    assert first.get_login_status() == second.get_login_status() == LoginStatus.LOGGED_IN
    assert "on_kicked_offline" not in rec.names()


def test_policy_5_pcs_never_kick_nor_are_kicked(server, clients):
    srv = server(IM_MULTI_LOGIN_POLICY=5)
    _register(srv.url, "fay")
    mac, rec_mac = clients(srv.url, platform_id=4)
    web, rec_web = clients(srv.url, platform_id=5)
    mac.login("fay", PASSWORD)
    web.login("fay", PASSWORD)
    windows, _ = clients(srv.url, platform_id=3)
    windows.login("fay", PASSWORD)  # a PC: kicks nobody
    assert web.get_self_user_info()["user_id"] == "fay"
    android, _ = clients(srv.url, platform_id=2)
    android.login("fay", PASSWORD)  # non-PC: takes the single non-PC slot from Web
    rec_web.wait_for("on_kicked_offline")
    assert mac.get_login_status() == windows.get_login_status() == LoginStatus.LOGGED_IN
    assert "on_kicked_offline" not in rec_mac.names()


def test_same_token_reconnect_is_never_kicked(server, clients):
    srv = server()
    _register(srv.url, "gus")
    proxy = TcpProxy(srv.port)
    try:
        gus, rec = clients(proxy.url)
        gus.login("gus", PASSWORD)
        rec.wait_for("on_connect_success")
        proxy.cut()
        rec.wait_for("on_connect_failed")  # the first retries hit the cut network
        proxy.resume()
        rec.wait_for("on_connect_success", count=2)
        assert gus.get_login_status() == LoginStatus.LOGGED_IN
        assert rec.statuses["on_connect_failed"] == LoginStatus.LOGGED_IN
        assert gus.get_self_user_info()["user_id"] == "gus"
        assert "on_kicked_offline" not in rec.names()
        assert rec.args("on_connect_failed")[0][0] == 10001
    finally:
        proxy.close()


def test_token_expiry_while_online(server, clients):
    srv = server(IM_TOKEN_TTL=2)
    _register(srv.url, "hal")
    hal, rec = clients(srv.url)
    hal.login("hal", PASSWORD)
    rec.wait_for("on_user_token_expired", timeout=8)
    assert rec.statuses["on_user_token_expired"] == LoginStatus.LOGGED_OUT
    assert hal.get_login_status() == LoginStatus.LOGGED_OUT
    assert "on_kicked_offline" not in rec.names()


def test_expired_token_refused_at_reconnect(server, clients):
    srv = server(IM_TOKEN_TTL=2, IM_SWEEP_INTERVAL=60)
    _register(srv.url, "ivy")
    proxy = TcpProxy(srv.port)
    try:
        ivy, rec = clients(proxy.url)
        ivy.login("ivy", PASSWORD)
        proxy.cut()
        rec.wait_for("on_connect_failed")
        # the network comes back once the server calls the token expired (asking does not change it)
        wait_until(
            lambda: (
                requests.post(f"{srv.url}/api/get_self_user_info", headers={"token": ivy._token}, timeout=10).json()[
                    "errCode"
                ]
                == 1501
            ),
            interval=0.2,
            message="the token expired on the server",
        )
        proxy.resume()
        rec.wait_for("on_user_token_expired", timeout=15)
        assert (1501, "token expired") in rec.args("on_connect_failed")
        assert ivy.get_login_status() == LoginStatus.LOGGED_OUT
    finally:
        proxy.close()


def test_admin_force_logout(server, clients):
    srv = server(IM_ADMIN_SECRET="s3cret-admin")
    _register(srv.url, "jay")
    web, rec_web = clients(srv.url, platform_id=5)
    ios, rec_ios = clients(srv.url, platform_id=1)
    web.login("jay", PASSWORD)
    ios.login("jay", PASSWORD)
    assert srv.admin("admin_force_logout", {"user_id": "jay", "platform_id": 1}, "wrong")["errCode"] == 1104
    answer = srv.admin("admin_force_logout", {"user_id": "jay", "platform_id": 1})
    assert answer["data"] == {"kicked_sessions": 1}
    rec_ios.wait_for("on_kicked_offline")
    assert web.get_login_status() == LoginStatus.LOGGED_IN
    srv.admin("admin_force_logout", {"user_id": "jay"})
    rec_web.wait_for("on_kicked_offline")
    assert web.get_login_status() == LoginStatus.LOGGED_OUT


@pytest.mark.parametrize("token, code", [(None, 1500), ("imt_unknown", 1507), ("junk", 1503)])
def test_refused_connect_with_bad_token(server, token, code):
    srv = server()
    sio = socketio.Client(reconnection=False)
    errors = []
    sio.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(srv.url, auth={"token": token} if token else None, transports=["websocket"], wait_timeout=5)
    assert errors and errors[0]["data"]["errCode"] == code


def test_listener_exception_does_not_break_the_client(server, clients):
    srv = server()
    _register(srv.url, "kim")

    class Broken(ConnListener):
        def on_connect_success(self):
            raise RuntimeError("user code bug")

    kim, _ = clients(srv.url)
    kim.set_conn_listener(Broken())
    kim.login("kim", PASSWORD)
    assert kim.get_self_user_info()["user_id"] == "kim"
