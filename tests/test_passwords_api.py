"""change_password and admin_reset_password: what changes, which sessions end, what is refused."""

import time

import pytest
from sqlalchemy import select

from im.extensions import db
from im.models import LoginSession, User
from im.operations import runner

OLD, NEW = "password123", "a brand new secret"
ADMIN = {"X-IM-Admin-Secret": "admin-secret"}


def _state(app, user_id):
    """The user's password hash and each session's (revoked_at, revoke_reason)."""
    with app.app_context():
        password_hash = db.session.get(User, user_id).password_hash
        sessions = {
            s.id: (s.revoked_at, s.revoke_reason)
            for s in db.session.scalars(select(LoginSession).where(LoginSession.user_id == user_id))
        }
        db.session.rollback()
    return password_hash, sessions


def _wait_disconnected(sock, timeout=5.0):
    deadline = time.monotonic() + timeout
    while sock.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not sock.is_connected()


def _kicks(sock):
    """The kicked_offline payloads a test-client socket received (also after it was closed)."""
    return [pkt["args"][0] for pkt in sock.queue if pkt["name"] == "kicked_offline"]


def _login_code(api, user_id, password, platform_id=5):
    return api.call("login", {"user_id": user_id, "password": password, "platform_id": platform_id}).get_json()[
        "errCode"
    ]


def test_change_password_revokes_other_sessions_and_keeps_the_caller(api, app):
    user_id, token = api.user(platform_id=5)
    ios = api.login(user_id, platform_id=1)
    windows = api.login(user_id, platform_id=3)
    others = {1: api.socket(ios), 3: api.socket(windows)}
    own_sock = api.socket(token)
    old_hash, _ = _state(app, user_id)

    assert api.ok("change_password", {"old_password": OLD, "new_password": NEW}, token) == {"revoked_sessions": 2}

    for platform_id, sock in others.items():
        assert _wait_disconnected(sock)
        assert _kicks(sock) == [{"reason": "password_changed", "platform_id": platform_id}]
    for other in (ios, windows):
        body = api.call("get_self_user_info", token=other).get_json()
        assert body["errCode"] == 1502 and "password_changed" in body["errMsg"]
    assert own_sock.is_connected()
    assert own_sock.emit("get_self_user_info", {}, callback=True)["errCode"] == 0
    assert api.ok("get_self_user_info", token=token)["user_id"] == user_id
    new_hash, sessions = _state(app, user_id)
    assert new_hash != old_hash and new_hash.startswith("$argon2id$") and NEW not in new_hash
    assert sorted(reason for _, reason in sessions.values() if reason) == ["password_changed"] * 2
    assert _login_code(api, user_id, OLD) == 1103
    assert _login_code(api, user_id, NEW, platform_id=2) == 0


def test_change_password_over_the_socket_keeps_that_socket(api):
    user_id, token = api.user()
    other_sock = api.socket(api.login(user_id, platform_id=2))
    sock = api.socket(token)
    ack = sock.emit("change_password", {"old_password": OLD, "new_password": NEW}, callback=True)
    assert ack == {"errCode": 0, "errMsg": "", "data": {"revoked_sessions": 1}}
    assert _wait_disconnected(other_sock)
    assert sock.is_connected()
    assert sock.emit("get_self_user_info", {}, callback=True)["errCode"] == 0
    assert _kicks(sock) == []


def test_wrong_old_password_changes_nothing(api, app):
    user_id, token = api.user()
    other = api.login(user_id, platform_id=1)
    other_sock = api.socket(other)
    before = _state(app, user_id)
    resp = api.call("change_password", {"old_password": "not-my-password", "new_password": NEW}, token)
    assert resp.status_code == 401 and resp.get_json()["errCode"] == 1103
    assert _state(app, user_id) == before
    assert other_sock.is_connected() and _kicks(other_sock) == []
    assert api.ok("get_self_user_info", token=other)["user_id"] == user_id
    assert _login_code(api, user_id, NEW) == 1103
    assert _login_code(api, user_id, OLD, platform_id=2) == 0


