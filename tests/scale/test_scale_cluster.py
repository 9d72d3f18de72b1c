"""Two server processes on one PostgreSQL database and one Redis channel, driven by the Python SDK."""

import threading

import psycopg
import requests
import socketio
from sqlalchemy.engine import make_url

from im.sdk import ConnListener, IMClient
from tests.support.cluster import wait_for

PASSWORD = "password123"
# The nodes most tests here share: the revoked-socket sweep only once a minute (so only what Redis
# forwards can close a socket within a test's wait), no node declared dead, 4 logins a user a minute.
SHARED_CLUSTER_ENV = {"IM_SWEEP_INTERVAL": "60", "IM_NODE_TIMEOUT": "600", "IM_RATE_LIMIT_LOGIN_USER": "4/minute"}


class Recorder(ConnListener):
    """Keeps every connection callback, in order."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def _add(self, name, *args):
        with self.lock:
            self.calls.append((name, *args))

    def on_connect_success(self):
        self._add("connect_success")

    def on_kicked_offline(self):
        self._add("kicked_offline")

    def on_user_token_expired(self):
        self._add("token_expired")

    def count(self, name):
        with self.lock:
            return sum(1 for call in self.calls if call[0] == name)


def rest(url, name, payload=None, token=None):
    body = requests.post(
        f"{url}/api/{name}", json=payload or {}, headers={"token": token} if token else {}, timeout=10
    ).json()
    assert body["errCode"] == 0, body
    return body["data"]


def register(url, user_id):
    rest(url, "register", {"user_id": user_id, "password": PASSWORD, "nickname": user_id.title()})


def login_token(url, user_id, platform_id):
    return rest(url, "login", {"user_id": user_id, "password": PASSWORD, "platform_id": platform_id})["token"]


def sdk(urls, user_id, platform_id=5, **options):
    client = IMClient(urls, platform_id=platform_id, **options)
    listener = Recorder()
    client.set_conn_listener(listener)
    client.login(user_id, PASSWORD)
    return client, listener


class RawSocket:
    """A bare Socket.IO client that never reconnects and ignores what it is told: only the server
    closing the socket can disconnect it."""

    def __init__(self, url, token):
        self.events = []
        self.closed = threading.Event()
        self.http = requests.Session()  # ours, so that close() can release its pooled connection
        self.sio = socketio.Client(reconnection=False, http_session=self.http)
        self.sio.on("kicked_offline", lambda data=None: self.events.append(("kicked_offline", data)))
        self.sio.on("disconnect", lambda *args: self.closed.set())
        self.sio.connect(url, auth={"token": token}, wait_timeout=10)

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()
        # engineio leaves a WebSocket the server closed unclosed on its side
        if getattr(self.sio.eio, "ws", None) is not None:
            self.sio.eio.ws.close()
        self.http.close()


def connections(cluster, user_id):
    """(platform_id, node) of the user's live sockets, as the shared database records them."""
    url = make_url(cluster.env["DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT platform_id, node_id FROM connections WHERE user_id = %s ORDER BY 1", (user_id,)
        ).fetchall()
    names = {node.node_id: f"node{i + 1}" for i, node in enumerate(cluster.nodes)}
    return [(platform, names.get(node_id, node_id)) for platform, node_id in rows]


def online(url, token, user_id):
    return rest(url, "get_users_online_status", {"user_ids": [user_id]}, token)[0]


def test_login_on_node2_kicks_the_terminal_on_node1(shared_cluster):
    # The revoked-socket sweep runs only once a minute (SHARED_CLUSTER_ENV), so only the disconnect
    # forwarded through Redis can close node 1's sockets within the wait below. Alice logs in 4 times.
    node1, node2 = shared_cluster.nodes
    register(node1.url, "alice")

    raw = RawSocket(node1.url, login_token(node1.url, "alice", platform_id=1))
    login_token(node2.url, "alice", platform_id=1)
    assert raw.closed.wait(10), "node 1 kept the kicked socket open"
    # The client runs each incoming event's handler on a thread of its own but the disconnect
    # handler on its reading thread: the close can be seen before the event that came ahead of it.
    wait_for(lambda: raw.events, message="kicked_offline on the kicked socket")
    assert raw.events[0][1]["reason"] == "kicked"

    old, old_listener = sdk(node1.url, "alice", platform_id=5)
    new, _ = sdk(node2.url, "alice", platform_id=5)
    try:
        wait_for(lambda: old_listener.count("kicked_offline") == 1, message="on_kicked_offline on node 1")
        assert new.get_login_status() == 101
        wait_for(
            lambda: connections(shared_cluster, "alice") == [(5, "node2")],
            message="only the new terminal's socket left, none of node 1's",
        )
    finally:
        old.close()
        new.close()
        raw.close()


def test_admin_force_logout_closes_sockets_on_the_other_node(shared_cluster):
    node1, node2 = shared_cluster.nodes
    register(node1.url, "bob")
    raws = [RawSocket(node1.url, login_token(node1.url, "bob", platform_id=p)) for p in (1, 3)]
    try:
        assert node2.admin("admin_force_logout", {"user_id": "bob"})["data"]["kicked_sessions"] == 2
        for raw in raws:
            assert raw.closed.wait(10), "node 1 kept a socket of a logged-out session open"
    finally:
        for raw in raws:
            raw.close()


def test_rate_limit_counters_are_shared_by_the_nodes(shared_cluster):
    node1, node2 = shared_cluster.nodes  # 4 logins a minute per user
    register(node1.url, "carol")
    wrong = {"user_id": "carol", "password": "not-the-password", "platform_id": 5}
    codes = [
        requests.post(f"{node.url}/api/login", json=wrong, timeout=10).json()["errCode"]
        for node in (node1, node2, node1, node2, node1)
    ]
    assert codes == [1103, 1103, 1103, 1103, 1008]


def test_gunicorn_nodes_and_clean_shutdown(cluster):
    """The documented production command serves WebSocket; SIGTERM forgets the node's sockets at once."""
    node1, node2 = cluster.start(2, gunicorn=True, env={"IM_NODE_TIMEOUT": "600"})
    register(node1.url, "dan")
    raw = RawSocket(node1.url, login_token(node1.url, "dan", platform_id=1))
    dan, listener = sdk([node2.url], "dan", platform_id=5)
    try:
        assert raw.sio.transport() == "websocket" and dan._sio.transport() == "websocket"
        assert connections(cluster, "dan") == [(1, "node1"), (5, "node2")]
        node1.stop()
        assert raw.closed.wait(10)
        wait_for(
            lambda: connections(cluster, "dan") == [(5, "node2")],
            message="node 1's sockets gone long before IM_NODE_TIMEOUT",
        )
    finally:
        dan.close()
        raw.close()


def test_friend_changes_racing_on_two_nodes_stay_consistent(shared_cluster):
    """The same pair changed at once through both nodes: no error, no duplicate, logs without gaps."""
    from concurrent.futures import ThreadPoolExecutor

    node1, node2 = shared_cluster.nodes
    for user in ("ann", "ben"):
        register(node1.url, user)
    ann = {node: login_token(node.url, "ann", p) for node, p in ((node1, 5), (node2, 1))}
    ben = {node: login_token(node.url, "ben", p) for node, p in ((node1, 5), (node2, 1))}

    def call(args):
        node, name, payload, token = args
        return requests.post(f"{node.url}/api/{name}", json=payload, headers={"token": token}, timeout=10).json()

    with ThreadPoolExecutor(8) as pool:
        # both apply to each other, twice, through both nodes at once
        jobs = [
            (node, "add_friend", {"to_user_id": to}, tokens[node])
            for node in (node1, node2)
            for to, tokens in (("ben", ann), ("ann", ben))
            for _ in range(2)
        ]
        assert [r["errCode"] for r in pool.map(call, jobs)] == [0] * len(jobs)
        # then both accept at once, through different nodes
        answers = list(
            pool.map(
                call,
                [
                    (node1, "accept_friend_application", {"from_user_id": "ben"}, ann[node1]),
                    (node2, "accept_friend_application", {"from_user_id": "ann"}, ben[node2]),
                ],
            )
        )
    # the first accept settles both applications; the second then finds its application handled
    codes = sorted(a["errCode"] for a in answers)
    assert codes[0] == 0 and codes[1] in (0, 1206), answers
    for user, tokens, other in (("ann", ann, "ben"), ("ben", ben, "ann")):
        friends = rest(node2.url, "get_friend_list", {}, tokens[node2])
        assert [f["user_id"] for f in friends] == [other]
        log = rest(node1.url, "sync_events", {"after_seq": 0}, tokens[node1])
        assert [e["seq"] for e in log["events"]] == list(range(1, log["max_seq"] + 1))
        assert [e["type"] for e in log["events"]].count("friend_added") == 1
