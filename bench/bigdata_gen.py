"""The bigdata scenario's database: a year of a busy server, written in bulk to the migrated schema.

Every invariant the schema encodes holds: seqs contiguous from 1 in each conversation and equal to its
`max_seq`, every participant's conversation state (read positions at or below the max), friendships
in both directions, group members with one owner and a true `member_count`, each user's event log
numbered 1..`event_seq`. Times grow with seq in each conversation and each event log, over 365 days.
Rows go in with SQLAlchemy Core executemany on SQLite and COPY on PostgreSQL.
"""

import json
import random
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, Boolean, bindparam, create_engine, event, update

from im.models import UTCDateTime
from im.services.search import fold

PASSWORD = "password123"
HEAVY, BYSTANDER, BYPEER = "heavy", "bystander", "bypeer"
# Words whose counts the scenario knows: a common one, a rare one, and Chinese (3 characters, so a
# trigram index can find it).
COMMON, RARE, CHINESE = "meeting", "zanzibar", "会议室"
SIZES = {
    "full": {
        "users": 20_000,
        "conversations": 100_000,
        "groups": 300,
        "messages": 2_550_000,
        "heavy_friends": 3_000,
        "heavy_conversations": 5_000,
        "heavy_events": 40_000,
        "events_per_user": 50,
        "group_members": (20, 400),
    },
    "small": {
        "users": 2_000,
        "conversations": 10_000,
        "groups": 30,
        "messages": 255_000,
        "heavy_friends": 300,
        "heavy_conversations": 500,
        "heavy_events": 15_000,
        "events_per_user": 30,
        "group_members": (10, 100),
    },
    "tiny": {
        "users": 200,
        "conversations": 1_000,
        "groups": 10,
        "messages": 8_000,
        "heavy_friends": 60,
        "heavy_conversations": 150,
        "heavy_events": 5_000,
        "events_per_user": 10,
        "group_members": (5, 40),
    },
}
# Bumped whenever the generated data changes, so a cached database of an older shape is rebuilt.
GENERATOR_VERSION = 2
CHUNK = 20_000
ENGLISH = (
    "hello see you tomorrow thanks ok the report is ready lunch at noon call me later sounds good "
    "where are you let us ship it review the draft weekend plans coffee deadline budget photo "
    "happy birthday traffic was terrible on my way"
).split()
CHINESE_WORDS = (
    "你好 明天 见 谢谢 好的 报告 已经 准备 中午 吃饭 晚点 打电话 周末 计划 咖啡 截止 预算 照片 "
    "生日 快乐 路上 堵车 项目 进度 北京 上海"
).split()


def sqlite_bulk_pragmas(dbapi_connection, _record):
    # Loading only: a crash leaves a half-built cache file, which the key check rebuilds.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("PRAGMA cache_size=-400000")
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.close()


def text_of(rng: random.Random, rare: bool = False) -> str:
    if rng.random() < 0.25:
        words = rng.choices(CHINESE_WORDS, k=rng.randint(2, 8))
        if rng.random() < 0.08:
            words.insert(rng.randrange(len(words) + 1), CHINESE)
        return "".join(words)
    words = rng.choices(ENGLISH, k=rng.randint(3, 12))
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words) + 1), COMMON)
    if rare:
        words.insert(rng.randrange(len(words) + 1), RARE)
    return " ".join(words)


