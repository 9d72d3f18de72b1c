"""Secrets never reach the server log: passwords, tokens (header, socket auth, ?token= links), the
admin secret, the session key."""

import io

import pytest
import requests

from im.sdk import IMClient, IMError

PASSWORD = "Pw-Zebra-8841-never-log-me"
WRONG_PASSWORD = "Wrong-Pw-Quokka-5522"
ADMIN_SECRET = "Admin-Secret-Narwhal-7133"
SESSION_KEY = "Session-Key-Okapi-9907"
CHANGED_PASSWORD = "Changed-Pw-Axolotl-3316"
WRONG_OLD_PASSWORD = "Wrong-Old-Pw-Tapir-6604"
RESET_PASSWORD = "Reset-Pw-Pangolin-2290"


def test_server_log_has_no_secrets(live_server, tmp_path):
    server = live_server(
        {"IM_ADMIN_SECRET": ADMIN_SECRET, "SECRET_KEY": SESSION_KEY, "IM_RATE_LIMITS_ENABLED": "false"}
    )
    url = server.url
    tokens = []

    alice = IMClient(url, timeout=20)
    alice.register("alice", PASSWORD, "Alice")
    tokens.append(alice.login("alice", PASSWORD)["token"])
    bob = IMClient(url, timeout=20)
    bob.register("bob", PASSWORD, "Bob")
    tokens.append(bob.login("bob", PASSWORD)["token"])
    try:
        try:
            IMClient(url).login("alice", WRONG_PASSWORD)
        except IMError:
            pass
        alice.send_message("bob", 101, {"text": f"my password is {PASSWORD}"})
        alice.add_friend("bob", req_msg="hi")
        alice.set_self_info(nickname="Alice A")
        with pytest.raises(IMError):
            alice.change_password(WRONG_OLD_PASSWORD, CHANGED_PASSWORD)
        with pytest.raises(IMError):
            alice.change_password(CHANGED_PASSWORD, CHANGED_PASSWORD)
        alice.change_password(PASSWORD, CHANGED_PASSWORD)
        assert (
            requests.post(
                f"{url}/api/change_password",
                headers={"token": tokens[0]},
                timeout=10,
                json={"old_password": CHANGED_PASSWORD, "new_password": PASSWORD + "!"},
            ).json()["errCode"]
            == 0
        )
        upload = requests.post(
            f"{url}/api/upload",
            headers={"token": tokens[0]},
            files={"file": ("note.txt", io.BytesIO(b"hello"), "text/plain")},
            timeout=10,
        ).json()
        file_url = upload["data"]["url"]
        assert requests.get(f"{url}{file_url}?token={tokens[0]}", timeout=10).status_code == 200
        assert requests.get(f"{url}{file_url}?token={tokens[1]}x", timeout=10).status_code != 200
        forged = tokens[1][:-4] + "AAAA"
        assert (
            requests.post(f"{url}/api/get_self_user_info", headers={"token": forged}, timeout=10).json()["errCode"] != 0
        )
        assert (
            requests.post(
                f"{url}/api/get_self_user_info", headers={"Authorization": f"Bearer {tokens[1]}"}, timeout=10
            ).json()["errCode"]
            == 0
        )
        sio_refused = requests.get(f"{url}/socket.io/?EIO=4&transport=polling&token={forged}", timeout=10)
        assert sio_refused.status_code in (200, 400, 401)
        reset = {"user_id": "bob", "new_password": RESET_PASSWORD}
        assert (
            requests.post(
                f"{url}/api/admin_reset_password", json=reset, timeout=10, headers={"X-IM-Admin-Secret": ADMIN_SECRET}
            ).json()["errCode"]
            == 0
        )
        requests.post(
            f"{url}/api/admin_reset_password", json=reset, timeout=10, headers={"X-IM-Admin-Secret": ADMIN_SECRET + "x"}
        )
        tokens.append(
            requests.post(
                f"{url}/api/login", timeout=10, json={"user_id": "bob", "password": RESET_PASSWORD, "platform_id": 5}
            ).json()["data"]["token"]
        )
        assert (
            requests.post(
                f"{url}/api/admin_force_logout",
                json={"user_id": "bob", "platform_id": 5},
                headers={"X-IM-Admin-Secret": ADMIN_SECRET},
                timeout=10,
            ).json()["errCode"]
            == 0
        )
        requests.post(
            f"{url}/api/admin_force_logout",
            json={"user_id": "bob", "platform_id": 5},
            headers={"X-IM-Admin-Secret": ADMIN_SECRET + "x"},
            timeout=10,
        )
    finally:
        alice.logout()
        bob.close()
    server.stop()

    log = server.log_path.read_text(errors="replace")
    assert "serving on" in log, "the log must be the one this server wrote"
    assert "VerifyMismatchError" not in log, "a wrong password is an answer, not an error to log"
    for secret in (
        PASSWORD,
        WRONG_PASSWORD,
        CHANGED_PASSWORD,
        WRONG_OLD_PASSWORD,
        RESET_PASSWORD,
        ADMIN_SECRET,
        SESSION_KEY,
        *tokens,
        forged,
    ):
        assert secret not in log, f"secret found in the server log: {secret[:6]}…"
