"""Engine.IO's heartbeat on a real server: pings at the configured interval keep an answering socket
online; a socket that stops answering is closed and its user goes offline."""

import time

import pytest
import requests
import websocket

from tests.support.accounts import rest_token
from tests.support.raw_socket import RawSocket

HEARTBEAT = {"IM_PING_INTERVAL": "1", "IM_PING_TIMEOUT": "1", "IM_RATE_LIMITS_ENABLED": "false"}


_user = rest_token


def _status(url, token, user_id):
    answer = requests.post(
        f"{url}/api/get_users_online_status", json={"user_ids": [user_id]}, headers={"token": token}, timeout=10
    ).json()
    return answer["data"][0]["status"]


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_pings_come_at_the_interval_and_keep_an_answering_socket(shared_server, mode):
    server = shared_server({**HEARTBEAT, "IM_ASYNC_MODE": mode})
    token = _user(server.url, "alive")
    sock = RawSocket(server.url, token)
    try:
        # Five pings, each answered, however late a loaded machine delivers them: counting the pings
        # of a fixed window instead fails when the server's ping timer runs late.
        pings, start = [], time.monotonic()
        sock.ws.settimeout(5)  # at the default interval of 25 s no ping would come in time
        while len(pings) < 5:
            if sock.ws.recv() == "2":
                pings.append(time.monotonic() - start)
                sock.ws.send("3")
        print("pings at", [round(t, 2) for t in pings])
        # One ping a second, never faster (a ping read late shortens one gap, not all four), and so
        # over more than the 2 s a silent socket may live: the answers counted.
        assert pings[-1] - pings[0] >= 3.0, pings
        assert sock.call("get_self_user_info", {})["errCode"] == 0
        assert _status(server.url, token, "alive") == "online"
    finally:
        sock.close()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_a_socket_that_stops_answering_pings_is_closed(shared_server, mode):
    server = shared_server({**HEARTBEAT, "IM_ASYNC_MODE": mode})
    token = _user(server.url, "mute")
    watcher = _user(server.url, "watcher")
    sock = RawSocket(server.url, token)  # connected; from now on nothing reads or answers
    try:
        assert _status(server.url, watcher, "mute") == "online"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _status(server.url, watcher, "mute") == "online":
            time.sleep(0.2)
        assert _status(server.url, watcher, "mute") == "offline"
        sock.ws.settimeout(3)
        with pytest.raises((websocket.WebSocketConnectionClosedException, OSError)):
            while True:
                if sock.ws.recv() in ("", None):
                    raise websocket.WebSocketConnectionClosedException("closed")
    finally:
        sock.close()
