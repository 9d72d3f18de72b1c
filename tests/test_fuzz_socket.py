"""Property-based fuzzing of every socket event: random payloads never cause a 500, and a refused
call changes nothing in the database."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from im import create_app
from im.extensions import db
from im.operations import OPERATIONS
from tests.support.server import FAST_HASH

# Calls that end the caller's own session would leave nothing to fuzz afterwards.
SESSION_ENDING = {"logout"}
FUZZED = sorted(name for name, op in OPERATIONS.items() if not op.rest_only and name not in SESSION_ENDING)
VOLATILE_COLUMNS = {"last_seen_at", "heartbeat_at"}

# Texts over the length limits: a short random unit repeated. Drawing 2,000-5,000 random characters
# one by one was three quarters of this module's time; the short texts vary the characters.
long_texts = st.builds(
    lambda unit, n: (unit * n)[:5000], st.text(min_size=1, max_size=8), st.integers(min_value=2000, max_value=5000)
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | long_texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _payloads(op_name):
    fields = list(OPERATIONS[op_name].params.model_fields) or ["x"]
    objects = st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), json_values, max_size=6)
    return objects | json_values


def _snapshot():
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name == "nodes":
            continue  # the process's own heartbeat, written by its sweeper whenever it runs, not by a call
        cols = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
        state[table.name] = sorted(map(repr, db.session.execute(select(*cols)).all()))
    db.session.rollback()
    return state


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_RATE_LIMITS_ENABLED": False,
        }
    )
    client = app.test_client()
    for user_id in ("fuzzer", "peer"):
        client.post("/api/register", json={"user_id": user_id, "password": "password123", "nickname": user_id})
    token = client.post(
        "/api/login", json={"user_id": "fuzzer", "password": "password123", "platform_id": 5}
    ).get_json()["data"]["token"]
    sock = app.extensions["socketio"].test_client(app, auth={"token": token})
    assert sock.is_connected()
    return app, sock


@pytest.mark.parametrize("op_name", FUZZED)
def test_socket_event_fuzz(fuzz_env, op_name):
    app, sock = fuzz_env

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=_payloads(op_name))
    def check(payload):
        with app.app_context():
            before = _snapshot()
        ack = sock.emit(op_name, payload, callback=True)
        assert isinstance(ack, dict) and ack["errCode"] != 500, ack
        if ack["errCode"] != 0:
            with app.app_context():
                assert _snapshot() == before, f"refused {op_name} changed data"

    check()


@given(event=st.text(min_size=1, max_size=40), payload=json_values)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_unknown_events_are_refused(fuzz_env, event, payload):
    _app, sock = fuzz_env
    if event in OPERATIONS or event in ("connect", "disconnect", "message"):
        return
    ack = sock.emit(event, payload, callback=True)
    assert ack["errCode"] == 1003
