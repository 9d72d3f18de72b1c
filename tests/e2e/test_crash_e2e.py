"""SIGKILL under load: every acknowledged message survives, seqs stay contiguous, and clients that
were online catch up after the restart with nothing lost and nothing twice."""

import threading
import time
from collections import Counter

import pytest
import requests

from im.sdk import AdvancedMsgListener, IMClient, IMError
from tests.support.server import LiveServer

PASSWORD = "password123"
SENDERS = ("s1", "s2", "s3")


class Inbox(AdvancedMsgListener):
    def __init__(self):
        self.lock = threading.Lock()
        self.received = []

    def on_recv_new_message(self, msg):
        with self.lock:
            self.received.append((msg["conversation_id"], msg["seq"]))

    def keys(self):
        with self.lock:
            return list(self.received)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def all_messages(url, token, conversation_id):
    """Every message of a conversation the reader may see, oldest first, paging by seq."""
    found, start = [], None
    while True:
        page = requests.post(
            f"{url}/api/get_history_message_list",
            headers={"token": token},
            timeout=30,
            json={"conversation_id": conversation_id, "count": 100, **({"start_seq": start} if start else {})},
        ).json()
        assert page["errCode"] == 0, page
        found = page["data"]["messages"] + found
        if page["data"]["is_end"]:
            return found
        start = page["data"]["messages"][0]["seq"]


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path, mode):
    env = {"IM_ASYNC_MODE": mode, "IM_RATE_LIMITS_ENABLED": "false"}
    server = LiveServer(tmp_path / "srv", env).start()
    clients = {}
    try:
        for user_id in (*SENDERS, "reader"):
            client = IMClient(server.url, timeout=5, max_backoff=1)  # back soon after the restart
            client.register(user_id, PASSWORD, user_id)
            client.login(user_id, PASSWORD)
            clients[user_id] = client
        inbox = Inbox()
        clients["reader"].set_advanced_msg_listener(inbox)
        group_id = clients["s1"].create_group("crash", ["s2", "s3", "reader"])["group_id"]

        acked, attempted, lock = [], Counter(), threading.Lock()
        stop = threading.Event()

        def send_loop(sender):
            n = 0
            while not stop.is_set():
                n += 1
                target = {"group_id": group_id} if n % 2 else {"recv_id": "reader"}
                client_msg_id = f"{sender}-{n}"
                with lock:
                    attempted[client_msg_id] += 1
                try:
                    msg = clients[sender].send_message(
                        content_type=101, content={"text": client_msg_id}, client_msg_id=client_msg_id, **target
                    )
                except IMError:
                    continue  # the server is down: this one may or may not be stored, but at most once
                with lock:
                    acked.append((msg["conversation_id"], msg["seq"], client_msg_id))

        threads = [threading.Thread(target=send_loop, args=(s,), daemon=True) for s in SENDERS]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acked) >= 60, 60, "60 acknowledged messages")
        server.stop(kill=True)  # SIGKILL mid-load: no shutdown, no flush, sends in flight
        killed_at = len(acked)
        # Same database and port; a log of its own, so the first run's "serving on" line cannot count.
        server = LiveServer(
            tmp_path / "restarted", {**env, "DATABASE_URL": server.env["DATABASE_URL"]}, port=server.port
        ).start()
        wait_for(lambda: len(acked) >= killed_at + 30, 60, "sending to resume after the restart")
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads)

        token = clients["reader"]._token
        conversations = {f"sg_{group_id}"} | {"si_" + "~".join(sorted((s, "reader"))) for s in SENDERS}
        stored = {cid: all_messages(server.url, token, cid) for cid in conversations}
        for cid, messages in stored.items():
            assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), f"{cid}: seqs not contiguous"
        by_client_id = Counter(m["client_msg_id"] for ms in stored.values() for m in ms)
        assert all(count == 1 for count in by_client_id.values()), "a retried send was stored twice"
        where = {(m["conversation_id"], m["seq"]): m["client_msg_id"] for ms in stored.values() for m in ms}
        for cid, seq, client_msg_id in acked:
            assert where.get((cid, seq)) == client_msg_id, f"acknowledged {client_msg_id} lost"

        expected = {(m["conversation_id"], m["seq"]) for ms in stored.values() for m in ms if m["send_id"] != "reader"}
        wait_for(lambda: set(inbox.keys()) >= expected, 60, "the reader to catch up")
        # Having everything says nothing of a repeat still on its way. One more message in each
        # conversation, sent now, is delivered after every earlier one of it: wait for those.
        markers = {
            (m["conversation_id"], m["seq"])
            for m in [
                clients["s1"].send_message(group_id=group_id, content_type=101, content={"text": "marker"}),
                *(clients[s].send_message("reader", 101, {"text": "marker"}) for s in SENDERS),
            ]
        }
        assert {cid for cid, _ in markers} == conversations
        wait_for(lambda: set(inbox.keys()) >= markers, 30, "a last message in every conversation")
        received = Counter(inbox.keys())
        assert not [k for k, c in received.items() if c > 1], "delivered twice"
        assert set(received) == expected | markers
        assert len(acked) >= killed_at + 30
    finally:
        for client in clients.values():
            client.close()
        server.stop()
