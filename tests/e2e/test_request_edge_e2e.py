"""Hostile request bodies against a real server: each costs its sender, never a bystander's answer."""
import os
import statistics
import threading
import time

import requests

HOSTILE_THREADS = 2
HOSTILE_REQUESTS = 15  # per thread
ZEROS = ('{"user_id": [%s]}' % ",".join(["0"] * 500_000)).encode()


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_bodies_of_many_values_are_refused_without_stalling_a_bystander(live_server):
    server = live_server()
    url = server.url
    hostile_answers, bystander_rtts = [], []
    attack_over = threading.Event()

    def hostile():
        with requests.Session() as http:
            for _ in range(HOSTILE_REQUESTS):
                answer = http.post(f"{url}/api/register", data=ZEROS,
                                   headers={"Content-Type": "application/json"}, timeout=60)
                hostile_answers.append((answer.status_code, answer.json()["errCode"]))

    def bystander():
        with requests.Session() as http:
            while not attack_over.is_set():
                started = time.monotonic()
                answer = http.post(f"{url}/api/error_codes", json={}, timeout=60)
                assert answer.json()["errCode"] == 0
                if not attack_over.is_set():
                    bystander_rtts.append(time.monotonic() - started)
                time.sleep(0.01)

    cpu_before = _cpu_seconds(server.proc.pid)
    started = time.monotonic()
    attackers = [threading.Thread(target=hostile) for _ in range(HOSTILE_THREADS)]
    watcher = threading.Thread(target=bystander)
    watcher.start()
    for attacker in attackers:
        attacker.start()
    for attacker in attackers:
        attacker.join(300)
    attack_over.set()
    watcher.join(60)
    elapsed = time.monotonic() - started
    cpu_per_request = (_cpu_seconds(server.proc.pid) - cpu_before) / (HOSTILE_THREADS * HOSTILE_REQUESTS)

    print(f"\n{HOSTILE_THREADS * HOSTILE_REQUESTS} bodies of {len(ZEROS)} bytes in {elapsed:.2f} s, "
          f"server CPU {cpu_per_request:.3f} s per body (bystander's calls included); bystander: "
          f"{len(bystander_rtts)} answers during the attack, median {statistics.median(bystander_rtts):.3f} s, "
          f"max {max(bystander_rtts):.3f} s")
    assert not any(a.is_alive() for a in attackers) and not watcher.is_alive()
    assert hostile_answers == [(400, 1001)] * (HOSTILE_THREADS * HOSTILE_REQUESTS)
    assert bystander_rtts, "the bystander got no answer while the hostile bodies were being sent"
    # Generous: refusing one such body walked it for 0.4 s of CPU before; about 0.03 s now.
    assert cpu_per_request < 0.2
