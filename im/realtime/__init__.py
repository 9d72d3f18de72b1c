"""Socket.IO transport: authenticate once at connect, then one event per operation with an ack."""
import logging

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room

from .. import errors, group_commit, push, ratelimit
from ..extensions import db, socketio
from ..operations import OPERATIONS, Caller, execute
from ..services import auth, presence
from . import sweeper

log = logging.getLogger(__name__)


def _token_from(auth_data):
    if isinstance(auth_data, dict) and auth_data.get("token"):
        return auth_data["token"]
    return request.args.get("token")


def on_connect(auth_data=None):
    """Refuse a bad token with its code; otherwise join the user's and the session's rooms."""
    node_id = current_app.config["IM_NODE_ID"]
    try:
        ratelimit.hit("connect_address", request.remote_addr)
        session = presence.connect(request.sid, _token_from(auth_data), node_id)
    except errors.IMError as exc:
        db.session.rollback()
        raise ConnectionRefusedError(exc.message, exc.envelope())
    join_room(push.user_room(session.user_id))
    join_room(push.session_room(session.id))
    sweeper.ensure_started(current_app._get_current_object())


def on_disconnect(reason=None):
    try:
        presence.disconnect(request.sid)
    except Exception:
        db.session.rollback()
        log.exception("could not forget socket %s", request.sid)


def _live_caller() -> tuple[Caller | None, errors.IMError | None]:
    """The socket's caller, re-checked: a revoked or expired session may not act any more."""
    session = presence.session_row(request.sid)
    if session is None:
        return None, errors.TokenMissing()
    try:
        auth.check_session_live(session)
    except errors.IMError as exc:
        return None, exc
    return Caller(session.user_id, session.id, session.platform_id), None


def _operation_handler(name: str):
    batchable = OPERATIONS[name].group_commit

    def handle(*args):
        if len(args) > 1:
            return errors.InvalidParams("send one JSON object").envelope()
        if batchable and current_app.config["IM_GROUP_COMMIT"]:
            return group_commit.writer_for(current_app._get_current_object()).call(
                name, args[0] if args else None, request.sid, request.remote_addr)
        caller, auth_error = _live_caller()
        body, _status = execute(name, args[0] if args else None, caller, transport="socket",
                                auth_error=auth_error, address=request.remote_addr)
        db.session.remove()
        return body

    handle.__name__ = f"on_{name}"
    return handle


def on_unknown_event(event, *args):
    return errors.UnknownOperation(f"unknown event: {event}").envelope()


def register_handlers() -> None:
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    for op in OPERATIONS.values():
        if not op.rest_only:
            socketio.on_event(op.name, _operation_handler(op.name))
    socketio.on_event("*", on_unknown_event)
