"""Friends, chat and groups across two nodes; seqs under concurrent writers; a node's death."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from im.sdk import IMClient
from tests.scale.test_scale_cluster import PASSWORD, RawSocket, connections, login_token, register, rest
from tests.support.cluster import wait_for
from tests.support.raw_socket import RawSocket as CallingSocket

TEXT = 101


class Heard:
    """Any listener: records every on_* callback with its argument, in the order they arrive."""

    def __init__(self):
        self.calls = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def record(*args):
            with self._lock:
                self.calls.append((name, *args))

        return record

    def of(self, name):
        with self._lock:
            return [call[1] if len(call) > 1 else None for call in self.calls if call[0] == name]


def client(urls, user_id, platform_id=5, **options):
    """A logged-in SDK client whose every listener is one Heard."""
    im = IMClient(urls, platform_id=platform_id, **options)
    heard = Heard()
    for setter in (
        "set_conn_listener",
        "set_friend_listener",
        "set_advanced_msg_listener",
        "set_group_listener",
        "set_conversation_listener",
    ):
        getattr(im, setter)(heard)
    im.login(user_id, PASSWORD)
    return im, heard


def texts(heard):
    return [m["content"]["text"] for m in heard.of("on_recv_new_message") if m["content_type"] == TEXT]


def befriend(url, a, a_token, b, b_token):
    rest(url, "add_friend", {"to_user_id": b}, a_token)
    rest(url, "accept_friend_application", {"from_user_id": a}, b_token)


def test_friend_chat_and_group_events_cross_nodes(shared_cluster):
    node1, node2 = shared_cluster.nodes
    for user in ("alice", "bob"):
        register(node1.url, user)
    alice, heard_a = client(node1.url, "alice")
    bob, heard_b = client(node2.url, "bob")
    try:
        alice.add_friend("bob", req_msg="hi from node 1")
        wait_for(lambda: heard_b.of("on_friend_application_added"), message="bob hears the application")
        bob.accept_friend_application("alice")
        wait_for(
            lambda: heard_a.of("on_friend_added") and heard_b.of("on_friend_added"), message="both hear friend_added"
        )
        assert heard_a.of("on_friend_added")[0]["user_id"] == "bob"
        assert heard_a.of("on_friend_application_accepted")

        alice.send_message(recv_id="bob", content_type=TEXT, content={"text": "ping from node 1"})
        wait_for(lambda: texts(heard_b) == ["ping from node 1"], message="bob gets alice's message")
        bob.send_message(recv_id="alice", content_type=TEXT, content={"text": "pong from node 2"})
        wait_for(lambda: texts(heard_a) == ["pong from node 2"], message="alice gets bob's message")
        bob.set_self_info(nickname="Bob on node 2")
        wait_for(lambda: heard_a.of("on_friend_info_changed"), message="alice hears bob's new nickname")
        assert heard_a.of("on_friend_info_changed")[0]["nickname"] == "Bob on node 2"
        assert texts(heard_b) == ["ping from node 1"] and texts(heard_a) == ["pong from node 2"]

        group = alice.create_group("two nodes", ["bob"])
        wait_for(lambda: heard_b.of("on_joined_group_added"), message="bob hears he joined the group")
        bob.send_message(content_type=TEXT, content={"text": "hello group"}, group_id=group["group_id"])
        wait_for(lambda: "hello group" in texts(heard_a), message="alice gets the group message")
        assert texts(heard_a).count("hello group") == 1
    finally:
        alice.close()
        bob.close()


def test_concurrent_writes_from_both_nodes_keep_seqs_contiguous(shared_cluster):
    node1, node2 = shared_cluster.nodes
    for user in ("dora", "erik"):
        register(node1.url, user)
    dora, erik = login_token(node1.url, "dora", 5), login_token(node2.url, "erik", 5)
    befriend(node1.url, "dora", dora, "erik", erik)

    sends = [
        (node, sender, token, to, f"{sender}-{i}")
        for i in range(15)
        for node, sender, token, to in ((node1, "dora", dora, "erik"), (node2, "erik", erik, "dora"))
    ]

    def send(job, node=None):
        target, sender, token, to, client_msg_id = job
        return rest(
            (node or target).url,
            "send_message",
            {"recv_id": to, "content_type": TEXT, "content": {"text": client_msg_id}, "client_msg_id": client_msg_id},
            token,
        )

    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(send, sends))
        # every retry, through the other node, answers with the message already stored
        retries = list(pool.map(lambda job: send(job, node2 if job[0] is node1 else node1), sends))
    assert sorted(m["seq"] for m in first) == list(range(1, 31))
    assert [(m["seq"], m["server_msg_id"]) for m in retries] == [(m["seq"], m["server_msg_id"]) for m in first]
    history = rest(
        node2.url, "get_history_message_list", {"conversation_id": first[0]["conversation_id"], "count": 100}, erik
    )["messages"]
    assert [m["seq"] for m in history] == list(range(1, 31))

    # 12 users apply to dora at once through both nodes: her event log stays 1..n without gaps
    applicants = [f"fan{i}" for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda u: register(node1.url, u), applicants))
        tokens = list(pool.map(lambda iu: login_token((node1, node2)[iu[0] % 2].url, iu[1], 5), enumerate(applicants)))
        list(
            pool.map(
                lambda it: rest((node1, node2)[it[0] % 2].url, "add_friend", {"to_user_id": "dora"}, it[1]),
                enumerate(tokens),
            )
        )
    log = rest(node1.url, "sync_events", {"after_seq": 0}, dora)
    seqs = [e["seq"] for e in log["events"]]
    assert seqs == list(range(1, log["max_seq"] + 1))
    assert sorted(
        e["data"]["from_user_id"]
        for e in log["events"]
        if e["type"] == "friend_application_added"
        and e["data"]["to_user_id"] == "dora"
        and e["data"]["from_user_id"].startswith("fan")
    ) == sorted(applicants)


def test_socket_sends_batched_on_both_nodes_keep_seqs_contiguous_and_retries_idempotent(shared_cluster):
    """Socket sends go through each node's group commit: batches of two nodes race on the same rows."""
    node1, node2 = shared_cluster.nodes
    pairs = [(f"gc{2 * i}", f"gc{2 * i + 1}") for i in range(3)]
    users = [u for pair in pairs for u in pair]
    for user in users:
        register(node1.url, user)
    sockets = {
        (u, n): CallingSocket(node.url, login_token(node.url, u, platform))
        for u in users
        for n, (node, platform) in enumerate(((node1, 1), (node2, 2)))
    }
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    for a, b in pairs:  # the conversations exist before the race (a first message is written alone)
        assert (
            sockets[(a, 0)].call("send_message", {"recv_id": b, "content_type": TEXT, "content": {"text": "open"}})[
                "errCode"
            ]
            == 0
        )

    def burst(key, through=None):
        user, node = key
        sock = sockets[(user, through if through is not None else node)]
        return [
            sock.call(
                "send_message",
                {
                    "recv_id": partner[user],
                    "content_type": TEXT,
                    "content": {"text": f"{user}-{node}-{i}"},
                    "client_msg_id": f"{user}-{node}-{i}",
                },
            )
            for i in range(10)
        ]

    with ThreadPoolExecutor(len(sockets)) as pool:
        firsts = dict(zip(sockets, pool.map(burst, sockets)))
        retries = dict(zip(sockets, pool.map(lambda key: burst(key, through=1 - key[1]), sockets)))
    for key in sockets:
        assert all(ack["errCode"] == 0 for ack in firsts[key] + retries[key]), key
        assert [a["data"]["server_msg_id"] for a in retries[key]] == [a["data"]["server_msg_id"] for a in firsts[key]]
    for a, b in pairs:
        conversation = firsts[(a, 0)][0]["data"]["conversation_id"]
        history = rest(
            node2.url,
            "get_history_message_list",
            {"conversation_id": conversation, "count": 100},
            login_token(node2.url, b, 3),
        )["messages"]
        assert [m["seq"] for m in history] == list(range(1, 42))
        assert sorted(m["client_msg_id"] for m in history[1:]) == sorted(
            ack["data"]["client_msg_id"] for key in sockets if key[0] in (a, b) for ack in firsts[key]
        )
    for sock in sockets.values():
        sock.ws.close()