def test_password_set_before_the_current_minimum_can_still_be_the_old_one(api, app):
    from im.services import auth

    user_id, token = api.user()
    with app.app_context():
        db.session.get(User, user_id).password_hash = auth._hasher(runner.context()).hash("short")
        db.session.commit()
    assert api.ok("change_password", {"old_password": "short", "new_password": NEW}, token)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"new_password": NEW}, "old_password"),
        ({"old_password": OLD}, "new_password"),
        ({"old_password": OLD, "new_password": "short"}, "new_password"),
        ({"old_password": OLD, "new_password": "x" * 129}, "new_password"),
        ({"old_password": "", "new_password": NEW}, "old_password"),
        ({"old_password": "x" * 129, "new_password": NEW}, "old_password"),
        ({"old_password": OLD, "new_password": 12345678}, "new_password"),
        ({"old_password": ["password123"], "new_password": NEW}, "old_password"),
        ({"old_password": OLD, "new_password": None}, "new_password"),
        ({"old_password": OLD, "new_password": NEW, "user_id": "someone"}, "user_id"),
        ({"old_password": OLD, "new_password": OLD}, "new_password"),
    ],
)
def test_change_password_bad_input_is_1001_and_changes_nothing(api, app, payload, field):
    user_id, token = api.user()
    other_sock = api.socket(api.login(user_id, platform_id=1))
    before = _state(app, user_id)
    resp = api.call("change_password", payload, token)
    body = resp.get_json()
    assert resp.status_code == 400 and body["errCode"] == 1001
    assert field in [e["field"] for e in body["data"]["errors"]]
    assert _state(app, user_id) == before
    assert other_sock.is_connected()


def test_change_password_needs_a_live_token(api):
    user_id, token = api.user()
    payload = {"old_password": OLD, "new_password": NEW}
    assert api.call("change_password", payload).get_json()["errCode"] == 1500
    api.ok("logout", token=token)
    assert api.call("change_password", payload, token).get_json()["errCode"] == 1502
    assert _login_code(api, user_id, OLD) == 0


def test_admin_reset_password_revokes_every_session(api, app):
    user_id, token = api.user(platform_id=5)
    ios = api.login(user_id, platform_id=1)
    socks = {5: api.socket(token), 1: api.socket(ios)}
    old_hash, _ = _state(app, user_id)
    resp = api.call("admin_reset_password", {"user_id": user_id, "new_password": NEW}, **ADMIN)
    assert resp.get_json() == {"errCode": 0, "errMsg": "", "data": {"revoked_sessions": 2}}
    for platform_id, sock in socks.items():
        assert _wait_disconnected(sock)
        assert _kicks(sock) == [{"reason": "password_reset", "platform_id": platform_id}]
    for tok in (token, ios):
        assert api.call("get_self_user_info", token=tok).get_json()["errCode"] == 1502
    new_hash, sessions = _state(app, user_id)
    assert new_hash != old_hash and new_hash.startswith("$argon2id$")
    assert [reason for _, reason in sessions.values()] == ["password_reset"] * 2
    assert _login_code(api, user_id, OLD) == 1103
    assert _login_code(api, user_id, NEW) == 0


