"""Configuration: one place that reads IM_* and DATABASE_URL from the environment."""

import os
import secrets
from pathlib import Path

from .ratelimit import limits_from_env

POLICIES = (0, 1, 4, 5)
ASYNC_MODES = ("gevent", "eventlet", "threading")


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def cors_origins(value: str | None):
    """IM_CORS_ORIGINS: unset or empty means same origin only; "*" any origin; else a comma-separated list."""
    origins = [o.strip().rstrip("/") for o in (value or "").split(",") if o.strip()]
    if not origins:
        return None
    return "*" if "*" in origins else origins


def load_config(instance_path: str, env=None) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ if env is None else env
    default_db = "sqlite:///" + str(Path(instance_path) / "im.sqlite3")
    config = {
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or default_db,
        "IM_ADMIN_SECRET": env.get("IM_ADMIN_SECRET") or None,
        "IM_TOKEN_TTL": int(env.get("IM_TOKEN_TTL", 7776000)),
        "IM_MULTI_LOGIN_POLICY": int(env.get("IM_MULTI_LOGIN_POLICY", 1)),
        "IM_ASYNC_MODE": env.get("IM_ASYNC_MODE", "gevent"),
        "IM_MESSAGE_QUEUE": env.get("IM_MESSAGE_QUEUE") or None,
        # Redis pub/sub channels ignore the database number: deployments sharing a Redis need their own.
        "IM_MESSAGE_QUEUE_CHANNEL": env.get("IM_MESSAGE_QUEUE_CHANNEL") or "flask-socketio",
        "IM_SWEEP_INTERVAL": float(env.get("IM_SWEEP_INTERVAL", 1.0)),
        "IM_NODE_TIMEOUT": float(env.get("IM_NODE_TIMEOUT", 30)),
        # An event is kept IM_EVENT_RETENTION_DAYS (a terminal offline that long catches up event by
        # event), and at most the newest IM_EVENT_RETENTION of a user (what a flood can make one log cost).
        "IM_EVENT_RETENTION_DAYS": float(env.get("IM_EVENT_RETENTION_DAYS", 14)),
        "IM_EVENT_RETENTION": int(env.get("IM_EVENT_RETENTION", 50000)),
        "IM_FRIEND_VERIFY": _bool(env.get("IM_FRIEND_VERIFY", "false")),
        # Concurrent socket sends share one transaction (im/group_commit.py); each is acked after it.
        "IM_GROUP_COMMIT": _bool(env.get("IM_GROUP_COMMIT", "true")),
        # Bring the schema to the newest migration at start-up; off when an operator runs `flask db upgrade`.
        "IM_AUTO_MIGRATE": _bool(env.get("IM_AUTO_MIGRATE", "true")),
        # Reverse proxies in front of each node (nginx: 1): client address from X-Forwarded-For.
        "IM_PROXY_COUNT": int(env.get("IM_PROXY_COUNT", 0)),
        "IM_FRIEND_LIMIT": int(env.get("IM_FRIEND_LIMIT", 3000)),
        "IM_CORS_ORIGINS": cors_origins(env.get("IM_CORS_ORIGINS")),
        "IM_MAX_CONNECTIONS": int(env.get("IM_MAX_CONNECTIONS", 20000)),
        "IM_WEBSOCKET_COMPRESSION": _bool(env.get("IM_WEBSOCKET_COMPRESSION", "false")),
        # Slow and unauthenticated connections: seconds to send a request head; seconds from the
        # Engine.IO handshake to an accepted Socket.IO CONNECT; how many may wait so per address (0: off).
        "IM_HEADER_TIMEOUT": float(env.get("IM_HEADER_TIMEOUT", 10)),
        "IM_HANDSHAKE_TIMEOUT": float(env.get("IM_HANDSHAKE_TIMEOUT", 10)),
        "IM_MAX_UNAUTHENTICATED_PER_ADDRESS": int(env.get("IM_MAX_UNAUTHENTICATED_PER_ADDRESS", 256)),
        # Engine.IO heartbeat: a ping every interval; a socket silent for interval + timeout is closed.
        "IM_PING_INTERVAL": int(env.get("IM_PING_INTERVAL", 25)),
        "IM_PING_TIMEOUT": int(env.get("IM_PING_TIMEOUT", 20)),
        "IM_GROUP_MAX_MEMBERS": int(env.get("IM_GROUP_MAX_MEMBERS", 2000)),
        "IM_REVOKE_SECONDS": int(env.get("IM_REVOKE_SECONDS", 120)),
        # Pushes of the total unread count wait this long, so that a burst costs one total per user.
        "IM_UNREAD_PUSH_DELAY": float(env.get("IM_UNREAD_PUSH_DELAY", 0.5)),
        "IM_UPLOAD_MAX_BYTES": int(env.get("IM_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)),
        "IM_UPLOAD_DIR": env.get("IM_UPLOAD_DIR") or None,
        # What one user's stored uploads may add up to, and how long an upload no message carries is kept.
        "IM_UPLOAD_QUOTA_BYTES": int(env.get("IM_UPLOAD_QUOTA_BYTES", 1024 * 1024 * 1024)),
        "IM_UPLOAD_ORPHAN_SECONDS": int(env.get("IM_UPLOAD_ORPHAN_SECONDS", 86400)),
        # A page of messages or events stops before passing this many bytes (at least one item).
        "IM_MAX_ANSWER_BYTES": int(env.get("IM_MAX_ANSWER_BYTES", 1024 * 1024)),
        # Events of one socket running at once, and waiting beyond those (more are refused with 1008).
        "IM_SOCKET_EVENT_CONCURRENCY": int(env.get("IM_SOCKET_EVENT_CONCURRENCY", 8)),
        "IM_SOCKET_EVENT_BACKLOG": int(env.get("IM_SOCKET_EVENT_BACKLOG", 256)),
        "IM_RATE_LIMITS_ENABLED": _bool(env.get("IM_RATE_LIMITS_ENABLED", "true")),
        "IM_RATE_LIMITS": limits_from_env(env),
        # argon2 cost; tests lower it so that hundreds of sign-ups stay fast.
        # Validate every payload a transaction is about to tell against im/event_types.py (tests turn it on).
        "IM_CHECK_EVENTS": _bool(env.get("IM_CHECK_EVENTS", "false")),
        "IM_ARGON2_TIME_COST": int(env.get("IM_ARGON2_TIME_COST", 2)),
        "IM_ARGON2_MEMORY_KIB": int(env.get("IM_ARGON2_MEMORY_KIB", 19456)),
    }
    if config["IM_MULTI_LOGIN_POLICY"] not in POLICIES:
        raise ValueError(f"IM_MULTI_LOGIN_POLICY must be one of {POLICIES}")
    if config["IM_ASYNC_MODE"] not in ASYNC_MODES:
        raise ValueError(f"IM_ASYNC_MODE must be one of {ASYNC_MODES}")
    config["SECRET_KEY"] = _secret_key(instance_path)
    return config
