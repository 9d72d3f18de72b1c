"""Soak: mixed load with reconnect churn against a real server, watching its resident memory.

Steady users stay logged in through their own TCP proxy, which is cut now and then (reconnect churn);
they send one-to-one and group messages and read history and conversation lists. Transient users
sign in, send and sign out again (session churn). At the end every acknowledged message must be
stored with contiguous seqs, and every steady user must have received each message addressed to them
exactly once. The server's RSS is sampled throughout; after warm-up it may grow at most 20%.

Usage: python -m bench.soak  (SOAK_SECONDS, default 600; or --seconds N). Exit status 1 on failure.
"""

import argparse
import logging
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from im.sdk import AdvancedMsgListener, IMClient, IMError  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

PASSWORD = "password123"
STEADY = 4
MAX_GROWTH = 0.20


class Inbox(AdvancedMsgListener):
    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []

    def on_recv_new_message(self, msg):
        if msg.get("seq"):
            with self.lock:
                self.keys.append((msg["conversation_id"], msg["seq"]))


@dataclass
class SoakReport:
    seconds: float
    rss_samples: list = field(default_factory=list)  # (elapsed seconds, RSS KiB)
    acked: int = 0
    send_errors: int = 0
    cuts: int = 0
    sessions: int = 0
    problems: list = field(default_factory=list)

    def memory_verdict(self, warmup_fraction: float = 0.25, max_growth: float = MAX_GROWTH) -> str | None:
        """None when RSS after warm-up stays within max_growth of its level at the end of warm-up."""
        return memory_verdict(self.rss_samples, self.seconds * warmup_fraction, max_growth)

    def render(self) -> str:
        lines = [
            f"soak {self.seconds:.0f}s: {self.acked} messages acknowledged, {self.send_errors} send errors "
            f"(retried or refused during cuts), {self.cuts} connection cuts, {self.sessions} transient sessions",
            "elapsed_s  rss_mib",
        ]
        lines += [f"{t:9.0f}  {kib / 1024:7.1f}" for t, kib in self.rss_samples]
        lines += [f"PROBLEM: {p}" for p in self.problems] or ["no lost, duplicated or missing message"]
        return "\n".join(lines)


def memory_verdict(samples, warmup_seconds: float, max_growth: float) -> str | None:
    after = [kib for t, kib in samples if t >= warmup_seconds]
    if len(after) < 2:
        return "too few memory samples after warm-up"
    base, peak_end = after[0], max(after[-3:])
    if peak_end > base * (1 + max_growth):
        return f"RSS grew from {base / 1024:.1f} MiB after warm-up to {peak_end / 1024:.1f} MiB"
    return None


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _client(url, user_id, register):
    client = IMClient(url, timeout=10)
    if register:
        client.register(user_id, PASSWORD, user_id)
    client.login(user_id, PASSWORD)
    return client


