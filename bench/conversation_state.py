"""Conversation-state costs of a heavy user, on a synthetic SQLite database built with bulk inserts.

The heavy user has 5,000 conversation states (4,700 one-to-one, 300 groups, some left, muted, hidden,
pinned, with deleted previews), beside 20,000 other users and about 100,000 other conversations.
Every row keeps the schema's invariants (contiguous seqs, max_seq = the newest seq, read positions
within the readable range). Prints one JSON line of medians (ms): get_total_unread_msg_count,
get_max_seqs, get_all_conversation_list, get_conversation_list_split (first page of 20), a send to a
2,000-member group (with and without its members online), the heavy user's SDK login until synced,
pushing the total unread count to its 2,000 online members (one burst), and another user's send round
trips on a server process while the heavy user reads its whole list (`--only-bystander`: that alone, on
a built database).

    .venv/bin/python bench/conversation_state.py [--db PATH] [--messages N] [--runs N]

The database is built once at PATH (default bench/results/conversation_state.sqlite3) and reused.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("IM_ARGON2_TIME_COST", "1")
os.environ.setdefault("IM_ARGON2_MEMORY_KIB", "64")

from sqlalchemy import insert  # noqa: E402

from im import create_app  # noqa: E402
from im.extensions import db  # noqa: E402
from im.models import (
    Conversation,
    ConversationState,
    Group,
    GroupMember,
    Message,
    MessageDeletion,  # noqa: E402
    User,
    utcnow,
)

HEAVY, BIG_OWNER, BIG_GROUP = "heavy", "owner", "big2000"
USERS, OTHER_CONVS, GROUPS, HEAVY_SINGLES = 20_000, 95_000, 300, 4_700


def _rows_in_chunks(table, rows, size=20_000):
    for i in range(0, len(rows), size):
        db.session.execute(insert(table), rows[i : i + size])


def build(app, client, total_messages: int) -> None:
    rnd = random.Random(14)
    for uid in (HEAVY, BIG_OWNER):
        assert (
            client.post("/api/register", json={"user_id": uid, "password": "password123", "nickname": uid}).get_json()[
                "errCode"
            ]
            == 0
        )
    now = utcnow()
    with app.app_context():
        hashed = db.session.get(User, HEAVY).password_hash
        users = [f"u{i:05d}" for i in range(USERS)]
        _rows_in_chunks(
            User.__table__,
            [
                {
                    "user_id": u,
                    "password_hash": hashed,
                    "nickname": u,
                    "face_url": "",
                    "event_seq": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for u in users
            ],
        )
        convs, states, members = [], [], []  # convs: (cid, type, group_id, [member ids])
        for i in range(HEAVY_SINGLES):
            peer = users[i]
            low, high = sorted((HEAVY, peer))
            convs.append((f"si_{low}~{high}", 1, None, [HEAVY, peer]))
        for g in range(GROUPS):
            size = 2000 if g == 0 else rnd.randint(20, 200)
            gid = BIG_GROUP if g == 0 else f"g{g:03d}"
            ids = [HEAVY] + ([BIG_OWNER] if g == 0 else []) + rnd.sample(users, size - (2 if g == 0 else 1))
            convs.append((f"sg_{gid}", 3, gid, ids))
        for _ in range(OTHER_CONVS):
            a, b = rnd.sample(users[HEAVY_SINGLES:], 2)
            low, high = sorted((a, b))
            convs.append((f"si_{low}~{high}", 1, None, [a, b]))
        convs = list({c[0]: c for c in convs}.values())
        per_conv = max(1, total_messages // len(convs))
        conv_rows, msg_rows, del_rows, group_rows = [], [], [], []
        mid = 0
        for cid, ctype, gid, ids in convs:
            n = rnd.randint(1, 2 * per_conv)
            start = now - timedelta(days=365) + timedelta(seconds=rnd.randint(0, 360 * 86400))
            times = [start + timedelta(seconds=30 * k) for k in range(n)]
            senders = [rnd.choice(ids[:2] if ctype == 1 else ids) for _ in range(n)]
            for seq in range(1, n + 1):
                mid += 1
                msg_rows.append(
                    {
                        "server_msg_id": f"m{mid:031d}",
                        "conversation_id": cid,
                        "conversation_type": ctype,
                        "seq": seq,
                        "send_id": senders[seq - 1],
                        "recv_id": ids[1] if ctype == 1 else None,
                        "group_id": gid,
                        "client_msg_id": f"c{mid}",
                        "content_type": 101,
                        "content": {"text": f"message {mid}"},
                        "search_text": f"message {mid}",
                        "status": 1,
                        "send_time": times[seq - 1],
                        "revoked_at": None,
                    }
                )
            conv_rows.append(
                {
                    "conversation_id": cid,
                    "conversation_type": ctype,
                    "group_id": gid,
                    "max_seq": n,
                    "latest_msg_time": times[-1],
                    "created_at": start,
                }
            )
            if gid is not None:
                group_rows.append(
                    {
                        "group_id": gid,
                        "group_name": gid,
                        "face_url": "",
                        "introduction": "",
                        "notification": "",
                        "need_verification": 0,
                        "status": 0,
                        "owner_user_id": ids[1] if gid == BIG_GROUP else ids[0],
                        "creator_user_id": ids[0],
                        "member_count": len(ids),
                        "created_at": start,
                        "updated_at": start,
                    }
                )
            for uid in ids:
                heavy = uid == HEAVY
                # Own messages are read (sending reads); the heavy user has read some of the rest.
                own = max((k + 1 for k, s in enumerate(senders) if s == uid), default=0)
                read = max(own, rnd.randint(0, n) if heavy else n)
                left = heavy and gid is not None and gid != BIG_GROUP and rnd.random() < 0.05
                min_seq = 1 if gid is None or rnd.random() < 0.5 else rnd.randint(1, n)
                read = max(read, min_seq - 1)
                states.append(
                    {
                        "user_id": uid,
                        "conversation_id": cid,
                        "conversation_type": ctype,
                        "peer_user_id": (ids[1] if uid == ids[0] else ids[0]) if ctype == 1 else None,
                        "group_id": gid,
                        "has_read_seq": min(read, n),
                        "min_seq": min_seq,
                        "max_readable_seq": rnd.randint(min_seq - 1, n) if left else None,
                        "is_pinned": heavy and rnd.random() < 0.01,
                        "recv_msg_opt": rnd.choice((1, 2)) if heavy and rnd.random() < 0.05 else 0,
                        "draft_text": "",
                        "draft_time": None,
                        "hidden": heavy and rnd.random() < 0.02 and read >= n,
                        "updated_at": now,
                    }
                )
                if heavy and rnd.random() < 0.03 and n >= min_seq:
                    del_rows.append({"user_id": uid, "conversation_id": cid, "seq": n})
                if gid is not None and not left:
                    members.append(
                        {
                            "group_id": gid,
                            "user_id": uid,
                            "role_level": 100 if uid == (ids[1] if gid == BIG_GROUP else ids[0]) else 20,
                            "nickname": "",
                            "join_source": 2,
                            "inviter_user_id": "",
                            "join_seq": min_seq,
                            "mute_end_time": None,
                            "joined_at": start,
                        }
                    )
        _rows_in_chunks(Conversation.__table__, conv_rows)
        _rows_in_chunks(Group.__table__, group_rows)
        _rows_in_chunks(GroupMember.__table__, members)
        _rows_in_chunks(ConversationState.__table__, states)
        _rows_in_chunks(Message.__table__, msg_rows)
        _rows_in_chunks(MessageDeletion.__table__, del_rows)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        print(f"built: {len(conv_rows)} conversations, {len(states)} states, {len(msg_rows)} messages", file=sys.stderr)


def median_ms(fn, runs: int) -> dict:
    """Median wall and CPU (this process's) milliseconds of fn: on a busy machine the CPU is the steadier."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"ms": round(statistics.median(wall), 2), "cpu_ms": round(statistics.median(cpu), 2)}


def sdk_login_ms(path: Path, runs: int) -> dict:
    """The heavy user's Python SDK login on a server process: login() returns once synced (get_max_seqs,
    the missed messages, the total unread count); a new terminal, so nothing is pulled."""
    from bench.procs import Target
    from im.sdk import IMClient

    times = []
    server = Target("server", path.parent / "conversation_state-server", f"sqlite:///{path}").start()
    try:
        for _ in range(runs + 1):
            client = IMClient(server.url, timeout=30)
            t0 = time.perf_counter()
            client.login(HEAVY, "password123")
            times.append((time.perf_counter() - t0) * 1000)
            client.logout()
            client.close()
    finally:
        server.stop()
    return {"ms": round(statistics.median(times[1:]), 2)}


def bystander_during_all_list(path: Path, runs: int) -> dict:
    """Another user's one-to-one sends (round trips, ms) on a server process while the heavy user calls
    get_all_conversation_list `runs` times, against the same sends with the heavy user idle."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bigdata import Api, Bystander
    from procs import Target

    server = Target("server", path.parent / "conversation_state-server", f"sqlite:///{path}").start()
    try:
        heavy = Api(server.url, HEAVY)
        heavy.call("get_all_conversation_list")  # warm
        by = Bystander(Api(server.url, "u10000"), "u10001")
        by.start()
        out = {}
        t0 = time.perf_counter()
        time.sleep(3)
        out["idle"] = by.during(t0, time.perf_counter())
        t0 = time.perf_counter()
        lists = [heavy.timed("get_all_conversation_list")[0] for _ in range(runs)]
        out["during_all_list"] = by.during(t0, time.perf_counter())
        out["all_list_ms"] = round(statistics.median(lists), 1)
        by.stop.set()
        by.join(30)
        return out
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(Path(__file__).resolve().parent / "results" / "conversation_state.sqlite3"))
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--only-bystander", action="store_true", help="only the bystander's sends (built database)")
    args = ap.parse_args()
    path = Path(args.db)
    if args.only_bystander and path.exists():
        print(json.dumps({"bystander_send": bystander_during_all_list(path, args.runs)}))
        return
    fresh = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "SECRET_KEY": "bench",
            "IM_RATE_LIMITS_ENABLED": False,
            # the pushes of the totals are timed on their own below, not inside the sends
            "IM_UNREAD_PUSH_DELAY": 3600,
        }
    )
    client = app.test_client()
    if fresh:
        build(app, client, args.messages)

    def token(uid):
        body = client.post("/api/login", json={"user_id": uid, "password": "password123", "platform_id": 5}).get_json()
        return body["data"]["token"]

    heavy, owner = token(HEAVY), token(BIG_OWNER)

    def call(name, payload, tok):
        body = client.post(f"/api/{name}", json=payload, headers={"token": tok}).get_json()
        assert body["errCode"] == 0, body
        return body["data"]

    out = {}
    out["get_total_unread_msg_count"] = median_ms(lambda: call("get_total_unread_msg_count", {}, heavy), args.runs)
    out["get_max_seqs"] = median_ms(lambda: call("get_max_seqs", {}, heavy), args.runs)
    out["get_all_conversation_list"] = median_ms(
        lambda: call("get_all_conversation_list", {}, heavy), max(3, args.runs // 3)
    )
    out["get_conversation_list_split_20"] = median_ms(
        lambda: call("get_conversation_list_split", {"offset": 0, "count": 20}, heavy), args.runs
    )
    out["group_send_2000_offline"] = median_ms(
        lambda: call(
            "send_message", {"group_id": BIG_GROUP, "content_type": 101, "content": {"text": "hello all"}}, owner
        ),
        args.runs,
    )
    # Members online: a socket per member, so the send's pushes have someone to reach.
    with app.app_context():
        members = [m.user_id for m in db.session.query(GroupMember).filter_by(group_id=BIG_GROUP)]
    member_tokens = [token(m) for m in members if m not in (HEAVY, BIG_OWNER)]
    sockets = [app.extensions["socketio"].test_client(app, auth={"token": t}) for t in member_tokens]
    out["online_members"] = len(sockets)
    out["group_send_2000_online"] = median_ms(
        lambda: call(
            "send_message", {"group_id": BIG_GROUP, "content_type": 101, "content": {"text": "hello all"}}, owner
        ),
        args.runs,
    )
    # What every online member's SDK did after each group message before the total was pushed: ask it.
    out["reask_total_2000_members"] = median_ms(
        lambda: [call("get_total_unread_msg_count", {}, t) for t in member_tokens], 3
    )
    try:
        from im import unread_push
    except ImportError:  # before the total was pushed
        unread_push = None
    if unread_push is not None:
        with app.app_context():
            # What one burst of group messages costs the process: every online member's total, pushed.
            out["unread_push_2000_members"] = median_ms(lambda: unread_push.push_now(members), max(3, args.runs // 3))
    for s in sockets:
        s.disconnect()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    out["sdk_login_to_synced"] = sdk_login_ms(path, max(3, args.runs // 3))
    out["bystander_send"] = bystander_during_all_list(path, max(5, args.runs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
