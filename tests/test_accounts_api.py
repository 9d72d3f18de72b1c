"""Accounts, login and tokens over REST (Flask test client)."""

import pytest

from im.extensions import db
from im.models import LoginSession, User


def test_healthz_and_index(client):
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "node_id": client.application.config["IM_NODE_ID"]}
    page = client.get("/")
    assert page.status_code == 200 and b"<form" in page.data


def test_register_login_and_profile(api):
    user = api.ok("register", {"user_id": "alice", "password": "password123", "nickname": "Alice"})
    assert user["user_id"] == "alice" and user["nickname"] == "Alice" and "password" not in str(user)
    token = api.login("alice")
    assert token.startswith("imt_")
    assert api.ok("get_self_user_info", token=token)["nickname"] == "Alice"
    updated = api.ok("set_self_info", {"nickname": "Alicia", "face_url": "https://x/y.png"}, token)
    assert updated["nickname"] == "Alicia"
    assert api.ok("get_users_info", {"user_ids": ["alice", "nobody"]}, token) == [updated]


def test_password_and_token_are_stored_hashed(api, app):
    _, token = api.user("bob", password="correct horse")
    with app.app_context():
        user = db.session.get(User, "bob")
        assert user.password_hash.startswith("$argon2id$")
        session = db.session.query(LoginSession).one()
        assert token not in session.token_hash and len(session.token_hash) == 64


def test_login_answers_the_id_of_the_session_it_created(api, app):
    api.user("carol")
    answer = api.ok("login", {"user_id": "carol", "password": "password123", "platform_id": 3})
    with app.app_context():
        session = db.session.query(LoginSession).filter_by(user_id="carol", platform_id=3).one()
    assert answer["session_id"] == session.id
    assert api.ok("get_self_user_info", token=answer["token"])["user_id"] == "carol"


