"""Rate limits: over the limit a clear code, other users unaffected."""

import pytest

from im import create_app
from tests.support.server import FAST_HASH


@pytest.fixture
def limited_app(tmp_path):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rl.sqlite3'}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_RATE_LIMITS": {
                "login_user": "3/minute",
                "login_address": "100/minute",
                "register_address": "4/minute",
                "connect_address": "2/minute",
                "send_message_user": "3/minute",
                "change_password_user": "3/minute",
            },
        }
    )


def _post(client, name, payload, address="10.0.0.1"):
    return client.post(f"/api/{name}", json=payload, environ_base={"REMOTE_ADDR": address})


def test_login_attempts_per_account(limited_app):
    client = limited_app.test_client()
    for user_id in ("target", "bystander"):
        _post(client, "register", {"user_id": user_id, "password": "password123", "nickname": "x"})
    for _ in range(3):
        assert (
            _post(client, "login", {"user_id": "target", "password": "wrong-guess", "platform_id": 5}).get_json()[
                "errCode"
            ]
            == 1103
        )
    over = _post(client, "login", {"user_id": "target", "password": "password123", "platform_id": 5})
    assert over.status_code == 429 and over.get_json()["errCode"] == 1008
    other = _post(client, "login", {"user_id": "bystander", "password": "password123", "platform_id": 5})
    assert other.get_json()["errCode"] == 0


def test_signups_per_address(limited_app):
    client = limited_app.test_client()
    for i in range(4):
        assert (
            _post(client, "register", {"user_id": f"u{i}", "password": "password123", "nickname": "x"}).get_json()[
                "errCode"
            ]
            == 0
        )
    over = _post(client, "register", {"user_id": "u9", "password": "password123", "nickname": "x"})
    assert over.get_json()["errCode"] == 1008
    elsewhere = _post(
        client, "register", {"user_id": "u9", "password": "password123", "nickname": "x"}, address="10.0.0.2"
    )
    assert elsewhere.get_json()["errCode"] == 0


def test_connections_per_address(limited_app):
    client = limited_app.test_client()
    _post(client, "register", {"user_id": "sock", "password": "password123", "nickname": "x"})
    token = _post(client, "login", {"user_id": "sock", "password": "password123", "platform_id": 5}).get_json()["data"][
        "token"
    ]
    sio = limited_app.extensions["socketio"]
    connected = [
        sio.test_client(limited_app, auth={"token": token}, flask_test_client=client).is_connected() for _ in range(3)
    ]
    assert connected == [True, True, False]


def test_messages_per_user(limited_app):
    client = limited_app.test_client()
    tokens = {}
    for user_id in ("chatty", "calm", "peer"):
        _post(client, "register", {"user_id": user_id, "password": "password123", "nickname": "x"})
        tokens[user_id] = _post(
            client, "login", {"user_id": user_id, "password": "password123", "platform_id": 5}
        ).get_json()["data"]["token"]

    def send(user_id, n):
        return client.post(
            "/api/send_message",
            headers={"token": tokens[user_id]},
            json={"recv_id": "peer", "content_type": 101, "content": {"text": f"m{n}"}},
        )

    assert [send("chatty", n).get_json()["errCode"] for n in range(3)] == [0, 0, 0]
    over = send("chatty", 3)
    assert over.status_code == 429 and over.get_json()["errCode"] == 1008
    assert over.get_json()["data"]["limit"] == "send_message_user"
    assert send("calm", 0).get_json()["errCode"] == 0
    peer_history = client.post(
        "/api/get_history_message_list", headers={"token": tokens["peer"]}, json={"conversation_id": "si_chatty~peer"}
    ).get_json()["data"]["messages"]
    assert [m["content"]["text"] for m in peer_history] == ["m0", "m1", "m2"]


def test_old_password_guesses_per_account(limited_app):
    client = limited_app.test_client()

    def sign_in(user_id, platform_id=5):
        return _post(client, "login", {"user_id": user_id, "password": "password123", "platform_id": platform_id})

    def change(token, old_password):
        return client.post(
            "/api/change_password",
            headers={"token": token},
            json={"old_password": old_password, "new_password": "a brand new secret"},
        )

    tokens = {}
    for user_id in ("target", "bystander"):
        _post(client, "register", {"user_id": user_id, "password": "password123", "nickname": "x"})
        tokens[user_id] = sign_in(user_id).get_json()["data"]["token"]
    assert [change(tokens["target"], f"guess-{n}").get_json()["errCode"] for n in range(3)] == [1103] * 3
    # over the limit even the right password is refused: guessing stays slow whatever the guess
    over = change(tokens["target"], "password123")
    assert over.status_code == 429 and over.get_json()["errCode"] == 1008
    assert over.get_json()["data"]["limit"] == "change_password_user"
    # counted per account, not per session: another session of the account gets no fresh tries
    second = sign_in("target", platform_id=1).get_json()["data"]["token"]
    assert change(second, "password123").get_json()["errCode"] == 1008
    assert change(tokens["bystander"], "password123").get_json()["errCode"] == 0


