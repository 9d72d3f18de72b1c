"""Real PostgreSQL, Redis and nginx for the scale-out tests: found, or skipped (failed under CI=true)."""

import os
import secrets
import shutil
from contextlib import contextmanager

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

# Where the tests may create databases and publish; override to point at other servers.
POSTGRES_ADMIN_URL = os.environ.get("IM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("IM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(problem: str | None, what: str) -> None:
    """Skip with the reason locally; under CI=true a missing service fails the test instead."""
    if problem is None:
        return
    message = f"{what} is not available: {problem}"
    if in_ci():
        pytest.fail(message + " (CI=true: the scale-out tests must run)", pytrace=False)
    pytest.skip(message)


def _admin_conninfo() -> str:
    return make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_problem() -> str | None:
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


@contextmanager
def fresh_postgres_database():
    """A new, empty database with a random name; dropped afterwards (connections and all)."""
    name = "im_test_" + secrets.token_hex(6)
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
