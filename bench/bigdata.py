"""The bigdata scenario: a year of data (2.55M messages at full size), and what each costs on it.

Builds the database once per size and schema (bench/bigdata_gen.py), cached under bench/results/ for
SQLite and as a database on PostgreSQL (bench/bigdata_cache.py); each run measures a copy, so the prune
finds the same work every time. On a real server it times, as the heavy user (3,000 friends, 5,000
conversations): search's first page for a common, a rare and a Chinese word, search's page 50,
login to sync finished, the conversation list, total unread and max seqs; then others' sends while
the heavy user receives 20 msg/s, and the event prune. A bystander sends one-to-one messages
throughout; its round trips during each phase are reported beside it.

    python bench/bigdata.py [--size full|small|tiny] [--targets sqlite,pg]
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import bigdata_gen as gen  # noqa: E402
import requests  # noqa: E402
from bigdata_cache import drop_pg, pg_copy, sqlite_copy  # noqa: E402
from procs import Target, cpu_seconds  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PAGE = 100
TARGETS = {
    "search_first_page_ms": 50,
    "search_page50_ratio": 2.0,
    "login_to_sync_ms": 300,
    "conversation_list_first_page_ms": 50,
    "total_unread_ms": 10,
    "bystander_send_p99_ms": 50,
    "mib_per_million_messages": 643,
}


class Api:
    def __init__(self, url: str, user_id: str, platform_id: int = 3):
        # Desktop (3) over REST, so that the SDK's web logins (5) of the same user do not kick it.
        self.url, self.http = url, requests.Session()
        self.token = None
        self.token = self.call("login", user_id=user_id, password=gen.PASSWORD, platform_id=platform_id)["token"]

    def call(self, name: str, **params):
        headers = {"token": self.token} if self.token else {}
        body = self.http.post(f"{self.url}/api/{name}", json=params, headers=headers, timeout=900).json()
        if body["errCode"] != 0:
            raise RuntimeError(f"{name}: {body}")
        return body["data"]

    def timed(self, name: str, **params) -> tuple[float, dict]:
        t0 = time.perf_counter()
        data = self.call(name, **params)
        return (time.perf_counter() - t0) * 1000, data


class Bystander(threading.Thread):
    """Sends one-to-one text messages in a loop, keeping when each send started and ended."""

    def __init__(self, api: Api, peer: str):
        super().__init__(daemon=True)
        self.api, self.peer, self.stop = api, peer, threading.Event()
        self.calls: list[tuple[float, float]] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            t0 = time.perf_counter()
            self.api.call("send_message", recv_id=self.peer, content_type=101, content={"text": f"ping {n}"})
            self.calls.append((t0, time.perf_counter()))
            time.sleep(0.02)

    def during(self, begin: float, end: float) -> dict:
        deadline = time.perf_counter() + 60
        while not any(s >= end for s, _ in self.calls) and time.perf_counter() < deadline:
            time.sleep(0.01)
        trips = sorted((e - s) * 1000 for s, e in self.calls if e >= begin and s <= end)
        if not trips:
            return {"sends": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "sends": len(trips),
            "p50_ms": round(trips[len(trips) // 2], 1),
            "p99_ms": round(trips[min(len(trips) - 1, int(len(trips) * 0.99))], 1),
            "max_ms": round(trips[-1], 1),
        }


def median_ms(fn, repeat: int) -> float:
    return round(statistics.median(fn() for _ in range(repeat)), 1)


def phase(by: Bystander, pid: int, fn) -> tuple:
    """Run fn, returning its result, the bystander's sends meanwhile and the server's CPU share."""
    t0, c0 = time.perf_counter(), cpu_seconds(pid)
    result = fn()
    t1, c1 = time.perf_counter(), cpu_seconds(pid)
    return result, {**by.during(t0, t1), "server_core_pct": round(100 * (c1 - c0) / max(t1 - t0, 1e-6), 1)}


def search_page50(heavy: Api, word: str) -> dict:
    """Page 50 as the API offers it: following its cursor when it has one, else by offset."""
    ms1, first = heavy.timed("search_messages", keyword=word, count=PAGE)
    cursor_key = next((k for k in first if "cursor" in k), None)
    if cursor_key is None:
        ms, page = heavy.timed("search_messages", keyword=word, count=PAGE, offset=49 * PAGE)
        return {
            "paging": "offset",
            "page1_ms": round(ms1, 1),
            "page50_ms": round(ms, 1),
            "page50_results": len(page["messages"]),
        }
    param = cursor_key.removeprefix("next_")
    page, ms = first, ms1
    for _ in range(49):
        if not page.get(cursor_key):
            break
        ms, page = heavy.timed("search_messages", keyword=word, count=PAGE, **{param: page[cursor_key]})
    return {
        "paging": f"cursor ({param})",
        "page1_ms": round(ms1, 1),
        "page50_ms": round(ms, 1),
        "page50_results": len(page["messages"]),
    }


def receive_20(url: str, senders: list[Api], seconds: float) -> dict:
    """The heavy user's SDK terminal online while its friends send it 20 messages a second.

    Open loop: each of the senders has its own thread and its share of the due times, so a slow
    answer delays that sender's next message, never the others'; the rate reached is reported.
    """
    from im.sdk import IMClient

    client = IMClient(url)
    client.login(gen.HEAVY, gen.PASSWORD)
    rate, sent, late = 20, [0] * len(senders), [0.0]

    def send_share(i: int, api: Api) -> None:
        k = i
        while k / rate < seconds:
            wait = start + k / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                late[0] = max(late[0], -wait)
            api.call("send_message", recv_id=gen.HEAVY, content_type=101, content={"text": f"to heavy {k}"})
            sent[i] += 1
            k += len(senders)

    start = time.perf_counter()
    threads = [threading.Thread(target=send_share, args=(i, api), daemon=True) for i, api in enumerate(senders)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
    finally:
        client.logout()
        client.close()
    elapsed = time.perf_counter() - start
    return {
        "sent": sum(sent),
        "seconds": round(elapsed, 1),
        "rate_per_s": round(sum(sent) / elapsed, 1),
        "latest_send_behind_s": round(late[0], 2),
    }


def prune(db_url: str, seconds: float) -> dict:
    """The sweeper's event prune, one call after another, until a pass over all users is done.

    Takes the API as it is: a round that answers a count pruned everything at once (the full-scan
    prune), one that answers (deleted, next_after) goes on after that user until next_after is None.
    """
    from im import create_app
    from im.extensions import db
    from im.operations import runner
    from im.services import events

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "IM_AUTO_MIGRATE": False})
    rows = calls = 0
    worst, done, after = 0.0, False, ""
    with app.app_context():
        ctx = runner.context()
        start = time.perf_counter()
        while not done and time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            out = events.prune_events(ctx, after, checkpoint=db.session.commit)
            worst = max(worst, time.perf_counter() - t0)
            calls += 1
            if isinstance(out, int):
                rows, done = rows + out, True
            else:
                rows, after = rows + out[0], out[1]
                done = after is None
        db.session.remove()
        db.engine.dispose()
    return {
        "rows": rows,
        "calls": calls,
        "slowest_call_ms": round(worst * 1000, 1),
        "seconds": round(time.perf_counter() - start, 2),
        "pass_done": done,
    }


def db_mib(label: str, db_url: str, where) -> float:
    if label == "sqlite":
        return os.path.getsize(where) / 2**20
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return size / 2**20


def measure(label: str, db_url: str, info: dict, workdir: Path, size_name: str, where) -> dict:
    repeat = 5 if size_name == "full" else 2
    mib = db_mib(label, db_url, where)
    target = Target("server", workdir / f"server-{label}", db_url)
    with target:
        heavy = Api(target.url, gen.HEAVY)
        # Spot checks through the API: the data is what the generator says it is.
        convs = heavy.call("get_all_conversation_list")
        assert len(convs) == info["heavy_conversations"], (len(convs), info["heavy_conversations"])
        seqs = heavy.call("get_max_seqs")["conversations"]
        group = seqs[info["group_conversation"]]["max_seq"]
        history = heavy.call("get_history_message_list", conversation_id=info["group_conversation"], count=20)
        got = sorted(m["seq"] for m in history["messages"]) if isinstance(history, dict) else []
        assert got == list(range(group - len(got) + 1, group + 1)), got[:5]
        by = Bystander(Api(target.url, gen.BYSTANDER), gen.BYPEER)
        by.start()
        r = {"database_mib": round(mib, 1), "mib_per_million_messages": round(mib / info["messages"] * 1e6, 1)}
        try:
            for word_name, word in (("common", gen.COMMON), ("rare", gen.RARE), ("chinese", gen.CHINESE)):
                ms, during = phase(
                    by,
                    target.pid,
                    lambda: median_ms(lambda: heavy.timed("search_messages", keyword=word, count=PAGE)[0], repeat),
                )
                r[f"search_first_page_{word_name}_ms"], r[f"bystander_during_search_{word_name}"] = ms, during
            r["search_page50"], r["bystander_during_search_page50"] = phase(
                by, target.pid, lambda: search_page50(heavy, gen.COMMON)
            )
            r["login_to_sync_ms"], r["bystander_during_login_sync"] = phase(
                by, target.pid, lambda: median_ms(lambda: login_sync_ms(target.url), min(repeat, 3))
            )
            r["conversation_list_all_ms"], r["bystander_during_conversation_list"] = phase(
                by, target.pid, lambda: median_ms(lambda: heavy.timed("get_all_conversation_list")[0], repeat)
            )
            r["conversation_list_first_page_ms"] = median_ms(
                lambda: heavy.timed("get_conversation_list_split", offset=0, count=20)[0], repeat
            )
            r["total_unread_ms"] = median_ms(lambda: heavy.timed("get_total_unread_msg_count")[0], repeat * 2)
            r["max_seqs_ms"] = median_ms(lambda: heavy.timed("get_max_seqs")[0], repeat * 2)
            friends = [Api(target.url, u) for u in senders_of(db_url, 10)]
            r["receive_20_per_s"], r["bystander_during_receive"] = phase(
                by, target.pid, lambda: receive_20(target.url, friends, 10 if size_name == "full" else 2)
            )
            r["prune"], r["bystander_during_prune"] = phase(
                by, target.pid, lambda: prune(db_url, 120 if size_name == "full" else 20)
            )
        finally:
            by.stop.set()
            by.join(30)
    return r


def login_sync_ms(url: str) -> float:
    from im.sdk import IMClient

    client = IMClient(url)
    t0 = time.perf_counter()
    client.login(gen.HEAVY, gen.PASSWORD)
    ms = (time.perf_counter() - t0) * 1000
    client.logout()
    client.close()
    return ms


def senders_of(db_url: str, n: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                text("SELECT friend_user_id FROM friends WHERE owner_user_id = :u ORDER BY friend_user_id LIMIT :n"),
                {"u": gen.HEAVY, "n": n},
            ).scalars()
        )
    engine.dispose()
    return ids


def headline(results: dict) -> dict:
    """Each figure of each database beside its target."""
    figures, targets = {}, {}
    for label, r in results.items():
        if r.get("status") != "ok":
            figures[label] = None
            continue
        p99s = [r[k]["p99_ms"] for k in r if k.startswith("bystander_during_") and r[k]["p99_ms"] is not None]
        page50 = r["search_page50"]
        f = {
            "search_first_page_common_ms": r["search_first_page_common_ms"],
            "search_first_page_rare_ms": r["search_first_page_rare_ms"],
            "search_first_page_chinese_ms": r["search_first_page_chinese_ms"],
            "search_page50_ms": page50["page50_ms"],
            "search_page50_ratio": round(page50["page50_ms"] / max(page50["page1_ms"], 0.1), 2),
            "login_to_sync_ms": r["login_to_sync_ms"],
            "conversation_list_all_ms": r["conversation_list_all_ms"],
            "conversation_list_first_page_ms": r["conversation_list_first_page_ms"],
            "total_unread_ms": r["total_unread_ms"],
            "max_seqs_ms": r["max_seqs_ms"],
            "bystander_send_p99_ms": max(p99s) if p99s else None,
            "receive_rate_per_s": r["receive_20_per_s"]["rate_per_s"],
            "bystander_p99_during_receive_ms": r["bystander_during_receive"]["p99_ms"],
            "bystander_worst_during_prune_ms": r["bystander_during_prune"]["max_ms"],
            "server_core_pct_during_receive": r["bystander_during_receive"]["server_core_pct"],
            "mib_per_million_messages": r["mib_per_million_messages"],
        }
        figures[label] = f
        search = max(
            f["search_first_page_common_ms"], f["search_first_page_rare_ms"], f["search_first_page_chinese_ms"]
        )
        for name, value in (("search_first_page_ms", search), *((k, f[k]) for k in TARGETS if k in f)):
            targets.setdefault(name, {"target": TARGETS[name]})[label] = value
    for t in targets.values():
        t["met"] = all(v is not None and v <= t["target"] for k, v in t.items() if k not in ("target", "met"))
    return {"scenario": "bigdata", "figures": figures, "targets": targets}


def run(targets: list[str], size_name: str, out: Path, workdir: Path, pg_admin: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for label in targets:
        if label not in ("sqlite", "pg"):
            continue
        t0 = time.monotonic()
        work = None
        try:
            if label == "sqlite":
                db_url, info, where = sqlite_copy(out, size_name, workdir)
            else:
                db_url, info, work = pg_copy(pg_admin, size_name)
                where = None
            print(f"# bigdata on {label} ...", file=sys.stderr, flush=True)
            results[label] = {**measure(label, db_url, info, workdir, size_name, where), "data": info, "status": "ok"}
        except Exception as exc:  # one failing database must not hide the other's figures
            results[label] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:800]}
        finally:
            if work is not None:
                drop_pg(pg_admin, work)
        results[label]["elapsed_s"] = round(time.monotonic() - t0, 1)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=gen.SIZES, default="full")
    parser.add_argument("--targets", default="sqlite,pg")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="im-bigdata-"))
    try:
        results = run(
            args.targets.split(","), args.size, Path(args.out), workdir, os.environ.get("BENCH_PG_URL", DEFAULT_PG)
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    (Path(args.out) / f"bigdata-{args.size}-latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(headline(results), separators=(",", ":")))
    return 0 if all(r["status"] == "ok" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
