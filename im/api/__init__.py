"""REST transport: POST /api/<operation> with a JSON object; answers the errCode envelope."""

import hmac

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import UserMixin, current_user
from werkzeug.exceptions import HTTPException

from .. import errors
from ..extensions import db, login_manager
from ..operations import Caller, execute, runner
from ..services import auth

bp = Blueprint("api", __name__, url_prefix="/api")


class SessionUser(UserMixin):
    """Flask-Login's user for a request: the login session behind the presented token."""

    def __init__(self, caller: Caller):
        self.caller = caller

    def get_id(self):
        return str(self.caller.session_id)


def request_token(*others) -> str | None:
    """The token from the `token` header (OpenIM's) or `Authorization: Bearer` (or `others`);
    TokenAmbiguous when two of them disagree."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else None
    return auth.one_token(request.headers.get("token"), bearer, *others)


@login_manager.request_loader
def load_user_from_token(req):
    try:
        token = request_token()
        if token is None:
            return None
        with runner.reading() as ctx:
            session = auth.resolve_token(ctx, token)
            caller = Caller(session.user_id, session.id, session.platform_id)
    except errors.IMError as exc:
        g.token_error = exc
        return None
    return SessionUser(caller)


def admin_secret_ok() -> bool:
    configured: str = current_app.config.get("IM_ADMIN_SECRET") or ""
    given = request.headers.get("X-IM-Admin-Secret", "")
    return bool(configured) and hmac.compare_digest(configured.encode(), given.encode())


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of every operation, generated from the declarations."""
    from ..openapi import build_openapi

    return jsonify(build_openapi())


@bp.post("/<name>")
def call_operation(name: str):
    """One route for every operation; the body is the operation's parameter object."""
    payload: object = {}
    if request.get_data(cache=True):
        try:
            payload = request.get_json(silent=True)
        except RecursionError:
            return envelope_response(errors.InvalidParams("body is nested too deeply"))
        if payload is None:
            return envelope_response(errors.InvalidParams("body is not valid JSON"))
    caller = current_user.caller if current_user.is_authenticated else None
    body, status = execute(
        name, payload, caller, admin=admin_secret_ok(), auth_error=g.get("token_error"), address=request.remote_addr
    )
    return jsonify(body), status


def envelope_response(exc: errors.IMError):
    return jsonify(exc.envelope()), exc.http_status


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Framework-level errors (404, 405, 413 ...) in the same envelope, never an HTML page."""
    if exc.code == 413:
        return envelope_response(errors.PayloadTooLarge())
    if exc.code == 404 and not request.path.startswith("/api/"):
        return exc
    # Every exception Flask routes here has a code; an HTTPException raised bare would be a bug of ours.
    status = exc.code if exc.code is not None else 500
    body = {"errCode": 1001 if status < 500 else 500, "errMsg": exc.description or exc.name, "data": None}
    # The exception's own headers (a 405's Allow, RFC 9110), all but the HTML body's content type.
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return jsonify(body), status, headers


@bp.teardown_app_request
def _rollback_unfinished(exc):
    if exc is not None:
        db.session.rollback()


from . import files  # noqa: E402,F401  (the upload routes' blueprint)
