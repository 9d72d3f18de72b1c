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
import bisect
import json
import multiprocessing
import os
import queue
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
        self.token, self.spans = None, None  # spans: a list to which each call appends its (start, end)
        self.token = self.call("login", user_id=user_id, password=gen.PASSWORD, platform_id=platform_id)["token"]

    def call(self, name: str, **params):
        headers = {"token": self.token} if self.token else {}
        t0 = time.monotonic()
        body = self.http.post(f"{self.url}/api/{name}", json=params, headers=headers, timeout=900).json()
        if self.spans is not None:
            self.spans.append((t0, time.monotonic()))
        if body["errCode"] != 0:
            raise RuntimeError(f"{name}: {body}")
        return body["data"]

    def timed(self, name: str, **params) -> tuple[float, dict]:
        t0 = time.perf_counter()
        data = self.call(name, **params)
        return (time.perf_counter() - t0) * 1000, data


MIN_SENDS = 200  # bystander sends each phase waits for at full size, so that its p99 is not its max
BYSTANDER_GAP_S = 0.01


def bystander_loop(url: str, user_id: str, peer: str, stop, out) -> None:
    """The bystander process: sends one-to-one texts in a loop, reporting (start, end) of each send on
    the machine's monotonic clock (the same in every process) in batches."""
    api = Api(url, user_id)
    n, batch, flushed = 0, [], time.monotonic()
    while not stop.is_set():
        n += 1
        t0 = time.monotonic()
        api.call("send_message", recv_id=peer, content_type=101, content={"text": f"ping {n}"})
        batch.append((t0, time.monotonic()))
        if batch[-1][1] - flushed > 0.2:
            out.put(batch)
            batch, flushed = [], batch[-1][1]
        time.sleep(BYSTANDER_GAP_S)
    out.put(batch)
    out.put(None)