def test_wrong_password_and_unknown_user_answer_the_same(api):
    api.user("carol")
    wrong = api.call("login", {"user_id": "carol", "password": "nope-nope", "platform_id": 5}).get_json()
    unknown = api.call("login", {"user_id": "nobody", "password": "nope-nope", "platform_id": 5}).get_json()
    assert wrong == unknown
    assert wrong["errCode"] == 1103


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"user_id": "bad id!", "password": "password123", "nickname": "x"}, "user_id"),
        ({"user_id": "x" * 65, "password": "password123", "nickname": "x"}, "user_id"),
        ({"user_id": "ok", "password": "short", "nickname": "x"}, "password"),
        ({"user_id": "ok", "password": "password123", "nickname": ""}, "nickname"),
        ({"user_id": "ok", "password": "password123", "nickname": "x" * 65}, "nickname"),
        ({"user_id": 5, "password": "password123", "nickname": "x"}, "user_id"),
        ({"user_id": "ok", "password": "password123"}, "nickname"),
        ({"user_id": "ok", "password": "password123", "nickname": "x", "admin": True}, "admin"),
    ],
)
def test_register_rejects_bad_input_and_writes_nothing(api, app, payload, field):
    resp = api.call("register", payload)
    body = resp.get_json()
    assert resp.status_code == 400 and body["errCode"] == 1001
    assert body["data"]["errors"][0]["field"] == field
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_duplicate_register(api):
    api.user("dave")
    resp = api.call("register", {"user_id": "dave", "password": "password123", "nickname": "D"})
    assert resp.status_code == 409 and resp.get_json()["errCode"] == 1102


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'"str"', b"null", b"{" * 5000])
def test_malformed_bodies_are_400_never_500(client, body):
    resp = client.post("/api/register", data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["errCode"] == 1001


def test_oversized_body_is_413(client):
    resp = client.post("/api/register", data=b"x" * (2 * 1024 * 1024), content_type="application/json")
    assert resp.status_code == 413 and resp.get_json()["errCode"] == 1007


@pytest.mark.parametrize("platform_id", [0, 11, -1, "5", 5.5, True, None])
def test_login_rejects_bad_platform(api, platform_id):
    api.user("erin")
    resp = api.call("login", {"user_id": "erin", "password": "password123", "platform_id": platform_id})
    assert resp.get_json()["errCode"] == 1001


@pytest.mark.parametrize(
    "token, code",
    [
        (None, 1500),
        ("garbage", 1503),
        ("imt_" + "a" * 43, 1507),
        ("imt_" + "x" * 200, 1503),
    ],
)
def test_bad_tokens_get_distinct_codes(api, token, code):
    headers = {"token": token} if token else {}
    resp = api.client.post("/api/get_self_user_info", json={}, headers=headers)
    assert resp.status_code == 401 and resp.get_json()["errCode"] == code


def test_bearer_header_works_too(api):
    _, token = api.user()
    resp = api.client.post("/api/get_self_user_info", json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.get_json()["errCode"] == 0


def test_a_token_header_and_a_bearer_that_disagree_are_refused(api):
    """Two credentials naming different sessions (or one of them forged) are refused with 1508,
    whichever of them is valid; the same token in both places is one credential."""
    alice, alice_token = api.user()
    _, bob_token = api.user()
    for header, bearer in (
        (alice_token, bob_token),
        (alice_token, "imt_forged"),
        ("imt_forged", alice_token),
        ("garbage", alice_token),
    ):
        resp = api.client.post(
            "/api/get_self_user_info", json={}, headers={"token": header, "Authorization": f"Bearer {bearer}"}
        )
        assert resp.status_code == 401 and resp.get_json()["errCode"] == 1508, (header, bearer)
    resp = api.client.post(
        "/api/get_self_user_info", json={}, headers={"token": alice_token, "Authorization": f"Bearer {alice_token}"}
    )
    assert resp.get_json()["data"]["user_id"] == alice
    # An empty header is no credential, and Basic is not a token scheme.
    for headers in (
        {"token": "", "Authorization": f"Bearer {alice_token}"},
        {"token": alice_token, "Authorization": "Basic eDp5"},
    ):
        assert api.client.post("/api/get_self_user_info", json={}, headers=headers).get_json()["errCode"] == 0


def test_a_file_link_with_a_token_that_disagrees_with_the_header_is_refused(api):
    _, token = api.user()
    _, other = api.user()
    resp = api.client.get(f"/api/files/{'0' * 32}?token={other}", headers={"token": token})
    assert resp.status_code == 401 and resp.get_json()["errCode"] == 1508
    assert (
        api.client.get(f"/api/files/{'0' * 32}?token={token}", headers={"token": token}).get_json()["errCode"] == 1406
    )


def test_logout_revokes_token(api):
    _, token = api.user()
    api.ok("logout", token=token)
    assert api.call("get_self_user_info", token=token).get_json()["errCode"] == 1502


def test_expired_token(api, app):
    app.config["IM_TOKEN_TTL"] = 0
    _, token = api.user()
    assert api.call("get_self_user_info", token=token).get_json()["errCode"] == 1501


def test_unknown_operation_and_method(client):
    assert client.post("/api/nothing_here", json={}).get_json()["errCode"] == 1003
    assert client.get("/api/register").status_code == 405


def test_error_codes_are_listed(api):
    codes = {row["code"]: row["name"] for row in api.ok("error_codes")}
    assert codes[1001] == "InvalidParams" and codes[1506] == "TokenKicked"


def test_admin_force_logout_requires_secret(api):
    user_id, token = api.user()
    assert api.call("admin_force_logout", {"user_id": user_id}).get_json()["errCode"] == 1104
    wrong = api.call("admin_force_logout", {"user_id": user_id}, **{"X-IM-Admin-Secret": "nope"})
    assert wrong.get_json()["errCode"] == 1104
    resp = api.call("admin_force_logout", {"user_id": user_id}, **{"X-IM-Admin-Secret": "admin-secret"})
    assert resp.get_json()["data"] == {"kicked_sessions": 1}
    assert api.call("get_self_user_info", token=token).get_json()["errCode"] == 1502


def test_admin_is_refused_while_no_secret_is_configured(api, app):
    app.config["IM_ADMIN_SECRET"] = None
    user_id, _ = api.user()
    resp = api.call("admin_force_logout", {"user_id": user_id}, **{"X-IM-Admin-Secret": ""})
    assert resp.get_json()["errCode"] == 1104


def _events(api, token, after):
    return [(e["seq"], e["type"], e["data"]) for e in api.ok("sync_events", {"after_seq": after}, token)["events"]]


def test_own_profile_change_reaches_my_other_terminals_through_my_event_log(api):
    _, phone = api.user("alice", platform_id=2)
    pc = api.login("alice", platform_id=3)
    _, bob = api.user("bob")
    start = api.ok("sync_events", {}, pc)["max_seq"]
    bob_start = api.ok("sync_events", {}, bob)["max_seq"]
    pc_socket = api.socket(pc)
    pc_socket.get_received()

    updated = api.ok("set_self_info", {"nickname": "Alicia", "face_url": "https://x/a.png"}, phone)

    live = [e["args"][0] for e in pc_socket.get_received() if e["name"] == "event"]
    assert live == [{"seq": start + 1, "type": "self_info_updated", "data": updated}]
    # the log holds it too, for a terminal that was offline; nobody else hears of it
    assert _events(api, phone, start) == [(start + 1, "self_info_updated", updated)]
    assert _events(api, bob, bob_start) == []
    # the same values again change nothing and publish nothing
    api.ok("set_self_info", {"nickname": "Alicia", "face_url": "https://x/a.png"}, pc)
    api.ok("set_self_info", {}, pc)
    assert api.ok("sync_events", {}, pc)["max_seq"] == start + 1
    pc_socket.disconnect()


def test_refused_profile_change_publishes_nothing(api):
    _, token = api.user("carol")
    start = api.ok("sync_events", {}, token)["max_seq"]
    body = api.call("set_self_info", {"nickname": "x" * 65}, token).get_json()
    assert body["errCode"] == 1001
    assert api.ok("sync_events", {}, token)["max_seq"] == start
    assert api.ok("get_self_user_info", {}, token)["nickname"] == "Carol"
