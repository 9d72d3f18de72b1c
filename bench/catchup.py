"""Offline catch-up: a user who missed messages comes online; time until it has them all.

On the server this is the Python SDK's own path (login, then the sync between
`on_sync_server_start` and `on_sync_server_finish`); on the relay, the same Python process connects and
pulls the messages the relay kept in memory, in pages, which is the least any catch-up must do.
"""
import threading
import time

import socketio

WAIT_S = 120
PAGE = 1000


def run(target, preload: dict) -> dict:
    expected = preload["acked"]
    if target.kind == "relay":
        return _relay(target.url, preload["target"], expected)
    return _server(target.url, preload["target"], preload["password"], expected)


def _relay(url: str, user_id: str, expected: int) -> dict:
    client = socketio.Client(reconnection=False)
    got = 0
    start = time.perf_counter()
    client.connect(url, auth={"user_id": user_id}, transports=["websocket"])
    try:
        while True:
            page = client.call("pull_offline", {"offset": got, "count": PAGE}, timeout=30)["data"]
            got += len(page)
            if len(page) < PAGE:
                break
        elapsed = time.perf_counter() - start
    finally:
        client.disconnect()
    return {"messages": got, "expected": expected, "catchup_s": round(elapsed, 3)}


def _server(url: str, user_id: str, password: str, expected: int) -> dict:
    from im.sdk import AdvancedMsgListener, ConversationListener, IMClient

    finished = threading.Event()
    received = []

    class Conversations(ConversationListener):
        def on_sync_server_finish(self, *args):
            finished.set()

    class Messages(AdvancedMsgListener):
        def on_recv_new_message(self, msg):
            received.append(msg)

    client = IMClient(url)
    client.set_conversation_listener(Conversations())
    client.set_advanced_msg_listener(Messages())
    start = time.perf_counter()
    try:
        client.login(user_id, password)
        if not finished.wait(WAIT_S):
            raise RuntimeError(f"sync did not finish in {WAIT_S} s ({len(received)} of {expected} messages)")
        synced = time.perf_counter() - start
        deadline = time.monotonic() + 10
        while len(received) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        handed = time.perf_counter() - start
    finally:
        client.close()
    distinct = len({(m.get("conversation_id"), m.get("seq")) for m in received})
    return {"messages": len(received), "distinct": distinct, "expected": expected,
            "catchup_s": round(synced, 3), "all_handed_to_listener_s": round(handed, 3)}