def test_node_killed_clients_move_to_the_other_node_and_presence_clears(cluster):
    node1, node2 = cluster.start(2, env={"IM_NODE_TIMEOUT": "3"})
    for user in ("fay", "gus", "hal"):
        register(node1.url, user)
    gus_token = login_token(node2.url, "gus", 3)
    fay, heard = client([node1.url, node2.url], "fay")
    befriend(node1.url, "gus", gus_token, "fay", login_token(node1.url, "fay", 1))
    wait_for(lambda: heard.of("on_friend_added"), message="fay hears the friendship")
    hal = RawSocket(node1.url, login_token(node1.url, "hal", 5))
    assert connections(cluster, "fay") == [(5, "node1")]
    try:
        cluster.kill(node1)
        # While fay is cut off: five messages and a change of her friend's profile.
        for i in range(5):
            rest(
                node2.url,
                "send_message",
                {"recv_id": "fay", "content_type": TEXT, "content": {"text": f"while away {i}"}},
                gus_token,
            )
        rest(node2.url, "set_self_info", {"nickname": "Gus after the crash"}, gus_token)

        wait_for(lambda: len(heard.of("on_connect_success")) >= 2, timeout=20, message="fay reconnects")
        expected = [f"while away {i}" for i in range(5)]
        wait_for(lambda: texts(heard) == expected, message="fay catches up on the messages")
        wait_for(lambda: heard.of("on_friend_info_changed"), message="fay catches up on the profile change")
        assert fay.get_login_status() == 101
        wait_for(
            lambda: connections(cluster, "hal") == [],
            timeout=3 + 5,
            message="the dead node's sockets cleared within IM_NODE_TIMEOUT",
        )
        assert connections(cluster, "fay") == [(5, "node2")]
        status = rest(node2.url, "get_users_online_status", {"user_ids": ["fay", "hal"]}, gus_token)
        assert [s["status"] for s in status] == ["online", "offline"]
        fay.send_message(recv_id="gus", content_type=TEXT, content={"text": "back"})
        assert texts(heard) == expected and len(heard.of("on_friend_info_changed")) == 1
        assert len(heard.of("on_friend_added")) == 1
    finally:
        fay.close()
        hal.close()


