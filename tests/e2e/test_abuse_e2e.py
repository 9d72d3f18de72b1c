"""Abusive clients against a real server: one that never reads, oversized and malformed frames.
Each must cost the abuser only, never another user's service."""

import threading

import pytest
import requests
import websocket

from tests.support.accounts import rest_token
from tests.support.raw_socket import RawSocket

FLOOD = 120
BIG = "x" * 60_000


_user = rest_token


def _rest(url, name, payload, token):
    return requests.post(f"{url}/api/{name}", json=payload, headers={"token": token}, timeout=30).json()


def _round_trips(url, tokens, count, recv_id="b"):
    """`count` messages from a to b (user `recv_id`) over sockets: each is acked to a and pushed to b."""
    a, b = RawSocket(url, tokens["a"]), RawSocket(url, tokens["b"])
    try:
        for n in range(count):
            ack = a.call("send_message", {"recv_id": recv_id, "content_type": 101, "content": {"text": f"rt{n}"}})
            assert ack["errCode"] == 0, ack
            assert b.wait_event("new_message")["content"]["text"] == f"rt{n}"
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_a_client_that_never_reads_slows_nobody(shared_server, mode):
    server = shared_server({"IM_ASYNC_MODE": mode, "IM_RATE_LIMITS_ENABLED": "false"})
    tokens = {name: _user(server.url, name) for name in ("slow", "flooder", "a", "b")}
    slow = RawSocket(server.url, tokens["slow"], recv_buffer=4096)  # connects, then never reads again

    flood_answers = []

    def flood():
        for n in range(FLOOD):
            flood_answers.append(
                _rest(
                    server.url,
                    "send_message",
                    {"recv_id": "slow", "content_type": 110, "content": {"data": BIG}, "client_msg_id": f"f{n}"},
                    tokens["flooder"],
                )["errCode"]
            )

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        _round_trips(server.url, tokens, 20)
    finally:
        flooder.join(120)
    assert not flooder.is_alive() and flood_answers == [0] * FLOOD
    # The server still holds everything for the reader that would not read; it pulls it later.
    seqs = _rest(server.url, "get_max_seqs", {}, tokens["slow"])["data"]["conversations"]
    assert seqs["si_flooder~slow"]["max_seq"] == FLOOD
    _round_trips(server.url, tokens, 3)
    slow.close()
    assert server.proc.poll() is None


def test_oversized_and_malformed_frames_cost_only_their_sender(shared_server):
    # the gevent server of the test above (users of its own), started once for both
    server = shared_server({"IM_ASYNC_MODE": "gevent", "IM_RATE_LIMITS_ENABLED": "false"})
    tokens = {name: _user(server.url, "frames_" + name) for name in ("abuser", "a", "b")}

    huge = RawSocket(server.url, tokens["abuser"])
    huge.send_raw('42["get_self_user_info",{"x":"' + "a" * (2 * 1024 * 1024) + '"}]')
    assert huge.wait_closed() == 1009, "a frame over the 1 MiB limit must end that connection"
    huge.close()

    deep = RawSocket(server.url, tokens["abuser"])
    deep.send_raw('421["send_message",' + "[" * 100_000 + "]" * 100_000 + "]")
    deep_ack = None
    try:
        deep_ack = deep.call("get_self_user_info", {})
    except (websocket.WebSocketException, OSError):
        pass
    assert deep_ack is None or deep_ack["errCode"] == 0
    deep.close()

    binary = RawSocket(server.url, tokens["abuser"])
    binary.ws.send_binary(b"\xff\xfe\xfd invalid utf-8 \xc3\x28")
    binary.send_raw('451-["send_message",{"_placeholder":true,"num":0}]')
    binary.ws.send_binary(b"\xc3\x28\xa0\xa1")
    binary_ack = None
    try:
        binary_ack = binary.call("get_self_user_info", {})
    except (websocket.WebSocketException, OSError):
        pass
    assert binary_ack is None or binary_ack["errCode"] == 0
    binary.close()

    for garbage in ("42not json", "4", "42[]", "42[1,2]", '42["send_message"', "9"):
        raw = RawSocket(server.url, tokens["abuser"])
        raw.send_raw(garbage)
        raw.close()

    _round_trips(server.url, tokens, 3, recv_id="frames_b")
    assert server.proc.poll() is None
    assert "Traceback" not in server.log_path.read_text(errors="replace")

    empty = RawSocket(server.url, tokens["abuser"])
    empty.send_raw("")  # Engine.IO has no empty packet: the connection is closed as a protocol error
    assert empty.wait_closed() == 1002
    empty.close()
    _round_trips(server.url, tokens, 1, recv_id="frames_b")
    assert server.proc.poll() is None
    assert "Traceback" not in server.log_path.read_text(errors="replace")
