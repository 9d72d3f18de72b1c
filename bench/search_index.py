"""Search benchmark: search_messages on a synthetic table (bulk-inserted, as sends leave rows), page 1 and
page 50 of a common, a rare and a Chinese word, for a user who sees a quarter of the messages and one
who sees a few; the offset query search used before migration 0005 on the same rows; query plans;
and the CPU a send costs. Prints one JSON line per figure.

Usage: python -m bench.search_index [--db sqlite|postgresql] [--messages 300000] [--plans]
       python -m bench.search_index --send-cost 2000     (run from a checkout without 0005 for "before")
"""

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, or_, select, text  # noqa: E402

from im import create_app  # noqa: E402
from im.extensions import db  # noqa: E402
from im.models import SINGLE, Conversation, ConversationState, Message, User, utcnow  # noqa: E402
from im.operations import runner  # noqa: E402
from im.services import auth, conversations, message_send, message_sync, search  # noqa: E402

WORDS = {"common": "hello", "rare": "zebra", "chinese": "北京开会"}
PAGE = 20


def _fold(value):
    fold = getattr(search, "fold", None)
    return fold(value) if fold else value


@contextmanager
def database(kind: str, tmp: Path, keep: str | None):
    if kind == "sqlite":
        yield f"sqlite:///{Path(keep) if keep else tmp / 'search.sqlite3'}"
        return
    if keep:
        from sqlalchemy.engine import make_url

        from tests.support.services import POSTGRES_ADMIN_URL

        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(drivername="postgresql+psycopg", database=keep)
            .render_as_string(hide_password=False)
        )
        return
    from tests.support.services import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


def _pg_exists(name: str) -> bool:
    """Whether the kept PostgreSQL database is there (made empty, to be seeded, when it is not)."""
    import psycopg

    from tests.support.services import _admin_conninfo

    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return True
        conn.execute(f'CREATE DATABASE "{name}"')
    return False


def seed(n: int, rng: random.Random) -> None:
    """n messages over 10,000 one-to-one conversations; `heavy` is in a quarter of them, `light` in two."""
    now = utcnow() - timedelta(days=365)
    users = [f"u{i}" for i in range(2000)] + ["heavy", "light"]
    db.session.execute(
        insert(User),
        [
            {
                "user_id": u,
                "password_hash": "x",
                "nickname": u,
                "face_url": "",
                "event_seq": 0,
                "created_at": now,
                "updated_at": now,
            }
            for u in users
        ],
    )
    pairs = []
    for c in range(10_000):
        a = "heavy" if c % 4 == 0 else f"u{rng.randrange(1000)}"
        b = "light" if c in (1, 2) else f"u{1000 + rng.randrange(1000)}"
        pairs.append((a, b))
    pairs = list(dict.fromkeys(pairs))
    cids = [conversations.single_conversation_id(a, b) for a, b in pairs]
    which = [rng.randrange(len(pairs)) for _ in range(n)]
    totals = [0] * len(pairs)
    for c in which:
        totals[c] += 1
    db.session.execute(
        insert(Conversation),
        [
            {
                "conversation_id": cid,
                "conversation_type": SINGLE,
                "max_seq": totals[c],
                "latest_msg_time": now,
                "created_at": now,
            }
            for c, cid in enumerate(cids)
        ],
    )
    db.session.execute(
        insert(ConversationState),
        [
            {
                "user_id": u,
                "conversation_id": cid,
                "conversation_type": SINGLE,
                "peer_user_id": p,
                "has_read_seq": 0,
                "min_seq": 1,
                "is_pinned": False,
                "recv_msg_opt": 0,
                "draft_text": "",
                "hidden": False,
                "updated_at": now,
            }
            for (a, b), cid in zip(pairs, cids)
            for u, p in ((a, b), (b, a))
        ],
    )
    seqs = [0] * len(pairs)
    vocab = [f"w{i}" for i in range(5000)]
    batch = []
    for i, c in enumerate(which):
        seqs[c] += 1
        words = rng.sample(vocab, 6)
        r = rng.random()
        if r < 0.2:
            words.insert(rng.randrange(6), rng.choice(["hello", "Hello", "HELLO"]))
        elif r < 0.21:
            words.insert(rng.randrange(6), "我们明天去北京开会")
        elif r < 0.2102:
            words.insert(rng.randrange(6), "Zebra")
        words = " ".join(words)
        a, b = pairs[c]
        batch.append(
            {
                "server_msg_id": secrets.token_hex(16),
                "conversation_id": cids[c],
                "conversation_type": SINGLE,
                "seq": seqs[c],
                "send_id": a,
                "recv_id": b,
                "client_msg_id": secrets.token_hex(16),
                "content_type": 101,
                "content": {"text": words},
                "search_text": _fold(words),
                "status": 1,
                "send_time": now + timedelta(milliseconds=i * 50),
                "revoked_at": None,
            }
        )
        if len(batch) == 20_000:
            _flush(batch)
    _flush(batch)
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _flush(batch):
    if batch:
        db.session.execute(insert(Message), batch)
        db.session.commit()
        batch.clear()