def run_soak(seconds: float, workdir: Path, sample_every: float | None = None) -> SoakReport:
    report = SoakReport(seconds)
    sample_every = sample_every or max(1.0, seconds / 60)
    server = LiveServer(workdir, {"IM_RATE_LIMITS_ENABLED": "false"}).start()
    proxies, steady, inboxes = [], {}, {}
    acked, lock, stop = [], threading.Lock(), threading.Event()
    try:
        for n in range(STEADY):
            user_id = f"steady{n}"
            proxy = TcpProxy(server.port)
            proxies.append(proxy)
            steady[user_id] = _client(proxy.url, user_id, register=True)
            inboxes[user_id] = Inbox()
            steady[user_id].set_advanced_msg_listener(inboxes[user_id])
        for n in range(2):
            IMClient(server.url).register(f"transient{n}", PASSWORD, "transient")
        group_id = steady["steady0"].create_group("soak", [u for u in steady if u != "steady0"])["group_id"]
        users = sorted(steady)

        def note(msg):
            with lock:
                acked.append((msg["conversation_id"], msg["seq"], msg["client_msg_id"], msg["send_id"]))

        def steady_loop(user_id, rng):
            client, n = steady[user_id], 0
            while not stop.is_set():
                n += 1
                try:
                    if n % 3 == 0:
                        note(client.send_message(group_id=group_id, content_type=101, content={"text": f"g{n}"}))
                    else:
                        peer = rng.choice([u for u in users if u != user_id])
                        note(client.send_message(peer, 101, {"text": f"{user_id}-{n}"}))
                    if n % 10 == 0:
                        client.get_all_conversation_list()
                        client.get_history_message_list(f"sg_{group_id}", count=20)
                except IMError:
                    with lock:
                        report.send_errors += 1
                time.sleep(rng.uniform(0.01, 0.05))

        def transient_loop(rng):
            while not stop.is_set():
                user_id = f"transient{rng.randrange(2)}"
                try:
                    client = _client(server.url, user_id, register=False)
                    try:
                        for _ in range(3):
                            note(client.send_message(rng.choice(users), 101, {"text": "hello from a visitor"}))
                    finally:
                        client.logout()
                    with lock:
                        report.sessions += 1
                except IMError:
                    with lock:
                        report.send_errors += 1
                stop.wait(rng.uniform(0.2, 0.6))

        def churn_loop(rng):
            while not stop.wait(rng.uniform(1.0, 3.0)):
                proxy = rng.choice(proxies)
                proxy.cut()
                stop.wait(rng.uniform(0.2, 1.0))
                proxy.resume()
                with lock:
                    report.cuts += 1

        rng = random.Random(9)
        workers = [
            threading.Thread(target=steady_loop, args=(u, random.Random(rng.random())), daemon=True) for u in users
        ]
        workers.append(threading.Thread(target=transient_loop, args=(random.Random(rng.random()),), daemon=True))
        workers.append(threading.Thread(target=churn_loop, args=(random.Random(rng.random()),), daemon=True))
        started = time.monotonic()
        for worker in workers:
            worker.start()
        while (elapsed := time.monotonic() - started) < seconds:
            report.rss_samples.append((elapsed, rss_kib(server.proc.pid)))
            time.sleep(min(sample_every, max(0.0, seconds - elapsed)))
        report.rss_samples.append((time.monotonic() - started, rss_kib(server.proc.pid)))
        stop.set()
        for worker in workers:
            worker.join(60)
        for proxy in proxies:
            proxy.resume()
        report.acked = len(acked)
        report.problems += _check(server.url, steady, inboxes, acked, group_id)
        verdict = report.memory_verdict()
        if verdict and seconds >= 60:
            report.problems.append(verdict)
        return report
    finally:
        stop.set()
        for client in steady.values():
            client.close()
        for proxy in proxies:
            proxy.close()
        server.stop()


def _check(url, steady, inboxes, acked, group_id) -> list[str]:
    """Stored = acknowledged, seqs contiguous, each steady user got each message to them once."""
    problems = []
    reader = steady["steady0"]
    stored = {}
    conversations = {cid for cid, *_ in acked}
    for cid in conversations:
        owner = reader if cid.startswith("sg_") or "steady0" in cid else next(c for u, c in steady.items() if u in cid)
        messages, start = [], None
        while True:
            page = owner.get_history_message_list(cid, start_seq=start, count=100)
            messages = page["messages"] + messages
            if page["is_end"]:
                break
            start = page["messages"][0]["seq"]
        stored[cid] = messages
        seqs = [m["seq"] for m in messages]
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))) or (cid.startswith("si_") and seqs[:1] != [1]):
            problems.append(f"{cid}: seqs not contiguous")
    where = {(m["conversation_id"], m["seq"]): m["client_msg_id"] for ms in stored.values() for m in ms}
    problems += [f"acknowledged message {c} lost" for cid, seq, c, _ in acked if where.get((cid, seq)) != c]
    deadline = time.monotonic() + 60
    for user_id, inbox in inboxes.items():
        expected = {
            (m["conversation_id"], m["seq"])
            for cid, ms in stored.items()
            for m in ms
            if m["send_id"] != user_id and (cid.startswith("sg_") or user_id in cid.split("_"))
        }
        while time.monotonic() < deadline:
            with inbox.lock:
                got = Counter(inbox.keys)
            if set(got) >= expected:
                break
            time.sleep(0.1)
        missing = expected - set(got)
        if missing:
            problems.append(f"{user_id} never received {len(missing)} messages")
        doubled = [k for k, n in got.items() if n > 1]
        if doubled:
            problems.append(f"{user_id} received {len(doubled)} messages twice")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    args = parser.parse_args()
    # The SDK warns about each call cut by the churn; the report says what matters.
    logging.getLogger("im.sdk").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="im-soak-") as workdir:
        report = run_soak(args.seconds, Path(workdir))
    print(report.render())
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
