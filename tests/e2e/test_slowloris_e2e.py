"""Slow and unauthenticated connections against a real server: a request head sent a byte at a time, an
Engine.IO connection that never sends its Socket.IO CONNECT, many of those from one address, a peer
that resets mid-request, and a frame over the 1 MiB limit (docs/security.md, "Slow and
unauthenticated connections")."""

import json
import socket
import struct
import time

import pytest
import requests
import websocket

from tests.support.accounts import rest_token
from tests.support.raw_socket import RawSocket
from tests.support.recorder import wait_until

# Generous bounds on "closed": far above the shortened timeouts below, and below the 45 s after which
# Engine.IO's own ping timeout would close a silent connection anyway.
CLOSED_WITHIN = 20.0
EIO = "/socket.io/?EIO=4"


_user = rest_token


def _connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=CLOSED_WITHIN)


def _closed_by_server(sock) -> bool:
    """Read until the server closes (True) or the bound passes with the connection still open."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _raw_websocket(server) -> websocket.WebSocket:
    """An Engine.IO WebSocket that gets its open packet and never sends the Socket.IO CONNECT."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}{EIO}&transport=websocket", timeout=CLOSED_WITHIN)
    assert ws.recv().startswith("0{")
    return ws


def _reset(sock) -> None:
    """Close with a TCP reset, as a client that crashes or is cut off does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_a_half_sent_head_is_closed_but_neither_a_websocket_nor_a_slow_body(live_server, mode):
    server = live_server({"IM_ASYNC_MODE": mode, "IM_HEADER_TIMEOUT": "1"})
    token = _user(server.url, "patient")
    established = RawSocket(server.url, token)
    slow_body = _connect(server)
    body = json.dumps({"user_id": "patient", "password": "password123", "platform_id": 5}).encode()
    slow_body.sendall(
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:5]
    )

    loris = _connect(server)
    loris.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert _closed_by_server(loris), "a request head still incomplete after IM_HEADER_TIMEOUT is closed"
    loris.close()

    # Both began before the half-sent head, so each is now older than the header timeout.
    assert established.is_open(), "an established WebSocket is not limited by the header timeout"
    slow_body.sendall(body[5:])
    answer = b""
    while chunk := slow_body.recv(65536):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["errCode"] == 0
    slow_body.close()
    established.close()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_an_engineio_connection_without_connect_is_closed_after_the_handshake_timeout(live_server, mode):
    server = live_server({"IM_ASYNC_MODE": mode, "IM_HANDSHAKE_TIMEOUT": "1"})
    token = _user(server.url, "member")
    member = RawSocket(server.url, token)

    silent = _raw_websocket(server)
    closed = False
    try:
        while not closed:
            opcode, _data = silent.recv_data(control_frame=True)
            closed = opcode == websocket.ABNF.OPCODE_CLOSE
    except websocket.WebSocketConnectionClosedException:
        closed = True
    except websocket.WebSocketTimeoutException:
        pass
    assert closed, "a WebSocket that never sends the Socket.IO CONNECT is closed"
    silent.shutdown()

    handshake = requests.get(f"{server.url}{EIO}&transport=polling", timeout=10)
    sid = json.loads(handshake.text[1:])["sid"]
    deadline = time.monotonic() + CLOSED_WITHIN
    status = 200
    while status == 200 and time.monotonic() < deadline:  # each poll waits for the next packet
        status = requests.get(f"{server.url}{EIO}&transport=polling&sid={sid}", timeout=CLOSED_WITHIN).status_code
    assert status == 400, "a polling connection that never sends the CONNECT is forgotten"

    assert member.is_open(), "a connection whose CONNECT was accepted is not limited by the timeout"
    member.close()


def _handshake_refused(server) -> dict | None:
    """The envelope of a refused Engine.IO handshake (polling), or None if it was accepted."""
    answer = requests.get(f"{server.url}{EIO}&transport=polling", timeout=10)
    if answer.status_code == 200:
        requests.post(
            f"{server.url}{EIO}&transport=polling&sid={json.loads(answer.text[1:])['sid']}", data="1", timeout=10
        )  # closes it again
        return None
    assert answer.status_code == 401, answer.text
    return answer.json()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_unauthenticated_connections_per_address_are_capped_and_freed(live_server, mode):
    server = live_server(
        {"IM_ASYNC_MODE": mode, "IM_MAX_UNAUTHENTICATED_PER_ADDRESS": "2", "IM_HANDSHAKE_TIMEOUT": "600"}
    )
    token = _user(server.url, "neighbour")
    first, second = _raw_websocket(server), _raw_websocket(server)

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _raw_websocket(server)
    assert refused.value.status_code == 401
    envelope = _handshake_refused(server)
    assert envelope and envelope["errCode"] == 1008, envelope

    first.close()
    wait_until(
        lambda: _handshake_refused(server) is None,
        timeout=CLOSED_WITHIN,
        message="a closed connection no longer counts",
    )
    third = _raw_websocket(server)
    assert _handshake_refused(server)["errCode"] == 1008

    # A connection counts only until its CONNECT is accepted.
    third.close()
    wait_until(
        lambda: _handshake_refused(server) is None,
        timeout=CLOSED_WITHIN,
        message="the slot of the closed connection is free again",
    )
    member = RawSocket(server.url, token)
    fourth = _raw_websocket(server)
    assert _handshake_refused(server)["errCode"] == 1008
    assert member.is_open()
    for ws in (second, fourth):
        ws.close()
    member.close()


def test_a_reset_half_request_logs_one_line(live_server):
    """gevent (eventlet's green sockets read a reset as the end of input, and log nothing of it)."""
    server = live_server()
    half = _connect(server)
    half.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-")
    # a later connection answered: the server has accepted this one and read what it sent
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    _reset(half)
    wait_until(
        lambda: "ended before its request head" in server.log_tail(),
        timeout=CLOSED_WITHIN,
        message="the reset is logged",
    )
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    lines = [line for line in log.splitlines() if "reset by peer" in line]
    assert len(lines) == 1, lines


def test_a_frame_over_1_mib_gets_close_1009(live_server):
    server = live_server({"IM_RATE_LIMITS_ENABLED": "false"})
    tokens = {name: _user(server.url, name) for name in ("big", "bystander")}
    big, bystander = RawSocket(server.url, tokens["big"]), RawSocket(server.url, tokens["bystander"])
    big.ws.send('421["get_self_user_info",{"x":"' + "a" * (1100 * 1024) + '"}]')
    code = None
    while code is None:  # the socket's timeout bounds the wait
        opcode, data = big.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0]
    assert code == 1009, "a frame over the limit is refused as too big, with a close the client sees"
    big.close()
    assert bystander.is_open()
    bystander.close()