def test_through_nginx_with_long_polling(cluster, nginx):
    node1, node2 = cluster.start(2, env={"IM_PROXY_COUNT": "1"})
    proxy = nginx([node1.url.removeprefix("http://"), node2.url.removeprefix("http://")])
    sticky = {requests.get(proxy.url + "/healthz", timeout=5).json()["node_id"] for _ in range(5)}
    assert len(sticky) == 1, "ip_hash sends one client to one node"
    other = node2 if sticky == {node1.node_id} else node1

    for user in ("ida", "jon", "kim"):
        register(proxy.url, user)
    ida, heard_i = client(proxy.url, "ida", transports=["polling"])
    jon, heard_j = client(proxy.url, "jon")  # polling first, then upgraded to WebSocket through nginx
    kim, heard_k = client(other.url, "kim")  # directly on the other node
    try:
        assert ida._sio.transport() == "polling"
        wait_for(lambda: jon._sio.transport() == "websocket", message="jon's upgrade to WebSocket")
        ida.add_friend("kim")
        wait_for(lambda: heard_k.of("on_friend_application_added"), message="kim hears ida's application")
        kim.accept_friend_application("ida")
        wait_for(lambda: heard_i.of("on_friend_added"), message="ida (long-polling) hears friend_added")
        kim.send_message(recv_id="ida", content_type=TEXT, content={"text": "via nginx"})
        jon.send_message(recv_id="ida", content_type=TEXT, content={"text": "from jon"})
        wait_for(lambda: sorted(texts(heard_i)) == ["from jon", "via nginx"], message="ida gets both messages")
        ida.send_message(recv_id="jon", content_type=TEXT, content={"text": "to jon " + uuid.uuid4().hex})
        wait_for(lambda: len(texts(heard_j)) == 1, message="jon gets ida's message")
        assert heard_i.of("on_kicked_offline") == []
    finally:
        for im in (ida, jon, kim):
            im.close()
