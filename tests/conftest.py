"""Shared fixtures: an app on a temporary SQLite file, its clients, and live server processes."""

import itertools
import shutil

import pytest

from im import create_app
from im.extensions import db
from im.realtime import sweeper
from tests.support.server import FAST_HASH, LiveServer

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A SQLite file the migrations have run on once; each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    template_app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
    with template_app.app_context():
        db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, migrated_sqlite):
    shutil.copyfile(migrated_sqlite, tmp_path / "test.sqlite3")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
            "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
            "IM_ADMIN_SECRET": "admin-secret",
            # The copy is at the newest migration already; checking costs a parse of every migration
            # script, per test (test_migrations covers start-up migrating).
            "IM_AUTO_MIGRATE": False,
            "IM_CHECK_EVENTS": True,  # every published payload is validated against im.event_types
            "TESTING": True,
        }
    )
    yield app
    sweeper.stop(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """Calls operations over REST the way a client does, with users made on demand."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def call(self, name, payload=None, token=None, **headers):
        if token:
            headers["token"] = token
        resp = self.client.post(f"/api/{name}", json=payload if payload is not None else {}, headers=headers)
        assert resp.status_code < 500, resp.get_data(as_text=True)
        return resp

    def ok(self, name, payload=None, token=None):
        resp = self.call(name, payload, token)
        body = resp.get_json()
        assert body["errCode"] == 0, body
        return body["data"]

    def user(self, user_id=None, platform_id=5, password="password123"):
        """Register a user and log in; returns (user_id, token)."""
        user_id = user_id or f"user{next(_ids)}"
        self.ok("register", {"user_id": user_id, "password": password, "nickname": user_id.title()})
        return user_id, self.login(user_id, platform_id, password)

    def login(self, user_id, platform_id=5, password="password123"):
        return self.ok("login", {"user_id": user_id, "password": password, "platform_id": platform_id})["token"]

    def socket(self, token):
        return self.app.extensions["socketio"].test_client(self.app, auth={"token": token})


@pytest.fixture
def api(app, client):
    return Api(app, client)


@pytest.fixture
def live_server(tmp_path, migrated_sqlite):
    """Start real server processes; every one is stopped at the end of the test."""
    started = []

    def start(env=None, workdir=None):
        server = LiveServer(workdir or tmp_path / f"srv{len(started)}", env, template=migrated_sqlite).start()
        started.append(server)
        return server

    yield start
    _stop_all(started)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, migrated_sqlite):
    """Server processes shared by a module's tests, one per environment, stopped when the module
    ends: for tests whose users are their own and that need no fresh database, so that each does not
    pay a process start (about 3 s on a loaded 2-core machine)."""
    servers: dict[tuple, LiveServer] = {}

    def get(env=None):
        key = tuple(sorted((env or {}).items()))
        server = servers.get(key)
        if server is None or server.proc.poll() is not None:
            server = servers[key] = LiveServer(tmp_path_factory.mktemp("shared"), env, template=migrated_sqlite).start()
        return server

    yield get
    _stop_all(servers.values())


def _stop_all(servers) -> None:
    """Signal every server first: each shuts down gracefully (about a second) at the same time."""
    servers = list(servers)
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.terminate()
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def _no_sweeper_outlives_its_test():
    """A test's apps are gone after it: their sweepers must not go on reaching their databases."""
    yield
    sweeper.stop_all()
