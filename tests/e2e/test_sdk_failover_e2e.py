"""A Python SDK call whose socket drops before the answer does not wait out its timeout: a call safe
to repeat goes again over REST at once, any other fails at once with a network error."""

import socket
import threading
import time

import pytest

from im.sdk import IMClient, IMError
from tests.support.tcp_proxy import TcpProxy

PASSWORD = "password123"
# Long enough that a call waiting it out would fail the test by its outcome (TIMEOUT), not by luck.
CALL_TIMEOUT = 60.0


class StallingProxy(TcpProxy):
    """A TcpProxy that can stop forwarding one direction of the connections open now, as a network
    that loses packets would, and that keeps the first line of every HTTP request it forwards."""

    def __init__(self, target_port: int):
        self._stalled: set = set()
        self._swallowed = 0
        self._seen = threading.Condition()
        self.requests: list[bytes] = []
        super().__init__(target_port)

    def stall(self, direction: str) -> None:
        """Drop from now on what open connections send "up" (client to server) or "down"."""
        with self._lock:
            conns = list(self._conns)
        # _connect appends each client socket and then its upstream socket.
        self._stalled = set(conns[0::2] if direction == "up" else conns[1::2])

    def wait_swallowed(self, timeout: float = 10.0) -> None:
        """Block until a stalled connection has sent something that was dropped."""
        with self._seen:
            if not self._seen.wait_for(lambda: self._swallowed > 0, timeout):
                raise AssertionError("nothing was sent on a stalled connection")

    def _pipe(self, src, dst, ended):
        try:
            while data := src.recv(65536):
                if src in self._stalled:
                    with self._seen:
                        self._swallowed += len(data)
                        self._seen.notify_all()
                    continue
                if data.startswith((b"POST /", b"GET /")):
                    with self._seen:
                        self.requests.append(data.split(b"\r\n", 1)[0])
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            ended.set()

    def posted(self, name: str) -> int:
        with self._seen:
            return sum(1 for line in self.requests if line.startswith(f"POST /api/{name} ".encode()))


@pytest.fixture
def rig(live_server):
    """A server, a proxy to it, and a logged-in websocket-only SDK client that talks through the proxy."""
    server = live_server()
    proxy = StallingProxy(server.port)
    made = []

    def client(user_id, url=None):
        sdk = IMClient(url or proxy.url, timeout=CALL_TIMEOUT, transports=["websocket"])
        made.append(sdk)
        sdk.register(user_id, PASSWORD, user_id.title())
        sdk.login(user_id, PASSWORD)
        return sdk

    client.server = server
    client.proxy = proxy
    yield client
    for sdk in made:
        sdk.close()
    proxy.close()


def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def in_thread(fn):
    """Run fn in a thread; the returned function joins it and answers fn's result or raises its error."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result():
        thread.join(CALL_TIMEOUT * 2)
        assert not thread.is_alive(), "the call is still waiting"
        if "error" in out:
            raise out["error"]
        return out["value"]

    return result


def test_a_read_whose_socket_drops_is_answered_over_rest(rig):
    ann = rig("ann")
    proxy = rig.proxy
    before = proxy.posted("get_self_user_info")
    proxy.stall("up")  # the socket call never reaches the server
    result = in_thread(ann.get_self_user_info)
    proxy.wait_swallowed()
    proxy.drop()
    assert result()["user_id"] == "ann"
    # The server never saw the socket call: the answer came from the REST retry.
    assert proxy.posted("get_self_user_info") == before + 1


def test_a_send_whose_answer_is_lost_is_retried_over_rest_and_stored_once(rig):
    ben, cat = rig("ben"), rig("cat", url=rig.server.url)
    proxy = rig.proxy
    proxy.stall("down")  # the server handles the send; its answer never comes back
    result = in_thread(lambda: ben.send_message("cat", 101, {"text": "once"}, client_msg_id="failover-1"))
    conversation = cat.get_one_conversation(user_id="ben")["conversation_id"]

    def stored():
        return [
            m
            for m in cat.get_history_message_list(conversation, count=20)["messages"]
            if m["client_msg_id"] == "failover-1"
        ]

    # Wait for exactly what the retry must find: the first send, stored.
    wait_until(stored, "the first send stored")
    first = stored()
    assert len(first) == 1
    proxy.drop()
    msg = result()
    assert (msg["seq"], msg["client_msg_id"]) == (first[0]["seq"], "failover-1")
    assert proxy.posted("send_message") == 1
    assert len(stored()) == 1


def test_a_change_whose_socket_drops_fails_at_once_and_is_not_repeated(rig):
    dan = rig("dan")
    proxy = rig.proxy
    proxy.stall("up")
    result = in_thread(lambda: dan.create_group("Maybe", []))
    proxy.wait_swallowed()
    proxy.drop()
    with pytest.raises(IMError) as failed:
        result()
    assert failed.value.code == 10001 and "may or may not have taken effect" in failed.value.message
    assert proxy.posted("create_group") == 0
    assert dan.get_joined_group_list() == []
