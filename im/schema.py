"""The schema belongs to the Alembic migrations in migrations/: bring a database to the newest one."""

import logging
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import inspect, text

from .extensions import db

log = logging.getLogger(__name__)

# The revision whose tables a database made by db.create_all(), before there were migrations, holds.
FIRST_REVISION = "0001_foundation"
# The newest revision whose schema db.create_all() makes whole; later ones add what the models do not
# declare (the search index), so a database made by create_all() is stamped here and upgraded on.
LAST_MODELS_ONLY_REVISION = "0004_group_left_mutes"
# pg_advisory_lock key: nodes starting together must not run the same migration twice.
MIGRATION_LOCK_KEY = 7_291_031_001


def alembic_config() -> Config:
    return current_app.extensions["migrate"].migrate.get_config()


@contextmanager
def migration_lock():
    """Serialise migrations across processes (PostgreSQL); SQLite has one writer anyway."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()


def include_object(_obj, name, type_, _reflected, _compare_to) -> bool:
    """Autogenerate leaves alone the search index (0005_search_index), which no model declares."""
    if type_ == "table":
        return not name.startswith("messages_fts")
    return not (type_ == "index" and name == "ix_messages_search_trgm")


def is_at_head(config: Config) -> bool:
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(ScriptDirectory.from_config(config).get_heads())


def upgrade_to_head() -> None:
    """Apply every migration not yet applied (what `flask db upgrade` does), safely from any node."""
    config = alembic_config()
    if is_at_head(config):
        return
    with migration_lock():
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        if "users" in tables and "alembic_version" not in tables:
            # made by db.create_all() before there were migrations: with every table already there
            # it is current, otherwise it holds what the first revision creates
            revision = LAST_MODELS_ONLY_REVISION if set(db.metadata.tables) <= tables else FIRST_REVISION
            log.info("database made before migrations: marking it as %s", revision)
            command.stamp(config, revision)
        command.upgrade(config, "head")
