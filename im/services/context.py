"""What an action runs with: the transaction's database session, typed settings and an event outbox.

The operation runner (im.operations.runner) makes one per transaction, commits it, and only then hands
the outbox to im.push; an action never commits, never reads Flask's app, and never emits by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Settings:
    """The configuration the domain reads (im.config documents each key)."""

    friend_verify: bool = False
    friend_limit: int = 3000
    group_max_members: int = 2000
    revoke_seconds: int = 120
    max_answer_bytes: int = 1024 * 1024
    multi_login_policy: int = 1
    token_ttl: int = 7776000
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    event_retention_days: float = 14
    event_retention: int = 50000
    upload_dir: Path = Path("uploads")
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_quota_bytes: int = 1024 * 1024 * 1024
    upload_orphan_seconds: int = 86400
    # Several processes share one deployment (presence is then read from the database).
    message_queue: bool = False
    # Every payload told is validated against im/event_types.py before the commit (the tests).
    check_events: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str) -> Settings:
        upload_dir = config.get("IM_UPLOAD_DIR")
        return cls(
            friend_verify=bool(config["IM_FRIEND_VERIFY"]),
            friend_limit=config["IM_FRIEND_LIMIT"],
            group_max_members=config["IM_GROUP_MAX_MEMBERS"],
            revoke_seconds=config["IM_REVOKE_SECONDS"],
            max_answer_bytes=config["IM_MAX_ANSWER_BYTES"],
            multi_login_policy=config["IM_MULTI_LOGIN_POLICY"],
            token_ttl=config["IM_TOKEN_TTL"],
            argon2_time_cost=config["IM_ARGON2_TIME_COST"],
            argon2_memory_kib=config["IM_ARGON2_MEMORY_KIB"],
            event_retention_days=config["IM_EVENT_RETENTION_DAYS"],
            event_retention=config["IM_EVENT_RETENTION"],
            upload_dir=Path(upload_dir) if upload_dir else Path(instance_path) / "uploads",
            upload_max_bytes=config["IM_UPLOAD_MAX_BYTES"],
            upload_quota_bytes=config["IM_UPLOAD_QUOTA_BYTES"],
            upload_orphan_seconds=config["IM_UPLOAD_ORPHAN_SECONDS"],
            message_queue=bool(config.get("IM_MESSAGE_QUEUE")),
            check_events=bool(config.get("IM_CHECK_EVENTS")),
        )


# What an outbox holds, in order: ("user", user_id, event, payload), ("session", session_id, event,
# payload), ("socket", sid, event, payload) for an emit to all of a user's sockets, one login session's,
# or one socket; ("disconnect", sid, None, None) to close a socket on whichever process holds it.
Item = tuple[str, Any, str | None, Any]


@dataclass
class Outbox:
    """What the transaction tells once it commits; dropped with it on rollback."""

    items: list[Item] = field(default_factory=list)
    # Users whose total unread count may have changed (im.unread_push tells their terminals).
    unread: set[str] = field(default_factory=set)
    # Work for after the commit that is not telling anyone (removing the bytes of forgotten files).
    afterwards: list[Callable[[], None]] = field(default_factory=list)

    def to_user(self, user_id: str, event: str, payload: Any) -> None:
        self.items.append(("user", user_id, event, payload))

    def to_users(self, user_ids: Iterable[str], event: str, payload: Any) -> None:
        """One payload to several users: delivered as one emit to all their rooms (one encoding)."""
        self.items.extend(("user", user_id, event, payload) for user_id in user_ids)

    def to_session(self, session_id: int, event: str, payload: Any) -> None:
        self.items.append(("session", session_id, event, payload))

    def to_socket(self, sid: str, event: str, payload: Any) -> None:
        self.items.append(("socket", sid, event, payload))

    def disconnect(self, sids: Iterable[str]) -> None:
        self.items.extend(("disconnect", sid, None, None) for sid in sids)

    def unread_changed(self, user_ids: Iterable[str]) -> None:
        self.unread.update(user_ids)

    def after_commit(self, work: Callable[[], None]) -> None:
        self.afterwards.append(work)

    def absorb(self, other: Outbox) -> None:
        """Take over what `other` (a call's own outbox, whose SAVEPOINT was released) holds."""
        self.items.extend(other.items)
        self.unread.update(other.unread)
        self.afterwards.extend(other.afterwards)


# How the runner makes a SAVEPOINT on a session (im.operations.runner.savepoint): the context
# manager undoes the block's writes when the block raises, and keeps the transaction's earlier ones.
Savepoints = Callable[[Session], AbstractContextManager[None]]


@dataclass
class Context:
    """One transaction's session, the settings, and the outbox of what to tell after its commit."""

    session: Session
    settings: Settings
    savepoints: Savepoints
    outbox: Outbox = field(default_factory=Outbox)

    def savepoint(self) -> AbstractContextManager[None]:
        """A SAVEPOINT around the block: an exception undoes the block's writes (and goes on), the
        transaction's earlier writes stay."""
        return self.savepoints(self.session)

    def savepoint_child(self) -> Context:
        """The same session and settings with an outbox of its own, for one call of a batch."""
        return Context(self.session, self.settings, self.savepoints, Outbox())
