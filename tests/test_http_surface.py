"""The HTTP surface: OpenAPI document and security headers."""

from im.operations import OPERATIONS


def test_openapi_lists_every_operation(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {f"/api/{name}" for name in OPERATIONS}
    register = doc["paths"]["/api/register"]["post"]
    schema = doc["components"]["schemas"]["RegisterParams"]
    assert register["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("RegisterParams")
    assert set(schema["required"]) == {"user_id", "password", "nickname"}
    assert schema["additionalProperties"] is False
    assert doc["paths"]["/api/get_users_info"]["post"]["security"]


def test_security_headers_on_pages_and_api(client):
    for resp in (client.get("/"), client.post("/api/error_codes", json={})):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_wrong_method_answers_405_with_allow_and_the_envelope(client):
    """RFC 9110: a 405 says which methods the resource takes; the body is the documented envelope."""
    for method, path in (
        ("get", "/api/login"),
        ("put", "/api/send_message"),
        ("delete", "/api/error_codes"),
        ("put", "/api/openapi.json"),
    ):
        resp = getattr(client, method)(path)
        assert resp.status_code == 405, path
        allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
        assert allowed >= ({"GET"} if path.endswith(".json") else {"POST"}), (path, allowed)
        assert resp.get_json()["errCode"] == 1001
    assert client.post("/api/login", json={}).status_code == 400
