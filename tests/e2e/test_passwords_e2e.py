"""Password change and admin reset on a real server process through the Python SDK: the other
terminals hear on_kicked_offline and are closed, the changing one keeps working."""

import pytest

from im.sdk import IMClient, IMError, LoginStatus
from tests.support.recorder import Recorder, wait_until

OLD, NEW = "password123", "correct horse battery"


@pytest.fixture(params=["gevent", "eventlet"])
def server(request, live_server):
    return live_server({"IM_ASYNC_MODE": request.param, "IM_ADMIN_SECRET": "reset-admin-secret"})


@pytest.fixture
def terminals(server):
    """Two signed-in terminals of kim (Web and iOS) and bo, a friend-less peer to message."""
    made = []

    def make(platform_id):
        client = IMClient(server.url, platform_id=platform_id, timeout=5)
        recorder = Recorder(client)
        client.set_conn_listener(recorder)
        made.append(client)
        return client, recorder

    anon = IMClient(server.url)
    for user_id in ("kim", "bo"):
        anon.register(user_id, OLD, user_id.title())
    anon.close()
    web, ios, bo = make(5), make(1), make(5)
    web[0].login("kim", OLD)
    ios[0].login("kim", OLD)
    bo[0].login("bo", OLD)
    yield web, ios, bo
    for client in made:
        client.close()


def _login_error(url, password):
    client = IMClient(url, platform_id=2, timeout=5)
    try:
        client.login("kim", password)
    except IMError as exc:
        return exc.code
    finally:
        client.close()
    return 0


def test_change_password_kicks_the_other_terminal_and_keeps_the_changer(server, terminals):
    (web, web_rec), (ios, ios_rec), (bo, bo_rec) = terminals
    with pytest.raises(IMError) as wrong:
        web.change_password("not the password", NEW)
    assert wrong.value.code == 1103
    assert ios.get_login_status() == LoginStatus.LOGGED_IN

    assert web.change_password(OLD, NEW) == {"revoked_sessions": 1}

    ios_rec.wait_for("on_kicked_offline")
    assert ios_rec.statuses["on_kicked_offline"] == LoginStatus.LOGGED_OUT
    wait_until(lambda: ios._sio is None, message="kicked terminal's socket closed")
    assert "on_user_token_expired" not in ios_rec.names()
    assert "on_kicked_offline" not in web_rec.names()
    assert web.get_login_status() == LoginStatus.LOGGED_IN
    assert web.get_self_user_info()["user_id"] == "kim"
    sent = web.send_message("bo", 101, {"text": "still here"})
    assert sent["seq"] == 1
    wait_until(
        lambda: bo.get_users_online_status(["kim"])[0]["platform_ids"] == [5],
        message="only the changing terminal online",
    )
    assert _login_error(server.url, OLD) == 1103
    assert _login_error(server.url, NEW) == 0
    assert "on_kicked_offline" not in bo_rec.names()


def test_admin_reset_password_kicks_every_terminal(server, terminals):
    (web, web_rec), (ios, ios_rec), (bo, bo_rec) = terminals
    answer = server.admin("admin_reset_password", {"user_id": "kim", "new_password": NEW})
    assert answer == {"errCode": 0, "errMsg": "", "data": {"revoked_sessions": 2}}
    for client, recorder in ((web, web_rec), (ios, ios_rec)):
        recorder.wait_for("on_kicked_offline")
        assert client.get_login_status() == LoginStatus.LOGGED_OUT
    wait_until(lambda: bo.get_users_online_status(["kim"])[0]["status"] == "offline", message="kim offline")
    assert _login_error(server.url, OLD) == 1103
    web.login("kim", NEW)
    assert web.get_self_user_info()["user_id"] == "kim"
    assert "on_kicked_offline" not in bo_rec.names()