def test_admin_reset_password_refusals_change_nothing(api, app):
    user_id, token = api.user()
    bystander, _ = api.user()
    sock = api.socket(token)
    before = _state(app, user_id)
    payload = {"user_id": user_id, "new_password": NEW}
    # no secret, a wrong one, a user's token instead of the secret
    assert api.call("admin_reset_password", payload).get_json()["errCode"] == 1104
    assert api.call("admin_reset_password", payload, **{"X-IM-Admin-Secret": "nope"}).get_json()["errCode"] == 1104
    assert api.call("admin_reset_password", payload, token).get_json()["errCode"] == 1104
    # not served over the socket, like every admin operation
    assert sock.emit("admin_reset_password", payload, callback=True)["errCode"] == 1003
    unknown = api.call("admin_reset_password", {"user_id": "nobody-here", "new_password": NEW}, **ADMIN)
    assert unknown.status_code == 404 and unknown.get_json()["errCode"] == 1101
    for bad in (
        {"user_id": user_id},
        {"user_id": user_id, "new_password": "short"},
        {"user_id": "bad id!", "new_password": NEW},
        {"new_password": NEW},
        {"user_id": user_id, "new_password": NEW, "old_password": OLD},
    ):
        assert api.call("admin_reset_password", bad, **ADMIN).get_json()["errCode"] == 1001, bad
    assert _state(app, user_id) == before
    assert sock.is_connected() and _kicks(sock) == []
    assert _login_code(api, bystander, OLD) == 0


def test_admin_reset_password_is_refused_while_no_secret_is_configured(api, app):
    user_id, _ = api.user()
    app.config["IM_ADMIN_SECRET"] = None
    resp = api.call("admin_reset_password", {"user_id": user_id, "new_password": NEW}, **{"X-IM-Admin-Secret": ""})
    assert resp.get_json()["errCode"] == 1104
    assert _login_code(api, user_id, OLD) == 0


def _in_parallel(app, calls):
    """Run each (name, payload, token) over REST in its own thread at once; their envelopes and statuses."""
    import threading

    results = [None] * len(calls)

    def run(i, name, payload, token):
        resp = app.test_client().post(f"/api/{name}", json=payload, headers={"token": token} if token else {})
        results[i] = (resp.status_code, resp.get_json()["errCode"])

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_two_concurrent_changes_from_the_same_old_password_one_wins(api, app, monkeypatch):
    """Both calls check the old password before either writes (a barrier forces the interleaving
    SQLite allows, as it ignores the row lock): the second to write must be refused, not succeed."""
    import threading

    from im.services import auth

    user_id, token = api.user()
    other = api.login(user_id, platform_id=1)
    both_checked = threading.Barrier(2)
    checked = auth._password_matches

    def check_then_wait(*args):
        result = checked(*args)
        try:
            both_checked.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass  # a database that does lock the row lets the second check only after the first commit
        return result

    monkeypatch.setattr(auth, "_password_matches", check_then_wait)
    results = _in_parallel(
        app,
        [
            ("change_password", {"old_password": OLD, "new_password": "new secret A"}, token),
            ("change_password", {"old_password": OLD, "new_password": "new secret B"}, other),
        ],
    )
    monkeypatch.setattr(auth, "_password_matches", checked)
    assert sorted(code for _, code in results) == [0, 1103], results
    winner = "new secret A" if results[0][1] == 0 else "new secret B"
    loser = "new secret B" if winner == "new secret A" else "new secret A"
    assert _login_code(api, user_id, winner) == 0
    assert _login_code(api, user_id, loser, platform_id=2) == 1103
    assert _login_code(api, user_id, OLD, platform_id=3) == 1103


def test_two_concurrent_registrations_of_one_id_answer_1102(app, monkeypatch):
    """Both pass the existence check before either inserts: the second insert is 1102, not a 500."""
    import threading

    from im.services import auth

    both_checked = threading.Barrier(2)
    hashed = auth.run_blocking

    def hash_then_wait(*args):
        result = hashed(*args)
        both_checked.wait(timeout=10)
        return result

    monkeypatch.setattr(auth, "run_blocking", hash_then_wait)
    payload = {"user_id": "racer", "password": OLD, "nickname": "Racer"}
    results = _in_parallel(app, [("register", payload, None), ("register", payload, None)])
    assert sorted(results) == [(200, 0), (409, 1102)], results
    with app.app_context():
        assert db.session.query(User).filter_by(user_id="racer").count() == 1
