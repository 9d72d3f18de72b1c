"""Offline catch-up: a user who missed messages comes online; time until it has them all.

On the server this is the Python SDK's own path: a terminal that was online once (its seen seqs kept in
its data dir) logs in again, and the SDK pulls what it missed between `on_sync_server_start` and
`on_sync_server_finish`. On the relay, the same Python process connects and pulls the messages the relay
kept in memory, in pages: the least any catch-up must do.
"""

import threading
import time
from pathlib import Path

import socketio

PASSWORD = "bench-password-1"  # the load generator's
WAIT_S = 120
PAGE = 1000


def prime(target, user_id: str, workdir: Path) -> Path | None:
    """The user exists and its terminal has been online once, then went offline (server only)."""
    if target.kind == "relay":
        return None
    from im.sdk import ConversationListener, IMClient

    synced = threading.Event()

    class Conversations(ConversationListener):
        def on_sync_server_finish(self, *args):
            synced.set()

    client = IMClient(target.url, data_dir=workdir)
    try:
        client.register(user_id, PASSWORD, user_id)
        client.set_conversation_listener(Conversations())
        client.login(user_id, PASSWORD)
        if not synced.wait(30):
            raise RuntimeError("first sync of the catch-up user did not finish")
    finally:
        client.close()
    return workdir


def run(target, user_id: str, expected: int, terminal: Path | None) -> dict:
    if target.kind == "relay":
        return _relay(target.url, user_id, expected)
    return _server(target.url, user_id, expected, terminal)


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


def _server(url: str, user_id: str, expected: int, terminal: Path) -> dict:
    from im.sdk import AdvancedMsgListener, ConversationListener, IMClient

    finished = threading.Event()
    received = []

    class Conversations(ConversationListener):
        def on_sync_server_finish(self, *args):
            finished.set()

    class Messages(AdvancedMsgListener):
        def on_recv_new_message(self, msg):
            received.append(msg)

    client = IMClient(url, data_dir=terminal)
    client.set_conversation_listener(Conversations())
    client.set_advanced_msg_listener(Messages())
    start = time.perf_counter()
    try:
        client.login(user_id, PASSWORD)
        if not finished.wait(WAIT_S):
            raise RuntimeError(f"sync did not finish in {WAIT_S} s ({len(received)} of {expected} messages)")
        synced = time.perf_counter() - start
        # The callbacks run on the SDK's callback thread; the finish callback comes after the last
        # message callback on it, so all are handed over by now. Counted, not assumed:
        count_at_finish = len(received)
    finally:
        client.close()
    distinct = len({(m.get("conversation_id"), m.get("seq")) for m in received})
    return {
        "messages": count_at_finish,
        "distinct": distinct,
        "expected": expected,
        "conversations": len({m.get("conversation_id") for m in received}),
        "catchup_s": round(synced, 3),
    }
