"""The IM server's application factory."""

import logging
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logfilters, ratelimit
from .config import load_config
from .extensions import db, login_manager, migrate, socketio
from .security import add_cors_headers, add_security_headers

MAX_REQUEST_BYTES = 1024 * 1024
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers run beside the writer; busy_timeout waits for the lock instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _without_websocket_compression(wsgi_app):
    """Decline permessage-deflate: the WebSocket handshake goes on as if the client had not offered it.

    A compressing WebSocket keeps a zlib compressor and decompressor per connection for its whole life,
    most of the resident memory of an idle socket (make bench, connections scenario), and deflates
    every frame: each of a group's 500 copies of a message was compressed on its own. IM frames are
    small JSON; sent as they are, they cost less CPU than deflating them saves in bytes.
    """

    def app(environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config from the environment (or test_config), extensions, blueprints, handlers."""
    app = Flask(
        __name__.split(".")[0],
        instance_relative_config=True,
        root_path=_project_root(),
        static_folder="static",
        template_folder="templates",
    )
    app.config.update(load_config(app.instance_path))
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["IM_NODE_ID"] = uuid.uuid4().hex
    if test_config:
        app.config.update(test_config)
    if app.instance_path:
        _ensure_dir(app.instance_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logfilters.install()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    login_manager.init_app(app)
    ratelimit.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config.get("IM_SOCKETIO_ASYNC_MODE", app.config["IM_ASYNC_MODE"]),
        message_queue=app.config["IM_MESSAGE_QUEUE"],
        channel=app.config["IM_MESSAGE_QUEUE_CHANNEL"],
        cors_allowed_origins=app.config.get("IM_CORS_ORIGINS"),
        max_http_buffer_size=MAX_REQUEST_BYTES,
        manage_session=False,
        ping_interval=app.config["IM_PING_INTERVAL"],
        ping_timeout=app.config["IM_PING_TIMEOUT"],
    )
    from .realtime import handshake

    handshake.install(
        socketio.server.eio, app.config["IM_HANDSHAKE_TIMEOUT"], app.config["IM_MAX_UNAUTHENTICATED_PER_ADDRESS"]
    )
    if socketio.server.eio.async_mode == "gevent":
        from . import websocket

        websocket.install(socketio.server.eio)
    if app.config["IM_PROXY_COUNT"]:
        # Outside Socket.IO's middleware so that socket connects see the client's address too.
        hops = app.config["IM_PROXY_COUNT"]
        # Flask's documented way to wrap its WSGI app in middleware
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    if not app.config["IM_WEBSOCKET_COMPRESSION"]:
        app.wsgi_app = _without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]

    # importing declares the models and operations
    from . import api, cli, models, operations, realtime, schema, views  # noqa: F401

    app.register_blueprint(api.bp)
    app.register_blueprint(api.files.bp)
    app.register_blueprint(views.bp)
    app.after_request(add_security_headers)
    app.after_request(add_cors_headers)
    realtime.register_handlers()
    cli.init_app(app)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
            db.engine.dispose()
        if app.config["IM_AUTO_MIGRATE"]:
            schema.upgrade_to_head()
    return app


def _project_root() -> str:
    return str(Path(__file__).resolve().parent.parent)


def _ensure_dir(path: str) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)
