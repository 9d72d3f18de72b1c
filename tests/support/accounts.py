"""Accounts on a live server over plain REST, for tests that speak the protocol without the SDK."""

import requests

PASSWORD = "password123"


def rest_token(url: str, user_id: str, platform_id: int = 5) -> str:
    """Register user_id (or find it registered) and log in; the session's token."""
    account = {"user_id": user_id, "password": PASSWORD}
    requests.post(f"{url}/api/register", json={**account, "nickname": user_id}, timeout=10)
    answer = requests.post(f"{url}/api/login", json={**account, "platform_id": platform_id}, timeout=10).json()
    return answer["data"]["token"]
