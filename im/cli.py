"""Operator commands: `flask --app im backup FILE` and `flask --app im restore FILE` (SQLite)."""

import sqlite3
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db


def _sqlite_path() -> str:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise click.UsageError("backup/restore work on a SQLite file; use pg_dump/pg_restore for PostgreSQL")
    return url.database


def copy_database(source: str, target: str) -> int:
    """Copy with SQLite's online backup API: consistent while the server keeps writing."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        with dst:
            src.backup(dst, pages=256)
        return dst.execute("PRAGMA page_count").fetchone()[0]
    finally:
        src.close()
        dst.close()


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(target):
    """Write a consistent copy of the live SQLite database to TARGET."""
    if Path(target).exists():
        raise click.UsageError(f"{target} exists; choose a new file")
    pages = copy_database(_sqlite_path(), target)
    click.echo(f"backed up {pages} pages to {target}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def restore_command(source, yes):
    """Replace the database's content with the backup in SOURCE (the server may keep running)."""
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.UsageError(f"{source} is not a sound SQLite database")
    finally:
        check.close()
    target = _sqlite_path()
    if not yes:
        click.confirm(f"Replace everything in {target} with {source}?", abort=True)
    db.engine.dispose()
    pages = copy_database(source, target)
    current_app.logger.info("restored %s into %s", source, target)
    click.echo(f"restored {pages} pages from {source}")


def init_app(app) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
