"""The one owner of the transaction: it opens it, runs actions in it, commits once, then tells.

Synapse's runInteraction and Zulip's transaction.atomic actions are the model. Every change to the
database goes through `transaction()` (operations, socket connect and disconnect, the sweeper, the
file routes): the actions it runs get an explicit Context, never commit, and put what to emit in the
context's outbox, which im.push delivers only after the commit succeeded.

A batch (im.group_commit: concurrent socket sends) is one transaction too. Each call that may fail
alone runs inside a SAVEPOINT of its own (`call_alone`, `savepoint`), with an outbox of its own that
joins the batch's only if the call succeeded; so one call's error undoes that call's writes and
nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import current_app
from sqlalchemy.orm import Session

from .. import errors, event_types, push
from ..extensions import db
from ..services.context import Context, Settings

T = TypeVar("T")
log = logging.getLogger(__name__)


def context() -> Context:
    """A context over the app context's database session, with the app's current settings."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Context(db.session(), Settings.from_config(app.config, app.instance_path), savepoint)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """Undo the block's writes if it raises, keeping the transaction's earlier writes.

    On SQLite, before the transaction's first write there is nothing earlier to keep: the driver has
    not begun the transaction yet, so the transaction itself serves, rolled back if the block fails.
    That spares a SAVEPOINT per batch of sends, which costs more than it seems: FTS5 flushes its
    pending index entries at every savepoint boundary. (A SAVEPOINT issued there would also be the
    outermost transaction, and its RELEASE a commit.) Once something is written, and on PostgreSQL,
    it is a real SAVEPOINT.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        if raw is not None and not raw.in_transaction:
            try:
                yield
            except BaseException:
                session.rollback()
                raise
            return
    with session.begin_nested():
        yield


@contextmanager
def transaction() -> Iterator[Context]:
    """Run the block's actions in one transaction: commit and deliver the outbox, or roll back and
    drop it (the exception goes on)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ctx = context()
    try:
        yield ctx
        if ctx.settings.check_events:
            _check_payloads(ctx)
        ctx.session.commit()
    except BaseException:
        ctx.session.rollback()
        raise
    push.deliver(ctx.outbox, app)


def _check_payloads(ctx: Context) -> None:
    """Every payload the outbox holds fits its declaration in im.event_types (raises before the commit)."""
    for kind, _target, name, payload in ctx.outbox.items:
        if kind != "disconnect" and name is not None:
            event_types.check(name, payload)


@contextmanager
def reading() -> Iterator[Context]:
    """A context for reads only: the transaction is ended (rolled back) after the block, and anything
    put in the outbox is dropped (SQLite: no snapshot is held past the block)."""
    ctx = context()
    try:
        yield ctx
    finally:
        ctx.session.rollback()


def call_alone(ctx: Context, action: Callable[[Context], T]) -> T:
    """Run one call of a batch in a SAVEPOINT: on an error its writes and its outbox are undone (the
    error goes on to the caller); on success its outbox joins the batch's."""
    child = ctx.savepoint_child()
    with ctx.savepoint():
        result = action(child)
    ctx.outbox.absorb(child.outbox)
    return result


def answer(ctx: Context, action: Callable[[Context], T]) -> T | errors.IMError:
    """`call_alone`, with its error given back as the call's answer instead of raised: an IMError as
    it is, anything else logged and answered as an internal error (the other calls go on)."""
    try:
        return call_alone(ctx, action)
    except errors.IMError as exc:
        return exc
    except Exception:
        log.exception("a call of a batch failed; its writes are undone")
        return errors.IMError()
