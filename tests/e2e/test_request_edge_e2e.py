"""Hostile request bodies against a real server: each costs its sender, never a bystander's answer."""

import json
import os
import statistics
import threading
import time

import requests
import websocket

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
                answer = http.post(
                    f"{url}/api/register", data=ZEROS, headers={"Content-Type": "application/json"}, timeout=60
                )
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

    print(
        f"\n{HOSTILE_THREADS * HOSTILE_REQUESTS} bodies of {len(ZEROS)} bytes in {elapsed:.2f} s, "
        f"server CPU {cpu_per_request:.3f} s per body (bystander's calls included); bystander: "
        f"{len(bystander_rtts)} answers during the attack, median {statistics.median(bystander_rtts):.3f} s, "
        f"max {max(bystander_rtts):.3f} s"
    )
    assert not any(a.is_alive() for a in attackers) and not watcher.is_alive()
    assert hostile_answers == [(400, 1001)] * (HOSTILE_THREADS * HOSTILE_REQUESTS)
    assert bystander_rtts, "the bystander got no answer while the hostile bodies were being sent"
    # Generous: refusing one such body walked it for 0.4 s of CPU before; about 0.03 s now.
    assert cpu_per_request < 0.2


def _register_and_login(url, user_id):
    requests.post(
        f"{url}/api/register", json={"user_id": user_id, "password": "password123", "nickname": user_id}, timeout=10
    )
    return requests.post(
        f"{url}/api/login", json={"user_id": user_id, "password": "password123", "platform_id": 5}, timeout=10
    ).json()["data"]["token"]


def _connect_answer(url, auth_token, url_token):
    """The server's answer to a Socket.IO CONNECT with `auth_token` in the auth object and
    `url_token` in the URL: "40{...}" (connected) or "44{...}" (refused, with the envelope)."""
    ws = websocket.create_connection(
        url.replace("http://", "ws://") + f"/socket.io/?EIO=4&transport=websocket&token={url_token}", timeout=10
    )
    try:
        assert ws.recv().startswith("0{")
        ws.send("40" + json.dumps({"token": auth_token}))
        return ws.recv()
    finally:
        ws.close()


def test_credentials_that_disagree_are_refused_over_rest_and_socket(live_server):
    """Two tokens of different sessions, or a valid one beside a forged one: 1508 whichever is valid."""
    url = live_server().url
    alice, bob = _register_and_login(url, "alice"), _register_and_login(url, "bob")
    for first, second in ((alice, bob), (alice, "imt_forged"), ("imt_forged", alice)):
        answer = requests.post(
            f"{url}/api/get_self_user_info",
            json={},
            timeout=10,
            headers={"token": first, "Authorization": f"Bearer {second}"},
        )
        assert answer.status_code == 401 and answer.json()["errCode"] == 1508
        refused = _connect_answer(url, first, second)
        assert refused.startswith("44") and json.loads(refused[2:])["data"]["errCode"] == 1508, refused
    assert _connect_answer(url, alice, alice).startswith("40{")
