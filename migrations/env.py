"""Alembic environment: runs inside the app context (Flask-Migrate's `flask db ...` or im.schema)."""

from alembic import context
from flask import current_app
from sqlalchemy import TypeDecorator

from im.schema import include_object

config = context.config
db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def render_item(kind, obj, _autogen_context):
    """Write a model's TypeDecorator as its plain column type, so migrations never import app code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def skip_empty_revision(_context, _revision, directives):
    """`flask db migrate` with no model change writes no empty revision."""
    if config.cmd_opts is not None and getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []


def _options(dialect_name: str) -> dict:
    return {
        "target_metadata": target_metadata,
        "render_item": render_item,
        "compare_type": True,
        # SQLite cannot ALTER most things: let later migrations rebuild tables in batch mode there.
        "render_as_batch": dialect_name == "sqlite",
        "process_revision_directives": skip_empty_revision,
        "include_object": include_object,
    }


def run_migrations_offline() -> None:
    """`flask db upgrade --sql`: print the SQL for a DBA instead of running it."""
    url = db.engine.url
    context.configure(
        url=url.render_as_string(hide_password=False), literal_binds=True, **_options(url.get_backend_name())
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(connection=connection, **_options(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
