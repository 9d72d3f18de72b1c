"""Group membership benchmark: one call invites N users, another kicks half of them, on a real server.

Seeds the accounts in bulk, starts a real server on SQLite and times `invite_user_to_group` with N
users and `kick_group_member` with N/2 over REST, while a bystander changes its own profile (a write,
so it queues behind the same database lock) in a loop and reports its slowest round trip. Then counts
the rows each call wrote. Then, in process (so that SQL statements can be counted), a plain member
invites N users into a group with need_verification 1 and M admins: each invitee gets an application,
which the invitee and every manager must hear of. Usage:
python -m bench.membership [--users 2000] [--admins 1,50,500] [--skip-live]
"""

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from im import create_app  # noqa: E402
from im.extensions import db  # noqa: E402
from im.models import User, utcnow  # noqa: E402
from im.operations import runner  # noqa: E402
from im.services import auth, groups  # noqa: E402
from tests.support.server import FAST_HASH, LiveServer  # noqa: E402

PASSWORD = "password123"


def seed(db_path: Path, users: int) -> list[str]:
    """The owner and the bystander through the service (they sign in); the invitees in bulk."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": 1,
            "IM_ARGON2_MEMORY_KIB": 64,
        }
    )
    ids = [f"member{i:05d}" for i in range(users)]
    with app.app_context():
        ctx = runner.context()
        auth.register(ctx, "owner", PASSWORD, "Owner")
        auth.register(ctx, "bystander", PASSWORD, "Bystander")
        now = utcnow()
        db.session.execute(
            insert(User),
            [
                {
                    "user_id": uid,
                    "password_hash": "-",
                    "nickname": uid,
                    "face_url": "",
                    "event_seq": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for uid in ids
            ],
        )
        db.session.commit()
        db.engine.dispose()
    return ids


class Api:
    def __init__(self, url: str, user_id: str):
        self.url, self.http = url, requests.Session()
        self.token = self.call("login", user_id=user_id, password=PASSWORD, platform_id=5)["token"]

    def call(self, name: str, **params):
        headers = {"token": self.token} if getattr(self, "token", None) else {}
        body = self.http.post(f"{self.url}/api/{name}", json=params, headers=headers, timeout=600).json()
        if body["errCode"] != 0:
            raise RuntimeError(f"{name}: {body}")
        return body["data"]


class Bystander(threading.Thread):
    """Writes its own nickname in a loop and keeps when each of its calls started and ended."""

    def __init__(self, api: Api):
        super().__init__(daemon=True)
        self.api, self.stop = api, threading.Event()
        self.calls: list[tuple[float, float]] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            started = time.perf_counter()
            self.api.call("set_self_info", nickname=f"Bystander {n % 2}")
            self.calls.append((started, time.perf_counter()))
            time.sleep(0.05)

    def during(self, begin: float, end: float) -> list[float]:
        """Round trips of the calls that overlapped [begin, end], once the one in flight at `end` is back."""
        deadline = time.perf_counter() + 600
        while not any(s >= end for s, _ in self.calls) and time.perf_counter() < deadline:
            time.sleep(0.01)
        return [e - s for s, e in self.calls if e >= begin and s <= end]


def counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("user_events", "messages")}


def timed(bystander: Bystander, db_path: Path, call) -> dict:
    before = counts(db_path)
    started = time.perf_counter()
    call()
    ended = time.perf_counter()
    trips = bystander.during(started, ended)
    after = counts(db_path)
    return {
        "seconds": round(ended - started, 3),
        "rows": {t: after[t] - before[t] for t in before},
        "bystander_slowest_s": round(max(trips, default=0.0), 3),
        "bystander_calls": len(trips),
    }


def event_bytes(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM user_events").fetchone()[0]


def verified_invite(tmp: Path, n: int, admins: int) -> dict:
    """A plain member invites n users into a need_verification 1 group with `admins` admins, in process."""
    db_path = tmp / f"verified-{admins}.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": 1,
            "IM_ARGON2_MEMORY_KIB": 64,
            "IM_GROUP_MAX_MEMBERS": admins + 2 + n,
            "IM_RATE_LIMITS_ENABLED": False,
        }
    )
    invitees = [f"inv{i:05d}" for i in range(n)]
    admin_ids = [f"adm{i:05d}" for i in range(admins)]
    with app.app_context():
        ctx = runner.context()
        auth.register(ctx, "owner", PASSWORD, "Owner")
        auth.register(ctx, "member", PASSWORD, "Member")
        now = utcnow()
        db.session.execute(
            insert(User),
            [
                {
                    "user_id": uid,
                    "password_hash": "-",
                    "nickname": uid,
                    "face_url": "",
                    "event_seq": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for uid in [*invitees, *admin_ids]
            ],
        )
        db.session.commit()
        gid = groups.create_group(ctx, "owner", "Verified", ["member"], admin_ids, need_verification=1)["group_id"]
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    token = client.post("/api/login", json={"user_id": "member", "password": PASSWORD, "platform_id": 5}).get_json()[
        "data"
    ]["token"]
    statements = []

    def count(*_):
        statements.append(1)

    before, bytes_before = counts(db_path), event_bytes(db_path)
    event.listen(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    body = client.post(
        "/api/invite_user_to_group", json={"group_id": gid, "user_ids": invitees}, headers={"token": token}
    ).get_json()
    seconds = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", count)
    after, bytes_after = counts(db_path), event_bytes(db_path)
    if body["errCode"] != 0 or len(body["data"]["applied_user_ids"]) != n:
        raise RuntimeError(f"invite_user_to_group: {body}")
    with app.app_context():
        db.engine.dispose()
    return {
        "admins": admins,
        "seconds": round(seconds, 3),
        "statements": len(statements),
        "rows": {t: after[t] - before[t] for t in before},
        "event_bytes": bytes_after - bytes_before,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--admins", default="1,50,500", help="admin counts of the verified-group rows")
    parser.add_argument("--skip-live", action="store_true", help="only the in-process verified-group rows")
    args = parser.parse_args()
    n = args.users
    verified = []
    with tempfile.TemporaryDirectory() as tmp:
        for admins in (int(a) for a in args.admins.split(",") if a):
            row = verified_invite(Path(tmp), n, admins)
            verified.append(row)
            print(
                f"plain member invites {n} into a verified group with {admins} admins: {row['seconds']:.2f}s, "
                f"{row['statements']} statements, rows {row['rows']}, {row['event_bytes']:,} bytes of events"
            )
    # Each invitee's own event, and one event per manager (the owner, the admins) for the whole call.
    bounded = all(r["rows"]["user_events"] <= n + r["admins"] + 1 + 10 for r in verified)
    if args.skip_live:
        print(json.dumps({"users": n, "verified_invite": verified}))
        return 0 if bounded else 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db_path = tmp / "im.sqlite3"
        ids = seed(db_path, n)
        server = LiveServer(
            tmp, {**FAST_HASH, "DATABASE_URL": f"sqlite:///{db_path}", "IM_GROUP_MAX_MEMBERS": str(n + 1)}
        ).start()
        bystander = None
        try:
            owner = Api(server.url, "owner")
            bystander = Bystander(Api(server.url, "bystander"))
            bystander.start()
            gid = owner.call("create_group", group_name="Big", member_user_ids=[])["group_id"]
            invite = timed(bystander, db_path, lambda: owner.call("invite_user_to_group", group_id=gid, user_ids=ids))
            kick = timed(
                bystander, db_path, lambda: owner.call("kick_group_member", group_id=gid, user_ids=ids[: n // 2])
            )
        finally:
            if bystander is not None:
                bystander.stop.set()
                bystander.join(10)
            server.stop()
    print(
        f"invite {n} users in one call: {invite['seconds']:.2f}s, rows {invite['rows']}, "
        f"bystander's slowest write {invite['bystander_slowest_s']:.2f}s"
    )
    print(
        f"kick {n // 2} of {n + 1} members in one call: {kick['seconds']:.2f}s, rows {kick['rows']}, "
        f"bystander's slowest write {kick['bystander_slowest_s']:.2f}s"
    )
    print(json.dumps({"users": n, "invite": invite, "kick": kick, "verified_invite": verified}))
    linear = all(r["rows"]["user_events"] <= 2 * k + 10 for r, k in ((invite, n), (kick, n // 2)))
    return 0 if linear and bounded else 1


if __name__ == "__main__":
    sys.exit(main())
