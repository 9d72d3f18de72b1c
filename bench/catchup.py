"""Catch-up benchmark: a terminal that was offline while N messages came in across C conversations.

Seeds the database in bulk (rows as sends leave them), starts a real server on it,
and times an SDK login from the start until on_sync_server_finish, checking every message arrived
exactly once and in seq order. Usage: python -m bench.catchup [--conversations 100] [--per 100]
"""

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from im import create_app  # noqa: E402
from im.extensions import db  # noqa: E402
from im.models import SINGLE, Conversation, ConversationState, Message, utcnow  # noqa: E402
from im.operations import runner  # noqa: E402
from im.sdk import AdvancedMsgListener, ConversationListener, IMClient  # noqa: E402
from im.services import auth  # noqa: E402
from im.services.conversations import single_conversation_id  # noqa: E402
from tests.support.server import FAST_HASH, LiveServer  # noqa: E402

PASSWORD = "password123"


class Counter(AdvancedMsgListener, ConversationListener):
    def __init__(self):
        self.last_seq: dict[str, int] = {}
        self.count = 0
        self.out_of_order = 0
        self.finished = threading.Event()

    def on_recv_new_message(self, msg):
        cid = msg["conversation_id"]
        if msg["seq"] != self.last_seq.get(cid, 0) + 1:
            self.out_of_order += 1
        self.last_seq[cid] = msg["seq"]
        self.count += 1

    def on_sync_server_finish(self):
        self.finished.set()


def seed(db_path: Path, conversations: int, per: int) -> None:
    """Accounts through the service; conversations, states and messages in bulk, as sends leave them."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": 1,
            "IM_ARGON2_MEMORY_KIB": 64,
        }
    )
    with app.app_context():
        ctx = runner.context()
        auth.register(ctx, "reader", PASSWORD, "Reader")
        now = utcnow()
        convs, states, msgs = [], [], []
        for c in range(conversations):
            sender = f"sender{c}"
            auth.register(ctx, sender, PASSWORD, f"Sender {c}")
            cid = single_conversation_id(sender, "reader")
            convs.append(
                {
                    "conversation_id": cid,
                    "conversation_type": SINGLE,
                    "max_seq": per,
                    "latest_msg_time": now,
                    "created_at": now,
                }
            )
            for user, peer, read in ((sender, "reader", per), ("reader", sender, 0)):
                states.append(
                    {
                        "user_id": user,
                        "conversation_id": cid,
                        "conversation_type": SINGLE,
                        "peer_user_id": peer,
                        "has_read_seq": read,
                        "min_seq": 1,
                        "is_pinned": False,
                        "recv_msg_opt": 0,
                        "draft_text": "",
                        "hidden": False,
                        "updated_at": now,
                    }
                )
            for seq in range(1, per + 1):
                msgs.append(
                    {
                        "server_msg_id": secrets.token_hex(16),
                        "conversation_id": cid,
                        "conversation_type": SINGLE,
                        "seq": seq,
                        "send_id": sender,
                        "recv_id": "reader",
                        "client_msg_id": secrets.token_hex(16),
                        "content_type": 101,
                        "content": {"text": f"message {seq} from {c}"},
                        "search_text": f"message {seq}",
                        "status": 1,
                        "send_time": now,
                    }
                )
        db.session.execute(insert(Conversation), convs)
        db.session.execute(insert(ConversationState), states)
        db.session.execute(insert(Message), msgs)
        db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--per", type=int, default=100)
    args = parser.parse_args()
    total = args.conversations * args.per
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.monotonic()
        seed(tmp / "im.sqlite3", args.conversations, args.per)
        print(f"seeded {total} messages in {time.monotonic() - started:.1f}s")
        server = LiveServer(tmp, {**FAST_HASH, "DATABASE_URL": f"sqlite:///{tmp / 'im.sqlite3'}"}).start()
        try:
            data_dir = tmp / "sdk"
            data_dir.mkdir()
            # The terminal knew of no conversation when it went offline: everything is to be caught up.
            (data_dir / "reader.messages.json").write_text(json.dumps({"seqs": {}}))
            client = IMClient(server.url, data_dir=data_dir, timeout=30)
            counter = Counter()
            client.set_advanced_msg_listener(counter)
            client.set_conversation_listener(counter)
            started = time.monotonic()
            client.login("reader", PASSWORD)
            counter.finished.wait(120)
            deadline = time.monotonic() + 30
            while counter.count < total and time.monotonic() < deadline:
                time.sleep(0.01)
            elapsed = time.monotonic() - started
            client.close()
        finally:
            server.stop()
    ok = counter.count == total and counter.out_of_order == 0
    print(
        f"caught up {counter.count}/{total} messages across {len(counter.last_seq)} conversations "
        f"in {elapsed:.2f}s (login to last callback); out of order: {counter.out_of_order}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
