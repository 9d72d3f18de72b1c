"""Group commit: concurrent socket calls of an operation share one transaction; each is acked after it.

Every send costs SQLAlchemy and the database a transaction (begin, commit, the connection's trip
through the pool) and a look-up of the caller's login session. Under load many sends wait at once, so
one writer task per process takes every call waiting when it is free, checks all their sessions in one
query, runs the calls one after another in one transaction and commits once. Each caller gets its
answer only after that commit: acked still means committed, and emits still follow the commit
(im.push). There is no timer: on an idle server a call runs at once, alone; batches form only while
the writer is busy with the previous one.

A call refused before it wrote anything (bad content, a blocked recipient) gets its error and the
others go on. If a call fails after it wrote (services call `wrote()` before their first write), or
anything unexpected happens, the whole batch is rolled back and each of its calls runs again alone, in
a transaction of its own, exactly as without group commit.

Operations opt in with `@operation(..., group_commit=True)`; their services end with `commit()`
instead of `db.session.commit()`. An operation may also declare a batch runner
(`@batch_runner(name)`), which writes many calls with a few statements in all (one-to-one sends:
`messages.send_singles`) and leaves the calls it does not take to run alone in the same transaction.
"""

import logging
import threading

from . import errors
from .extensions import db, socketio

log = logging.getLogger(__name__)
MAX_BATCH = 256
_STATE = "im_group_commit"  # the batch's state, in the database session's info
_WRITER = "im_group_commit_writer"  # the process's writer, in the app's extensions
ALONE = object()  # a batch runner's answer for a call it leaves to run alone in the batch


def active() -> bool:
    """True inside a group-commit batch: the writer, not the service, commits."""
    return _STATE in db.session().info


def wrote() -> None:
    """Say that the current call has written: an error from it now undoes the whole batch."""
    state = db.session().info.get(_STATE)
    if state is not None:
        state["wrote"] = True


def commit() -> None:
    """Commit, unless inside a batch (the writer commits it once, after its last call)."""
    if not active():
        db.session.commit()


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
                    except Exception:
                        db.session.rollback()
                        raise
                    finally:
                        db.session.remove()
            except Exception:
                log.exception("group commit of %d calls failed", len(calls))
            finally:
                # Every caller gets an answer, and the writer lives on for the next batch.
                for call in calls:
                    if call.body is None:
                        call.body = errors.IMError().envelope()
                    call.done.set()


def _run_batch(calls: list[_Call]) -> None:
    from .operations.registry import BATCH_RUNNERS, live_caller, ok, prepare, run
    from .services import presence

    rows = presence.session_rows([c.sid for c in calls])
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
    if not ready:
        db.session.rollback()
        return
    state = db.session().info[_STATE] = {"wrote": False}
    try:
        answers = [ALONE] * len(ready)
        for name, runner in BATCH_RUNNERS.items():
            mine = [n for n, (_call, op, _caller, _params) in enumerate(ready) if op.name == name]
            if mine:
                for n, answer in zip(mine, runner([(ready[n][2], ready[n][3]) for n in mine])):
                    answers[n] = answer
        for (call, op, caller, params), answer in zip(ready, answers):
            if answer is not ALONE:
                call.body = answer.envelope() if isinstance(answer, errors.IMError) else ok(answer)
                continue
            state["wrote"] = False
            try:
                call.body = ok(op.run(caller, params))
            except errors.IMError as exc:
                if state["wrote"]:
                    raise
                call.body = exc.envelope()
        db.session.commit()
        return
    except Exception as exc:
        db.session.rollback()
        if not isinstance(exc, errors.IMError):
            log.warning(
                "group commit of %d calls undone (%s: %s); running them one by one", len(ready), type(exc).__name__, exc
            )
    finally:
        db.session().info.pop(_STATE, None)
    for call, op, caller, params in ready:
        call.body, _status = run(op, caller, params)


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
