"""Sockets attached to login sessions: connect, disconnect, and the sweep of dead ones."""

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, delete, or_, select

from ..models import Connection, LoginSession, Node, utcnow
from . import auth
from .context import Context

# How long a fresh revocation is left to tell and close its own sockets before the sweeper does.
REVOKE_GRACE = timedelta(seconds=2)


def connect(ctx: Context, sid: str, token: object, node_id: str) -> LoginSession:
    """Attach a socket to the session behind token. Never kicks: that happens only at login."""
    session = auth.resolve_token(ctx, token)
    session.last_seen_at = utcnow()
    ctx.session.merge(
        Connection(
            sid=sid, session_id=session.id, user_id=session.user_id, platform_id=session.platform_id, node_id=node_id
        )
    )
    return session


class SocketSession(Protocol):
    """What session_row reads of a socket's login session (a row of columns, not an ORM object)."""

    @property
    def sid(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> str: ...
    @property
    def platform_id(self) -> int: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def revoke_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


_SESSIONS, _CONNECTIONS = LoginSession.__table__, Connection.__table__
# Built once (the compiled form is then cached by identity): every socket event runs it.
_LIVE_OF_SOCKETS = select(
    _CONNECTIONS.c.sid,
    _SESSIONS.c.id,
    _SESSIONS.c.user_id,
    _SESSIONS.c.platform_id,
    _SESSIONS.c.revoked_at,
    _SESSIONS.c.revoke_reason,
    _SESSIONS.c.expires_at,
).join_from(_CONNECTIONS, _SESSIONS, _SESSIONS.c.id == _CONNECTIONS.c.session_id)
_LIVE = _LIVE_OF_SOCKETS.where(_CONNECTIONS.c.sid == bindparam("sid"))
_LIVE_MANY = _LIVE_OF_SOCKETS.where(_CONNECTIONS.c.sid.in_(bindparam("sids", expanding=True)))


def session_row(ctx: Context, sid: str) -> SocketSession | None:
    """The columns of a socket's login session that an event needs (id, user, platform, revocation,
    expiry), read fresh on every call without loading an ORM object; None for an unknown socket."""
    return ctx.session.connection().execute(_LIVE, {"sid": sid}).first()


def session_rows(ctx: Context, sids: list[str]) -> dict[str, SocketSession]:
    """session_row for many sockets in one query: {sid: row}, unknown sockets left out."""
    rows = ctx.session.connection().execute(_LIVE_MANY, {"sids": list(set(sids))}).all()
    return {row.sid: row for row in rows}


def disconnect(ctx: Context, sid: str) -> None:
    ctx.session.execute(delete(Connection).where(Connection.sid == sid))


def dead_connections(ctx: Context, node_id: str) -> list[tuple[str, str | None, int]]:
    """(sid, why, platform_id) for this node's sockets whose session was revoked (why: its
    revoke_reason) or expired (why: "expired").

    A revocation tells and closes its sockets itself right after its commit; a session revoked in
    the last REVOKE_GRACE is left to it, so that its terminals hear one kicked_offline, not a second
    one from here racing the first (and the socket that called logout hears none).
    """
    now = utcnow()
    rows = ctx.session.execute(
        select(Connection.sid, LoginSession.revoke_reason, LoginSession.revoked_at, LoginSession.platform_id)
        .join(LoginSession, LoginSession.id == Connection.session_id)
        .where(
            Connection.node_id == node_id,
            or_(LoginSession.revoked_at <= now - REVOKE_GRACE, LoginSession.expires_at <= now),
        )
    ).all()
    return [
        (sid, reason if revoked_at is not None else "expired", platform_id)
        for sid, reason, revoked_at, platform_id in rows
    ]


def heartbeat(ctx: Context, node_id: str, timeout_seconds: float) -> list[str]:
    """Mark this node alive; clear the sockets of nodes silent for longer than the timeout."""
    now = utcnow()
    node = ctx.session.get(Node, node_id)
    if node is None:
        ctx.session.add(Node(node_id=node_id, started_at=now, heartbeat_at=now))
    else:
        node.heartbeat_at = now
    dead = ctx.session.scalars(
        select(Node.node_id).where(Node.heartbeat_at < now - timedelta(seconds=timeout_seconds))
    ).all()
    if dead:
        ctx.session.execute(delete(Connection).where(Connection.node_id.in_(dead)))
        ctx.session.execute(delete(Node).where(Node.node_id.in_(dead)))
    return list(dead)


def leave(ctx: Context, node_id: str) -> None:
    """A node shutting down cleanly forgets its sockets and itself."""
    ctx.session.execute(delete(Connection).where(Connection.node_id == node_id))
    ctx.session.execute(delete(Node).where(Node.node_id == node_id))