class Writer:
    """Appends rows to one table at a time: Core executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str):
        self.engine = create_engine(url)
        self.pg = self.engine.dialect.name == "postgresql"
        if not self.pg:
            event.listen(self.engine, "connect", sqlite_bulk_pragmas)
        from im.extensions import db

        self.tables = db.metadata.tables
        self.conn = self.engine.connect()

    def write(self, table: str, rows) -> int:
        t, n, chunk = self.tables[table], 0, []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                n += self._flush(t, chunk)
                chunk = []
        if chunk:
            n += self._flush(t, chunk)
        return n

    def _flush(self, t, chunk) -> int:
        names = list(chunk[0])
        convert = [self._converter(t.columns[c].type) for c in names]
        raw = self.conn.connection.dbapi_connection
        if not self.pg:
            # What SQLAlchemy's bind processors would store (naive UTC text, JSON text, 0/1), minus
            # their per-value cost: the rows are millions.
            marks = ", ".join("?" * len(names))
            raw.executemany(
                f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({marks})",
                [tuple(f(row[c]) if f else row[c] for c, f in zip(names, convert)) for row in chunk],
            )
            raw.commit()
            return len(chunk)
        with raw.cursor() as cur, cur.copy(f"COPY {t.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in chunk:
                copy.write_row([f(row[c]) if f else row[c] for c, f in zip(names, convert)])
        raw.commit()
        return len(chunk)

    def _converter(self, type_):
        if isinstance(type_, JSON):
            return (lambda v: json.dumps(v, ensure_ascii=False)) if self.pg else json.dumps
        if self.pg:
            return None
        if isinstance(type_, UTCDateTime):
            return lambda v: None if v is None else v.replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(type_, Boolean):
            return lambda v: None if v is None else int(v)
        return None

    def close(self) -> None:
        if not self.pg:
            self.conn.exec_driver_sql("ANALYZE")
            self.conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.commit()
        self.conn.close()
        if self.pg:
            # What autovacuum has done to a database of a year: statistics, and the visibility map set,
            # without which an index-only scan reads the table anyway (5,000 heap fetches for the
            # heavy user's total unread). The bench's server may run without autovacuum.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        self.engine.dispose()


def generate(url: str, size: dict, password_hash: str, seed: int = 14) -> dict:
    """Fill the migrated, empty database at url; the three named users exist already (registered)."""
    rng = random.Random(seed)
    w = Writer(url)
    now = datetime.now(UTC).replace(microsecond=0)
    year_ago = now - timedelta(days=365)
    span = (now - year_ago).total_seconds()
    ordinary = [f"u{i:05d}" for i in range(size["users"] - 3)]
    w.write(
        "users",
        (
            {
                "user_id": u,
                "password_hash": password_hash,
                "nickname": u,
                "face_url": "",
                "event_seq": 0,
                "created_at": year_ago,
                "updated_at": year_ago,
            }
            for u in ordinary
        ),
    )

    # One-to-one conversations: the heavy user's (friends first), the bystander's, then random pairs.
    heavy_peers = rng.sample(ordinary, size["heavy_conversations"] - size["groups"])
    heavy_friends = heavy_peers[: size["heavy_friends"]]
    pairs = [(HEAVY, p) for p in heavy_peers] + [(BYSTANDER, BYPEER)]
    seen = {frozenset(p) for p in pairs}
    while len(pairs) < size["conversations"] - size["groups"]:
        a, b = rng.sample(ordinary, 2)
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            pairs.append((a, b))
    friend_pairs = [(HEAVY, f) for f in heavy_friends] + [(BYSTANDER, BYPEER)] + pairs[len(heavy_peers) + 1 :]
    w.write(
        "friends",
        (
            {"owner_user_id": o, "friend_user_id": f, "remark": "", "created_at": year_ago}
            for a, b in friend_pairs
            for o, f in ((a, b), (b, a))
        ),
    )

    groups = []
    lo, hi = size["group_members"]
    for g in range(size["groups"]):
        members = [HEAVY] + rng.sample(ordinary, rng.randint(lo, hi))
        groups.append((f"g{g:04d}", members))
    w.write(
        "groups",
        (
            {
                "group_id": gid,
                "group_name": f"Group {gid}",
                "face_url": "",
                "introduction": "",
                "notification": "",
                "need_verification": 0,
                "status": 0,
                "owner_user_id": m[1],
                "creator_user_id": m[1],
                "member_count": len(m),
                "created_at": year_ago,
                "updated_at": year_ago,
            }
            for gid, m in groups
        ),
    )
    w.write(
        "group_members",
        (
            {
                "group_id": gid,
                "user_id": u,
                "role_level": 100 if i == 1 else 20,
                "nickname": "",
                "join_source": 2,
                "inviter_user_id": m[1] if i != 1 else "",
                "join_seq": 1,
                "mute_end_time": None,
                "joined_at": year_ago,
            }
            for gid, m in groups
            for i, u in enumerate(m)
        ),
    )

    # Message counts: groups carry 30% of the messages, every conversation at least one.
    total = size["messages"]
    group_share = int(total * 0.3)
    convs = [(f"sg_{gid}", 3, gid, m) for gid, m in groups]
    convs += [(f"si_{min(a, b)}~{max(a, b)}", 1, None, [a, b]) for a, b in pairs]
    counts = [1] * len(convs)
    g_n = size["groups"]
    for i in rng.choices(range(g_n), k=group_share - g_n):
        counts[i] += 1
    for i in rng.choices(range(g_n, len(convs)), k=total - group_share - (len(convs) - g_n)):
        counts[i] += 1

    times = {}
    for (cid, *_), n in zip(convs, counts):
        first = rng.random() * span * 0.5
        times[cid] = (first, (span - first) / n)
    w.write(
        "conversations",
        (
            {
                "conversation_id": cid,
                "conversation_type": ct,
                "group_id": gid,
                "max_seq": n,
                "latest_msg_time": year_ago + timedelta(seconds=times[cid][0] + times[cid][1] * n),
                "created_at": year_ago,
            }
            for (cid, ct, gid, _), n in zip(convs, counts)
        ),
    )

    def states():
        for (cid, ct, gid, members), n in zip(convs, counts):
            for u in members:
                read = n if rng.random() < 0.7 else rng.randint(0, n)
                peer = None if ct == 3 else (members[1] if u == members[0] else members[0])
                yield {
                    "user_id": u,
                    "conversation_id": cid,
                    "conversation_type": ct,
                    "peer_user_id": peer,
                    "group_id": gid,
                    "has_read_seq": read,
                    "min_seq": 1,
                    "max_readable_seq": None,
                    "is_pinned": False,
                    "recv_msg_opt": 0,
                    "draft_text": "",
                    "draft_time": None,
                    "hidden": False,
                    "updated_at": now,
                }

    w.write("conversation_states", states())

    # Texts drawn from a pool (drawing words per message would cost minutes); twenty carry the rare word.
    pool = [text_of(rng) for _ in range(min(total, 100_000))]
    rare_at = set(rng.sample(range(1, total + 1), min(20, total)))

    # Stored in send-time order across conversations, as a live server stores them: newest-first search
    # walks ids, so ids grouped by conversation would put one user's whole history at one end.
    order = sorted(
        (times[convs[ci][0]][0] + times[convs[ci][0]][1] * seq, ci, seq)
        for ci, n in enumerate(counts)
        for seq in range(1, n + 1)
    )

    def messages():
        for serial, (_t, ci, seq) in enumerate(order, start=1):
            cid, ct, gid, members = convs[ci]
            start, step = times[cid]
            sender = rng.choice(members)
            text = text_of(rng, rare=True) if serial in rare_at else pool[rng.randrange(len(pool))]
            yield {
                "server_msg_id": secrets.token_hex(16),
                "conversation_id": cid,
                "conversation_type": ct,
                "seq": seq,
                "send_id": sender,
                "recv_id": None if ct == 3 else (members[1] if sender == members[0] else members[0]),
                "group_id": gid,
                "client_msg_id": f"bd{serial:x}",
                "content_type": 101,
                "content": {"text": text},
                "search_text": fold(text),
                "status": 1,
                "send_time": year_ago + timedelta(seconds=start + step * seq),
                "revoked_at": None,
            }

    w.write("messages", messages())

    event_counts = {HEAVY: size["heavy_events"]}
    for u in ordinary:
        event_counts[u] = rng.randint(0, 2 * size["events_per_user"])
    types = ("friend_added", "joined_group_added", "group_info_changed", "conversation_changed", "friend_info_changed")

    def user_events():
        for u, n in event_counts.items():
            step = span / (n + 1)
            for seq in range(1, n + 1):
                yield {
                    "user_id": u,
                    "seq": seq,
                    "type": rng.choice(types),
                    "data": {"group_id": f"g{rng.randrange(size['groups']):04d}"},
                    "created_at": year_ago + timedelta(seconds=step * seq),
                }

    events = w.write("user_events", user_events())
    users = w.tables["users"]
    stmt = update(users).where(users.c.user_id == bindparam("uid")).values(event_seq=bindparam("n"))
    items = [{"uid": u, "n": n} for u, n in event_counts.items() if n]
    for i in range(0, len(items), CHUNK):
        w.conn.execute(stmt, items[i : i + CHUNK])
        w.conn.commit()
    w.close()
    return {
        "users": size["users"],
        "conversations": len(convs),
        "groups": size["groups"],
        "messages": total,
        "user_events": events,
        "heavy_conversations": len(heavy_peers) + size["groups"],
        "heavy_friends": len(heavy_friends),
        "bystander_conversation": f"si_{BYPEER}~{BYSTANDER}",
        "group_conversation": convs[0][0],
    }
