"""CORS and Socket.IO origins: same origin by default, other origins only when in IM_CORS_ORIGINS."""

import pytest

from im import create_app
from im.config import cors_origins
from tests.support.server import FAST_HASH

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def _app(tmp_path, origins):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'origins.sqlite3'}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_CORS_ORIGINS": origins,
            "TESTING": True,
        }
    )


def _handshake(client, origin=None):
    return client.get(HANDSHAKE, headers={"Origin": origin} if origin else {})


def test_config_parsing():
    assert cors_origins(None) is None and cors_origins(" ") is None
    assert cors_origins("https://a.example/, https://b.example") == ["https://a.example", "https://b.example"]
    assert cors_origins("https://a.example,*") == "*"


def test_same_origin_only_by_default(tmp_path):
    client = _app(tmp_path, cors_origins(None)).test_client()
    assert _handshake(client).status_code == 200, "programs send no Origin and must connect"
    assert _handshake(client, "http://localhost").status_code == 200
    refused = _handshake(client, "https://evil.example")
    assert refused.status_code == 400

    same = client.post("/api/get_self_user_info", json={}, headers={"Origin": "http://localhost"})
    assert same.headers["Access-Control-Allow-Origin"] == "http://localhost"
    foreign = client.post("/api/get_self_user_info", json={}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Origin" in foreign.headers["Vary"]
    preflight = client.options(
        "/api/send_message",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, token",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Headers" not in preflight.headers


def test_listed_origins(tmp_path):
    client = _app(tmp_path, cors_origins("https://app.example")).test_client()
    assert _handshake(client, "https://app.example").status_code == 200
    assert _handshake(client, "https://evil.example").status_code == 400

    preflight = client.options(
        "/api/send_message",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "token" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    answer = client.post(
        "/api/login",
        json={"user_id": "nobody", "password": "password123", "platform_id": 5},
        headers={"Origin": "https://app.example"},
    )
    assert answer.get_json()["errCode"] != 0
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.post("/api/login", json={}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in page.headers


@pytest.mark.parametrize("origin", ["https://anything.example", "http://localhost:1234"])
def test_wildcard(tmp_path, origin):
    client = _app(tmp_path, cors_origins("*")).test_client()
    assert _handshake(client, origin).status_code == 200
    assert (
        client.post("/api/login", json={}, headers={"Origin": origin}).headers["Access-Control-Allow-Origin"] == origin
    )
