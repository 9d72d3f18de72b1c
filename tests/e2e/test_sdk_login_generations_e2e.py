"""A late close or refusal of an old login never touches the next one (Python SDK, real server)."""

import threading

from im.sdk import IMClient, LoginStatus
from tests.support.recorder import Recorder
from tests.support.tcp_proxy import TcpProxy

PASSWORD = "password123"


def _reconnect_threads(besides=()):
    """The SDK's reconnect threads, but those of other tests' clients (listed in besides)."""
    return [t for t in threading.enumerate() if t.name == "im-sdk-reconnect" and t not in besides]


def test_the_old_logins_refused_reconnect_leaves_the_new_login_signed_in(live_server):
    others = set(_reconnect_threads())
    server = live_server()
    proxy = TcpProxy(server.port)
    client = IMClient(proxy.url, transports=["websocket"])
    rec = Recorder(client)
    client.set_conn_listener(rec)
    try:
        client.register("ann", PASSWORD, "Ann")
        client.login("ann", PASSWORD)
        proxy.hold_sockets()
        # The socket closes while the first login is still on (as when the server's close of a
        # logging-out session overtakes logout's answer): its reconnect, with the first token, waits.
        proxy.drop()
        proxy.wait_held(1)
        old_reconnect = _reconnect_threads(others)
        assert len(old_reconnect) == 1
        client.logout()  # answered over REST; the first token is revoked
        assert client.get_login_status() == LoginStatus.LOGGED_OUT

        second = threading.Thread(target=client.login, args=("ann", PASSWORD))
        second.start()
        proxy.wait_held(2)  # the second login, its token in hand, is connecting
        proxy.release_held()  # the old reconnect reaches the server now: refused, token revoked
        old_reconnect[0].join(10)
        assert not old_reconnect[0].is_alive()
        proxy.release_held()
        second.join(20)
        assert not second.is_alive()

        assert client.get_login_status() == LoginStatus.LOGGED_IN
        assert client.get_self_user_info()["user_id"] == "ann"
        # Callbacks run in order: the second login's success comes after anything the old one said.
        rec.wait_for("on_connect_success", 2)
        assert "on_kicked_offline" not in rec.names()
        assert "on_user_token_expired" not in rec.names()
        assert rec.statuses["on_connect_success"] == LoginStatus.LOGGED_IN
    finally:
        client.close()
        proxy.close()
