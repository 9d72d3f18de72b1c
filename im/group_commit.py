"""Group commit: concurrent socket calls of an operation share one transaction; each is acked after it.

Every send costs SQLAlchemy and the database a transaction (begin, commit, the connection's trip
through the pool) and a look-up of the caller's login session. Under load many sends wait at once, so
one writer task per process takes every call waiting when it is free, checks all their sessions in one
query, runs the calls in one transaction (im.operations.runner) and commits once. Each caller gets its
answer only after that commit: acked still means committed, and emits still follow the commit. There
is no timer: on an idle server a call runs at once, alone; batches form only while the writer is busy
with the previous one.

An operation may declare a batch runner (`@batch_runner(name)`), which writes many calls with a few
statements in all (sends: `message_send.send_messages`, the one send implementation); every call it
leaves runs alone in a SAVEPOINT of its own, so that its error undoes its own writes and nothing else.
Operations opt in with `@operation(..., group_commit=True)`.
"""

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from . import errors
from .extensions import db, socketio

if TYPE_CHECKING:
    from .operations.registry import Caller, Operation
    from .services.context import Context

log = logging.getLogger(__name__)
MAX_BATCH = 256
_WRITER = "im_group_commit_writer"  # the process's writer, in the app's extensions


class _Call:
    __slots__ = ("name", "payload", "sid", "address", "done", "body")

    def __init__(self, name, payload, sid, address):
        self.name, self.payload, self.sid, self.address = name, payload, sid, address
        self.done = socketio.server.eio.create_event()
        self.body = None


class Writer:
    """One per process and app: a queue of calls and the task that runs them in batches."""

    def __init__(self, app):
        self.app = app
        self.queue = socketio.server.eio.create_queue()
        self.empty = socketio.server.eio.get_queue_empty_exception()
        socketio.start_background_task(self._run)

    def call(self, name: str, payload, sid: str, address: str | None) -> dict:
        """Queue a call from socket `sid` and wait for its envelope, given after its commit."""
        call = _Call(name, payload, sid, address)
        self.queue.put(call)
        call.done.wait()
        return call.body

    def _take(self) -> list[_Call]:
        calls = [self.queue.get()]
        while len(calls) < MAX_BATCH:
            try:
                calls.append(self.queue.get_nowait())
            except self.empty:
                break
        return calls

    def _run(self) -> None:
        while True:
            calls = self._take()
            try:
                with self.app.app_context():
                    try:
                        _run_batch(calls)
                    finally:
                        db.session.remove()
            except Exception:
                # Nothing of the batch was written (its commit included): no call may say it was.
                log.exception("group commit of %d calls failed", len(calls))
                for call in calls:
                    if call.body is not None and call.body.get("errCode") == 0:
                        call.body = None
            finally:
                # Every caller gets an answer, and the writer lives on for the next batch.
                for call in calls:
                    if call.body is None:
                        call.body = errors.IMError().envelope()
                    call.done.set()


def _run_batch(calls: list[_Call]) -> None:
    from .operations import runner
    from .operations.registry import ALONE, BATCH_RUNNERS, live_caller, ok, prepare
    from .services import presence

    with runner.transaction() as ctx:
        rows = presence.session_rows(ctx, [c.sid for c in calls])
        ready = []
        for call in calls:
            caller, auth_error = live_caller(rows.get(call.sid))
            try:
                op, params = prepare(
                    call.name, call.payload, caller, transport="socket", auth_error=auth_error, address=call.address
                )
            except errors.IMError as exc:
                call.body = exc.envelope()
                continue
            ready.append((call, op, caller, params))
        answers: list = [ALONE] * len(ready)
        for name, batch in BATCH_RUNNERS.items():
            mine = [n for n, (_call, op, _caller, _params) in enumerate(ready) if op.name == name]
            if mine:
                # Operations with a batch runner need a caller: prepare() refused those without one.
                theirs = [(cast("Caller", ready[n][2]), ready[n][3]) for n in mine]
                for n, answer in zip(mine, batch(ctx, theirs)):
                    answers[n] = answer
        for (call, op, caller, params), answer in zip(ready, answers):
            if answer is ALONE:
                answer = runner.answer(ctx, _alone(op, caller, params))
            call.body = answer.envelope() if isinstance(answer, errors.IMError) else ok(answer)


def _alone(op: "Operation", caller: "Caller | None", params: Any) -> Callable[["Context"], Any]:
    """The call run alone, as runner.answer takes it."""
    return lambda ctx: op.run(ctx, caller, params)


def writer_for(app) -> Writer:
    """The app's writer in this process, started on first use."""
    writer = app.extensions.get(_WRITER)
    if writer is None:
        with _writers_lock:
            writer = app.extensions.get(_WRITER)
            if writer is None:
                writer = app.extensions[_WRITER] = Writer(app)
    return writer


_writers_lock = threading.Lock()