def old_search(user_id, keyword, offset, count):
    """search_messages as it was before 0005: ILIKE over every visible row, sorted, then OFFSET."""
    stmt = (
        select(Message.id)
        .join(
            ConversationState,
            (ConversationState.conversation_id == Message.conversation_id) & (ConversationState.user_id == user_id),
        )
        .where(
            Message.status == 1,
            Message.seq >= ConversationState.min_seq,
            or_(ConversationState.max_readable_seq.is_(None), Message.seq <= ConversationState.max_readable_seq),
            Message.search_text.ilike(f"%{keyword}%"),
            message_sync.not_deleted(user_id),
        )
        .order_by(Message.send_time.desc(), Message.id.desc())
        .offset(offset)
        .limit(count + 1)
    )
    return stmt


def timed(fn, runs=5):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def measure(kind: str, n: int, plans: bool, with_old: bool, keep: str | None) -> None:
    from im.services import search

    seeded = keep is not None and (Path(keep).exists() if kind == "sqlite" else _pg_exists(keep))
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp), keep) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IM_SOCKETIO_ASYNC_MODE": "threading", "TESTING": True})
        with app.app_context():
            ctx = runner.context()
            started = time.monotonic()
            if not seeded:
                seed(n, random.Random(14))
            print(json.dumps({"db": kind, "seeded": n, "seconds": round(time.monotonic() - started, 1)}), flush=True)
            for user in ("heavy", "light"):
                for label, word in WORDS.items():
                    first_ms, page = timed(lambda: search.search_messages(ctx, user, word, count=PAGE))
                    row = {
                        "db": kind,
                        "user": user,
                        "word": label,
                        "page1_ms": round(first_ms, 1),
                        "page1_found": len(page["messages"]),
                    }
                    cursor, calls = page["cursor"], 1
                    while cursor and calls < 49:
                        cursor = search.search_messages(ctx, user, word, cursor=cursor, count=PAGE)["cursor"]
                        calls += 1
                    if cursor:
                        ms, page = timed(lambda: search.search_messages(ctx, user, word, cursor=cursor, count=PAGE))
                        row.update(page50_ms=round(ms, 1), page50_found=len(page["messages"]))
                    if with_old:
                        if kind == "postgresql":  # as before 0005: no trigram index (back on at the rollback)
                            db.session.execute(text("DROP INDEX ix_messages_search_trgm"))
                        row["old_page1_ms"] = round(
                            timed(lambda: db.session.execute(old_search(user, word, 0, PAGE)).all(), runs=3)[0], 1
                        )
                        row["old_page50_ms"] = round(
                            timed(lambda: db.session.execute(old_search(user, word, 49 * PAGE, PAGE)).all(), runs=3)[0],
                            1,
                        )
                        db.session.rollback()
                    print(json.dumps(row, ensure_ascii=False), flush=True)
            # The most one call can cost: every index match it may look at is someone else's.
            direct_rows, search.DIRECT_ROWS = search.DIRECT_ROWS, 0
            for label, word in (("common", "hello"), ("short", "he")):
                ms, page = timed(lambda: search.search_messages(ctx, "light", word, count=PAGE))
                print(
                    json.dumps(
                        {
                            "db": kind,
                            "user": "light, through the index",
                            "word": label,
                            "worst_call_ms": round(ms, 1),
                            "found": len(page["messages"]),
                        }
                    ),
                    flush=True,
                )
            search.DIRECT_ROWS = direct_rows
            if plans:
                print_plans(kind, search)
            db.session.remove()
            db.engine.dispose()


