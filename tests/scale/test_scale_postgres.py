"""PostgreSQL under the green-thread servers, and the migrations on PostgreSQL."""

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from im import create_app, schema
from im.extensions import db
from tests.support.server import FAST_HASH, ROOT


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_database_waits_yield_to_other_green_threads(pg_url, mode):
    """Eight 0.5 s queries at once take ~0.5 s, not 4 s: psycopg never blocks the event loop.

    The bound is half the serial time, not a little over one query's: a blocking driver cannot pass
    it, and a loaded machine's slower start of eight connections does not fail it.
    """
    env = {
        **os.environ,
        **FAST_HASH,
        "IM_ASYNC_MODE": mode,
        "DATABASE_URL": pg_url,
        "SECRET_KEY": "test-secret",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    count, seconds = 8, 0.5
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.green_probe", str(count), str(seconds)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    elapsed = float(out.stdout.split("elapsed")[-1])
    measured = f"{mode}: {count} concurrent {seconds} s queries took {elapsed:.2f} s"
    print(measured)
    assert seconds <= elapsed < count * seconds / 2, measured


def _pg_app(url, **config):
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "IM_SOCKETIO_ASYNC_MODE": "threading", "TESTING": True, **config}
    )


def _schema_diff(conn):
    """What the models declare and the database lacks or has beyond them (the search index aside)."""
    return compare_metadata(
        MigrationContext.configure(conn, opts={"include_object": schema.include_object}), db.metadata
    )


def test_migrations_build_exactly_the_models_on_postgres(pg_url):
    app = _pg_app(pg_url)
    with app.app_context():
        with db.engine.connect() as conn:
            assert _schema_diff(conn) == []
            assert "alembic_version" in inspect(conn).get_table_names()
        db.engine.dispose()


def test_migrations_downgrade_and_upgrade_again_on_postgres(pg_url):
    from flask_migrate import downgrade, upgrade

    app = _pg_app(pg_url)
    with app.app_context():
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        upgrade()
        with db.engine.connect() as conn:
            assert _schema_diff(conn) == []
        db.engine.dispose()