class Bystander:
    """A process of its own sending one-to-one messages in a loop (none of the heavy user's work in this
    process can delay its sends), keeping when each send started and ended."""

    def __init__(self, url: str, user_id: str, peer: str):
        ctx = multiprocessing.get_context("spawn")
        self.stop, self.out = ctx.Event(), ctx.Queue()
        self.proc = ctx.Process(target=bystander_loop, args=(url, user_id, peer, self.stop, self.out), daemon=True)
        self.calls: list[tuple[float, float]] = []

    def start(self) -> None:
        """Start the process and wait for its first sends (it logs in and imports first)."""
        self.proc.start()
        deadline = time.monotonic() + 60
        while not self.calls and self.proc.is_alive() and time.monotonic() < deadline:
            self._collect(0.5)
        if not self.calls:
            raise RuntimeError("the bystander sent nothing")

    def close(self) -> None:
        self.stop.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.out.get(timeout=1) is None:
                    break
            except queue.Empty:
                pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()

    def _collect(self, wait_s: float = 0.0) -> None:
        try:
            while True:
                batch = self.out.get(timeout=wait_s) if wait_s else self.out.get_nowait()
                if batch is None:
                    return
                self.calls.extend(batch)
                wait_s = 0.0
        except queue.Empty:
            pass

    def count(self, spans: list[tuple[float, float]]) -> int:
        self._collect()
        return len(_overlapping(self.calls, spans))

    def during(self, spans: list[tuple[float, float]]) -> dict:
        """The bystander's sends that overlapped one of the heavy user's calls (their spans)."""
        deadline = time.monotonic() + 60
        end = max((e for _, e in spans), default=0.0)
        self._collect()
        while not any(s >= end for s, _ in self.calls) and time.monotonic() < deadline:
            self._collect(0.05)
        trips = sorted((e - s) * 1000 for s, e in _overlapping(self.calls, spans))
        if not trips:
            return {"sends": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "sends": len(trips),
            "p50_ms": round(trips[len(trips) // 2], 1),
            "p99_ms": round(trips[min(len(trips) - 1, int(len(trips) * 0.99))], 1),
            "max_ms": round(trips[-1], 1),
        }


def _overlapping(calls: list[tuple[float, float]], spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    spans = sorted(spans)
    starts = [s for s, _ in spans]
    found = []
    for s, e in calls:
        # the last span starting before this send ended; spans do not overlap each other (one caller)
        i = bisect.bisect_right(starts, e) - 1
        if i >= 0 and spans[i][1] >= s:
            found.append((s, e))
    return found


def median_ms(fn, repeat: int) -> float:
    return round(statistics.median(fn() for _ in range(repeat)), 1)


def phase(by: Bystander, pid: int, fn, spans: list, repeat: int = 1, min_sends: int = 0) -> tuple:
    """Run fn at least `repeat` times and until `min_sends` of the bystander's sends overlapped its calls
    (their spans, which fn appends to), returning its results, those sends and the server's CPU share."""
    del spans[:]
    results = []
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    while len(results) < repeat or (by.count(spans) < min_sends and time.monotonic() - t0 < 60):
        results.append(fn())
    t1, c1 = time.monotonic(), cpu_seconds(pid)
    during = by.during(list(spans))
    return results, {**during, "runs": len(results), "server_core_pct": round(100 * (c1 - c0) / max(t1 - t0, 1e-6), 1)}


def median_of(results: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in results), 1)


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
        by = Bystander(target.url, gen.BYSTANDER, gen.BYPEER)
        by.start()
        r = {"database_mib": round(mib, 1), "mib_per_million_messages": round(mib / info["messages"] * 1e6, 1)}
        spans: list[tuple[float, float]] = []
        heavy.spans = spans
        sends = MIN_SENDS if size_name == "full" else 20

        def timed(name, **params):
            return lambda: heavy.timed(name, **params)[0]

        try:
            for word_name, word in (("common", gen.COMMON), ("rare", gen.RARE), ("chinese", gen.CHINESE)):
                runs, during = phase(
                    by, target.pid, timed("search_messages", keyword=word, count=PAGE), spans, repeat, sends
                )
                r[f"search_first_page_{word_name}_ms"] = round(statistics.median(runs), 1)
                r[f"bystander_during_search_{word_name}"] = during
            runs, r["bystander_during_search_page50"] = phase(
                by, target.pid, lambda: search_page50(heavy, gen.COMMON), spans, 1, sends
            )
            r["search_page50"] = {
                **runs[0],
                "runs": len(runs),
                "page1_ms": median_of(runs, "page1_ms"),
                "page50_ms": median_of(runs, "page50_ms"),
            }
            runs, r["bystander_during_login_sync"] = phase(
                by, target.pid, lambda: login_sync_ms(target.url, spans), spans, min(repeat, 3), sends
            )
            r["login_to_sync_ms"] = round(statistics.median(runs), 1)
            runs, r["bystander_during_conversation_list"] = phase(
                by, target.pid, timed("get_all_conversation_list"), spans, repeat, sends
            )
            r["conversation_list_all_ms"] = round(statistics.median(runs), 1)
            heavy.spans = None
            r["conversation_list_first_page_ms"] = median_ms(
                timed("get_conversation_list_split", offset=0, count=20), repeat
            )
            r["total_unread_ms"] = median_ms(timed("get_total_unread_msg_count"), repeat * 2)
            r["max_seqs_ms"] = median_ms(timed("get_max_seqs"), repeat * 2)
            friends = [Api(target.url, u) for u in senders_of(db_url, 10)]
            runs, r["bystander_during_receive"] = phase(
                by,
                target.pid,
                lambda: spanned(spans, receive_20, target.url, friends, 10 if size_name == "full" else 2),
                spans,
            )
            r["receive_20_per_s"] = runs[0]
            runs, r["bystander_during_prune"] = phase(
                by, target.pid, lambda: spanned(spans, prune, db_url, 120 if size_name == "full" else 20), spans
            )
            r["prune"] = runs[0]
        finally:
            by.close()
    return r


def spanned(spans: list, fn, *args):
    """fn(*args), its whole run one span of the heavy user's work."""
    t0 = time.monotonic()
    try:
        return fn(*args)
    finally:
        spans.append((t0, time.monotonic()))


def login_sync_ms(url: str, spans: list) -> float:
    from im.sdk import IMClient

    client = IMClient(url)
    t0 = time.monotonic()
    client.login(gen.HEAVY, gen.PASSWORD)
    t1 = time.monotonic()
    spans.append((t0, t1))
    ms = (t1 - t0) * 1000
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