def print_plans(kind, search):
    explain = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
    ids = list(range(1, 201))
    fts = {"q": '"hello"', "pattern": "%hello%", "before": search.MAX_CURSOR, "n": 200}
    candidates = (
        [("candidates", search._FTS_CANDIDATES.text, fts)]
        if kind == "sqlite"
        else [
            ("walk", search._TRGM_WALK.text, {"keyword": "hello", "before": 10**6, "floor": 10**6 - 5000, "n": 200}),
            ("bitmap", search._TRGM_BITMAP.text, {"pattern": "%zebra%", "before": 10**6, "n": 1000}),
        ]
    )
    for name, sql, params in [
        *candidates,
        (
            "short",
            search._SHORT_CANDIDATES.text,
            {"pattern": "%he%", "before": 10**6, "floor": 10**6 - 20000, "n": 200},
        ),
    ]:
        plan = db.session.execute(text(explain + sql), params).all()
        print(name, *[" | ".join(map(str, r)) for r in plan], sep="\n  ")
    visible = (
        search._filtered("heavy", None, None, None, None, None, False)
        .where(Message.id.in_(ids))
        .order_by(Message.id.desc())
    )
    compiled = visible.compile(db.engine, compile_kwargs={"literal_binds": True})
    print(
        "visible",
        *[" | ".join(map(str, r)) for r in db.session.execute(text(explain + str(compiled))).all()],
        sep="\n  ",
    )
    direct = (
        search._filtered("light", None, None, None, None, None, True)
        .where(Message.search_text.like("%hello%"), Message.id < 10**9)
        .order_by((Message.id + 0).desc())
        .limit(PAGE + 1)
    )
    compiled = direct.compile(db.engine, compile_kwargs={"literal_binds": True})
    print(
        "own conversations",
        *[" | ".join(map(str, r)) for r in db.session.execute(text(explain + str(compiled))).all()],
        sep="\n  ",
    )
    stmt = old_search("heavy", "hello", 980, PAGE)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    print(
        "old", *[" | ".join(map(str, r)) for r in db.session.execute(text(explain + str(compiled))).all()], sep="\n  "
    )


def send_cost(count: int) -> None:
    """CPU (this process) per one-to-one text send through the service, on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/send.sqlite3",
                "IM_SOCKETIO_ASYNC_MODE": "threading",
                "TESTING": True,
                "IM_ARGON2_TIME_COST": 1,
                "IM_ARGON2_MEMORY_KIB": 64,
            }
        )
        with app.app_context(), app.test_request_context():
            ctx = runner.context()
            auth.register(ctx, "alice", "password123", "Alice")
            auth.register(ctx, "bob", "password123", "Bob")
            db.session.commit()
            for i in range(200):  # warm caches
                with runner.transaction() as ctx:
                    message_send.send_one(ctx, message_send.Send("alice", 101, {"text": f"warm {i}"}, recv_id="bob"))
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(count):
                with runner.transaction() as ctx:
                    text = f"Hello École 北京开会 number {i} w{i % 97}"
                    message_send.send_one(ctx, message_send.Send("alice", 101, {"text": text}, recv_id="bob"))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                json.dumps(
                    {
                        "sends": count,
                        "cpu_us_per_send": round(cpu / count * 1e6),
                        "wall_us_per_send": round(wall / count * 1e6),
                    }
                )
            )
            db.session.remove()
            db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--old", action="store_true", help="also time the query used before migration 0005")
    parser.add_argument("--send-cost", type=int, default=0)
    parser.add_argument("--keep", help="seed this SQLite file (or PostgreSQL database name) once, measure on it later")
    args = parser.parse_args()
    if args.send_cost:
        send_cost(args.send_cost)
    else:
        measure(args.db, args.messages, args.plans, args.old, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
