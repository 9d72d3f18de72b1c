"""One socket writing 20,000 cheap events in one burst, against a real server with its default
settings: it is refused (1008) or closed, and a bystander's round trips all go through meanwhile."""

import json
import statistics
import threading
import time

import pytest
import requests
import websocket

from tests.support.raw_socket import RawSocket

BURST = 20_000
BYSTANDER_ROUND_TRIPS = 30
PACE = 0.05  # a bystander's round trips start at most this often (a person, not a flood)


def _token(url, user_id):
    account = {"user_id": user_id, "password": "password123"}
    requests.post(f"{url}/api/register", json={**account, "nickname": user_id}, timeout=10)
    answer = requests.post(f"{url}/api/login", json={**account, "platform_id": 5}, timeout=10).json()
    return answer["data"]["token"]


class Attacker:
    """Writes the whole burst in one send and reads every answer until the server stops sending."""

    def __init__(self, url, token):
        self.socket = RawSocket(url, token, timeout=120)
        self.answers: dict[int, int] = {}  # errCode -> how many acks
        self.closing_ack = None
        self.disconnected = False
        self.done = threading.Event()
        # Framed (and masked) beforehand: done during the burst it would hold this process's GIL
        # and slow the bystander's client instead of the server.
        self.frames = b"".join(
            websocket.ABNF.create_frame(f'42{n}["get_self_user_info",{{}}]', websocket.ABNF.OPCODE_TEXT).format()
            for n in range(1, BURST + 1)
        )

    def burst(self) -> None:
        try:
            self.socket.ws.sock.sendall(self.frames)
        except OSError:
            pass  # the server closed this socket before reading all of it

    def read(self) -> None:
        try:
            while sum(self.answers.values()) < BURST:
                packet = self.socket.ws.recv()
                if packet == "2":
                    self.socket.ws.send("3")
                elif packet.startswith("43"):
                    envelope = json.loads(packet[packet.index("[") :])[0]
                    self.answers[envelope["errCode"]] = self.answers.get(envelope["errCode"], 0) + 1
                    if (envelope["data"] or {}).get("closing"):
                        self.closing_ack = envelope
                elif packet == "41":
                    self.disconnected = True
        except (websocket.WebSocketException, OSError):
            pass  # closed
        finally:
            self.done.set()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_a_burst_of_20000_events_is_refused_and_stalls_nobody(live_server, mode):
    server = live_server({"IM_ASYNC_MODE": mode})
    tokens = {name: _token(server.url, name) for name in ("attacker", "a", "b")}
    a, b = RawSocket(server.url, tokens["a"], timeout=120), RawSocket(server.url, tokens["b"], timeout=120)
    attacker = Attacker(server.url, tokens["attacker"])
    reader = threading.Thread(target=attacker.read)
    sender = threading.Thread(target=attacker.burst)
    reader.start()
    sender.start()
    round_trips, during = [], 0
    try:
        # Round trips of a bystander (a to b: acked to a, pushed to b) while the burst is answered,
        # and on to a fixed count after.
        n = 0
        while n < BYSTANDER_ROUND_TRIPS or not attacker.done.is_set():
            started = time.monotonic()
            ack = a.call("send_message", {"recv_id": "b", "content_type": 101, "content": {"text": f"rt{n}"}})
            assert ack["errCode"] == 0, ack
            assert b.wait_event("new_message")["content"]["text"] == f"rt{n}"
            round_trips.append(time.monotonic() - started)
            during += not attacker.done.is_set()
            n += 1
            time.sleep(max(0.0, started + PACE - time.monotonic()))
    finally:
        times = sorted(round_trips) or [float("nan")]
        print([round(t * 1000) for t in round_trips])
        print(
            f"bystander round trips: {len(round_trips)} ({during} while the burst was answered), "
            f"median {statistics.median(times) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms; "
            f"attacker acks by errCode {attacker.answers}, disconnected {attacker.disconnected}"
        )
        sender.join(120)
        reader.join(120)
        attacker.socket.close()
        a.close()
        b.close()
    assert not reader.is_alive()
    refused = attacker.answers.get(1008, 0)
    assert refused > 0 or attacker.disconnected, attacker.answers
    assert sum(attacker.answers.values()) < BURST, "every event of the burst was run"
    if attacker.disconnected:
        assert attacker.closing_ack is not None and "closed" in attacker.closing_ack["errMsg"]
    assert server.proc.poll() is None
    assert "Traceback" not in server.log_path.read_text(errors="replace")
