"""Socket.IO transport: authenticate once at connect, then one event per operation with an ack."""

import logging

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room

from .. import errors, group_commit, push, ratelimit
from ..extensions import db, socketio
from ..operations import OPERATIONS, execute, runner
from ..operations.registry import live_caller
from ..services import auth, presence
from . import dispatch, handshake, sweeper

log = logging.getLogger(__name__)


def _token_from(auth_data):
    """The auth object's token or the URL's `?token=`; two that disagree are refused (1508)."""
    given = auth_data.get("token") if isinstance(auth_data, dict) else None
    return auth.one_token(given, request.args.get("token"))


def on_connect(auth_data=None):
    """Refuse a bad token with its code; otherwise join the user's and the session's rooms."""
    node_id = current_app.config["IM_NODE_ID"]
    try:
        ratelimit.hit("connect_address", request.remote_addr)
        with runner.transaction() as ctx:
            session = presence.connect(ctx, request.sid, _token_from(auth_data), node_id)
            user_id, session_id = session.user_id, session.id
    except errors.IMError as exc:
        raise ConnectionRefusedError(exc.message, exc.envelope()) from None
    join_room(push.user_room(user_id))
    join_room(push.session_room(session_id))
    handshake.accepted(socketio.server, request.sid)
    dispatch.connected(request.environ, user_id)
    sweeper.ensure_started(current_app._get_current_object())


def on_disconnect(reason=None):
    try:
        with runner.transaction() as ctx:
            presence.disconnect(ctx, request.sid)
    except Exception:
        log.exception("could not forget socket %s", request.sid)


def _run_alone(name: str, payload, sid: str, address: str | None) -> dict:
    """One socket call in a transaction of its own, its caller re-checked: a revoked or expired
    session may not act any more."""
    try:
        caller, auth_error = live_caller(presence.session_row(runner.context(), sid))
        body, _status = execute(name, payload, caller, transport="socket", auth_error=auth_error, address=address)
    finally:
        db.session.remove()
    return body


def _operation_handler(name: str):
    def handle(*args):
        if len(args) > 1:
            return errors.InvalidParams("send one JSON object").envelope()
        return _run_alone(name, args[0] if args else None, request.sid, request.remote_addr)

    handle.__name__ = f"on_{name}"
    return handle


def _group_commit_handler(name: str):
    """A group-commit operation's event, registered on python-socketio itself.

    Flask-SocketIO runs each event inside a Flask request context (about 35 us: binding the URL map,
    opening the cookie session), which these operations never use: the writer runs them in its own
    app context. So the event goes straight to the writer with the socket's id and address.
    """

    def handle(sid, *args):
        environ = socketio.server.get_environ(sid) or {}
        app = environ.get("flask.app")
        if app is None:
            return errors.TokenMissing().envelope()
        if len(args) > 1:
            return errors.InvalidParams("send one JSON object").envelope()
        payload, address = (args[0] if args else None), environ.get("REMOTE_ADDR")
        if app.config["IM_GROUP_COMMIT"]:
            return group_commit.writer_for(app).call(name, payload, sid, address)
        with app.app_context():
            return _run_alone(name, payload, sid, address)

    handle.__name__ = f"on_{name}"
    return handle


def on_unknown_event(event, *args):
    return errors.UnknownOperation(f"unknown event: {event}").envelope()


def register_handlers() -> None:
    """Every event handler, each behind the gate of im/realtime/dispatch.py."""
    dispatch.install(socketio.server)
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    for op in OPERATIONS.values():
        if op.group_commit:
            socketio.server.on(op.name, _group_commit_handler(op.name), namespace="/")
        elif not op.rest_only:
            socketio.on_event(op.name, _operation_handler(op.name))
    socketio.on_event("*", on_unknown_event)
