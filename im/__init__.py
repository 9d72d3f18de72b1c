"""The IM server's application factory."""
import logging
import uuid

from flask import Flask
from sqlalchemy import event

from . import logfilters, ratelimit
from .config import load_config
from .extensions import db, login_manager, socketio
from .security import add_cors_headers, add_security_headers

MAX_REQUEST_BYTES = 1024 * 1024


def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers run beside the writer; busy_timeout waits for the lock instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config from the environment (or test_config), extensions, blueprints, handlers."""
    app = Flask(__name__.split(".")[0], instance_relative_config=True,
                root_path=_project_root(), static_folder="static", template_folder="templates")
    app.config.update(load_config(app.instance_path))
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["IM_NODE_ID"] = uuid.uuid4().hex
    if test_config:
        app.config.update(test_config)
    app.instance_path and _ensure_dir(app.instance_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logfilters.install()

    db.init_app(app)
    login_manager.init_app(app)
    ratelimit.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config.get("IM_SOCKETIO_ASYNC_MODE", app.config["IM_ASYNC_MODE"]),
        message_queue=app.config["IM_MESSAGE_QUEUE"],
        cors_allowed_origins=app.config.get("IM_CORS_ORIGINS"),
        max_http_buffer_size=MAX_REQUEST_BYTES,
        manage_session=False,
        ping_interval=app.config.get("IM_PING_INTERVAL", 25),
        ping_timeout=app.config.get("IM_PING_TIMEOUT", 20),
    )

    from . import api, cli, models, operations, realtime, views  # noqa: F401  (declares models and operations)

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
        db.create_all()
    return app


def _project_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)


def _ensure_dir(path: str) -> None:
    from pathlib import Path

    Path(path).mkdir(parents=True, exist_ok=True)
