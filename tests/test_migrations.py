"""The schema comes from the migrations, and they build exactly what the models declare."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from im import create_app, schema
from im.extensions import db


def _app(path, **config):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "IM_SOCKETIO_ASYNC_MODE": "threading",
                       "TESTING": True, **config})


def _differences(app):
    with app.app_context(), db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), db.metadata)


def test_fresh_sqlite_is_migrated_to_exactly_the_models(tmp_path):
    app = _app(tmp_path / "fresh.sqlite3")
    assert _differences(app) == []
    with app.app_context():
        assert schema.is_at_head(schema.alembic_config())


def test_no_schema_without_auto_migrate(tmp_path):
    app = _app(tmp_path / "manual.sqlite3", IM_AUTO_MIGRATE=False)
    with app.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []


def test_database_made_by_create_all_is_adopted(tmp_path):
    """A database from before the migrations is stamped, upgraded, and keeps its rows."""
    path = tmp_path / "legacy.sqlite3"
    legacy = _app(path, IM_AUTO_MIGRATE=False)
    with legacy.app_context():
        tables = [t for t in db.metadata.sorted_tables
                  if t.name in _first_revision_tables(tmp_path)]
        db.metadata.create_all(db.engine, tables=tables)
        db.session.execute(text("INSERT INTO users (user_id, password_hash, nickname, face_url, event_seq, "
                                "created_at, updated_at) VALUES ('old', 'x', 'Old', '', 3, "
                                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        db.session.commit()
        db.engine.dispose()
    app = _app(path)
    assert _differences(app) == []
    with app.app_context():
        assert db.session.execute(text("SELECT event_seq FROM users WHERE user_id = 'old'")).scalar() == 3
        db.session.remove()
        db.engine.dispose()


def test_database_made_by_create_all_with_every_table_is_current(tmp_path):
    path = tmp_path / "legacy-full.sqlite3"
    legacy = _app(path, IM_AUTO_MIGRATE=False)
    with legacy.app_context():
        db.create_all()
        db.engine.dispose()
    app = _app(path)
    assert _differences(app) == []
    with app.app_context():
        assert schema.is_at_head(schema.alembic_config())
        db.engine.dispose()


def _first_revision_tables(tmp_path) -> set[str]:
    """The tables the first migration creates, read from a database upgraded only that far."""
    from flask_migrate import upgrade

    app = _app(tmp_path / "first.sqlite3", IM_AUTO_MIGRATE=False)
    with app.app_context():
        upgrade(revision=schema.FIRST_REVISION)
        db.engine.dispose()
    engine = create_engine(f"sqlite:///{tmp_path / 'first.sqlite3'}")
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