@pytest.mark.parametrize("proxies, limited", [(1, False), (0, True)])
def test_client_address_behind_a_proxy(tmp_path, proxies, limited):
    """Behind nginx each client counts apart (X-Forwarded-For); without a proxy the header is ignored."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite3'}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_PROXY_COUNT": proxies,
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_RATE_LIMITS": {
                "login_user": "3/minute",
                "login_address": "100/minute",
                "register_address": "1/minute",
                "connect_address": "2/minute",
                "send_message_user": "50/second",
            },
        }
    )
    client = app.test_client()
    codes = [
        client.post(
            "/api/register",
            json={"user_id": f"u{i}", "password": "password123", "nickname": "x"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).get_json()["errCode"]
        for i in range(2)
    ]
    assert codes == ([0, 1008] if limited else [0, 0])


def test_counting_starts_no_thread_and_the_sweep_drops_stale_counters(limited_app, monkeypatch):
    """Under gevent a thread started from a socket's greenlet stays registered for the socket's life."""
    import threading
    import time

    from im import ratelimit

    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    with limited_app.app_context():
        for n in range(20):
            ratelimit.hit("send_message_user", f"user{n}")
        storage = limited_app.extensions["im_rate_limiter"].storage
        assert started == [] and len(storage.storage) == 20
        for key in storage.expirations:
            storage.expirations[key] = time.time() - 1
        ratelimit.expire_stale()
        assert len(storage.storage) == 0
        ratelimit.hit("send_message_user", "user0")
        assert len(storage.storage) == 1


def test_admin_secret_guesses_per_address(tmp_path):
    """Only refused admin calls count; past the limit even the right secret answers 1008 from that
    address (a guess cannot be told apart), while other addresses and accepted calls are unaffected."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'admin.sqlite3'}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ADMIN_SECRET": "the-admin-secret",
            "IM_RATE_LIMITS": {"admin_failure_address": "3/minute"},
        }
    )
    client = app.test_client()
    _post(client, "register", {"user_id": "someone", "password": "password123", "nickname": "x"})

    def admin_call(secret, address="10.0.0.1"):
        return client.post(
            "/api/admin_force_logout",
            json={"user_id": "someone"},
            headers={"X-IM-Admin-Secret": secret} if secret else {},
            environ_base={"REMOTE_ADDR": address},
        ).get_json()["errCode"]

    for _ in range(5):
        assert admin_call("the-admin-secret") == 0  # accepted calls are not counted
    assert [admin_call(guess) for guess in ("guess-1", None, "guess-3")] == [1104, 1104, 1104]
    assert admin_call("guess-4") == 1008
    assert admin_call("the-admin-secret") == 1008
    assert admin_call("the-admin-secret", address="10.0.0.2") == 0
    assert admin_call("guess-1", address="10.0.0.2") == 1104


def _signed_in(app, client, *user_ids):
    tokens = {}
    for user_id in user_ids:
        _post(client, "register", {"user_id": user_id, "password": "password123", "nickname": "x"})
        tokens[user_id] = _post(
            client, "login", {"user_id": user_id, "password": "password123", "platform_id": 5}
        ).get_json()["data"]["token"]
    return tokens


def test_friend_application_renewals_reach_a_victim_a_bounded_number_of_times(limited_app):
    """Each renewal of a pending application pushes (and logs) an event to the target: per pair, 5 an hour."""
    client = limited_app.test_client()
    tokens = _signed_in(limited_app, client, "pest", "victim", "friendly", "other")
    victim = limited_app.extensions["socketio"].test_client(
        limited_app, auth={"token": tokens["victim"]}, flask_test_client=client
    )
    victim.get_received()

    def apply(from_id, to_id):
        return client.post(
            "/api/add_friend", headers={"token": tokens[from_id]}, json={"to_user_id": to_id, "req_msg": "please"}
        ).get_json()

    codes = [apply("pest", "victim")["errCode"] for _ in range(50)]
    assert codes == [0] * 5 + [1008] * 45
    pushed = [
        m for m in victim.get_received() if m["name"] == "event" and m["args"][0]["type"] == "friend_application_added"
    ]
    print(f"50 renewals: the victim heard {len(pushed)}")
    assert len(pushed) == 5
    # counted per pair: the pest may still apply to others, and others to the victim
    assert apply("pest", "other")["errCode"] == 0
    assert apply("friendly", "victim")["errCode"] == 0
    victim.disconnect()


def test_typing_updates_reach_a_victim_a_bounded_number_of_times(limited_app):
    client = limited_app.test_client()
    tokens = _signed_in(limited_app, client, "typist", "victim", "friendly", "other")
    victim = limited_app.extensions["socketio"].test_client(
        limited_app, auth={"token": tokens["victim"]}, flask_test_client=client
    )
    victim.get_received()

    def typing(from_id, to_id):
        return client.post(
            "/api/typing_status_update",
            headers={"token": tokens[from_id]},
            json={"recv_id": to_id, "msg_tip": "typing"},
        ).get_json()

    codes = [typing("typist", "victim")["errCode"] for _ in range(200)]
    assert codes == [0] * 30 + [1008] * 170
    pushed = [m for m in victim.get_received() if m["name"] == "new_message" and m["args"][0]["content_type"] == 113]
    print(f"200 typing updates: the victim heard {len(pushed)}")
    assert len(pushed) == 30
    assert typing("typist", "other")["errCode"] == 0
    assert typing("friendly", "victim")["errCode"] == 0
    victim.disconnect()


def test_searches_per_user(limited_app):
    client = limited_app.test_client()
    tokens = _signed_in(limited_app, client, "seeker", "calm")

    def search(user_id):
        return client.post("/api/search_messages", headers={"token": tokens[user_id]}, json={"keyword": "anything"})

    assert [search("seeker").get_json()["errCode"] for _ in range(30)] == [0] * 30
    over = search("seeker")
    assert over.status_code == 429 and over.get_json()["data"]["limit"] == "search_messages_user"
    assert search("calm").get_json()["errCode"] == 0
