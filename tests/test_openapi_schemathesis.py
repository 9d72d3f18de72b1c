"""Schemathesis against a live server: generated requests for every REST operation, with and without
a valid token, never get a 5xx nor an answer that breaks the published schema."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(
        tmp_path_factory.mktemp("schemathesis"),
        {"IM_RATE_LIMITS_ENABLED": "false", "IM_ADMIN_SECRET": "schemathesis-admin"},
    ).start()
    requests.post(
        f"{srv.url}/api/register", json={"user_id": "prober", "password": "password123", "nickname": "P"}, timeout=10
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(server):
    answer = requests.post(
        f"{server.url}/api/login", timeout=10, json={"user_id": "prober", "password": "password123", "platform_id": 7}
    )
    return answer.json()["data"]["token"]


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")


def _operations():
    from im.operations import OPERATIONS

    # ending the probe's own session would turn every later case into a token error
    return sorted(name for name in OPERATIONS if name != "logout")


@pytest.mark.parametrize("name", _operations())
def test_rest_operation_conforms(api_schema, token, name):
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().path == f"/api/{name}")

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        for headers in ({"token": token}, {}):
            response = case.call(headers=headers)
            assert response.status_code < 500, response.text
            case.validate_response(response)

    check()
