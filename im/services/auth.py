"""Accounts, login sessions, OpenIM's multi-terminal policy and kick-offline."""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..blocking import run_blocking
from ..models import Connection, LoginSession, User, ts, utcnow
from .context import Context

# OpenIM's device classes for policy 4; policy 5 treats PC (3, 4, 7) apart from all the rest.
DEVICE_CLASSES = {
    1: "mobile",
    2: "mobile",
    3: "pc",
    4: "pc",
    7: "pc",
    8: "pad",
    9: "pad",
    5: "web",
    6: "miniweb",
    10: "admin",
}
PC_PLATFORMS = {3, 4, 7}
POLICY_0_MAX_PER_PLATFORM = 30
TOKEN_PREFIX = "imt_"
# Revoke reasons of a password change (on the user's other terminals) and of an admin's reset (on all).
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"


def _hasher(ctx: Context) -> PasswordHasher:
    # OWASP's argon2id baseline (19 MiB, t=2, p=1) unless configured otherwise.
    return PasswordHasher(
        time_cost=ctx.settings.argon2_time_cost, memory_cost=ctx.settings.argon2_memory_kib, parallelism=1
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register(ctx: Context, user_id: str, password: str, nickname: str, face_url: str = "") -> dict[str, Any]:
    """Create an account; the password is stored only as an argon2 hash."""
    if ctx.session.get(User, user_id) is not None:
        raise errors.UserAlreadyRegistered()
    password_hash = run_blocking(_hasher(ctx).hash, password)
    user = User(user_id=user_id, password_hash=password_hash, nickname=nickname, face_url=face_url)
    ctx.session.add(user)
    try:
        ctx.session.flush()
    except IntegrityError:
        # Another registration of the same id committed between the check above and this insert;
        # the operation runner rolls the failed transaction back.
        raise errors.UserAlreadyRegistered() from None
    return user.public()


def _password_matches(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """A mismatch is an answer, not an error: raising in gevent's thread pool would make the hub
    print a traceback into the server log on every wrong password."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_password(ctx: Context, user: User | None, password: str) -> bool:
    hasher = _hasher(ctx)
    if user is None:
        # Spend the same time as a real check so that timing does not tell who exists.
        run_blocking(hasher.hash, password)
        return False
    return run_blocking(_password_matches, hasher, user.password_hash, password)


def _sessions_to_kick(active: list[LoginSession], platform_id: int, policy: int) -> list[LoginSession]:
    """The user's active sessions a new login on platform_id replaces under the given policy."""
    if policy == 1:
        return [s for s in active if s.platform_id == platform_id]
    if policy == 4:
        cls = DEVICE_CLASSES[platform_id]
        return [s for s in active if DEVICE_CLASSES.get(s.platform_id) == cls]
    if policy == 5:
        if platform_id in PC_PLATFORMS:
            return []
        return [s for s in active if s.platform_id not in PC_PLATFORMS]
    same = sorted((s for s in active if s.platform_id == platform_id), key=lambda s: s.id)
    overflow = len(same) + 1 - POLICY_0_MAX_PER_PLATFORM
    return same[:overflow] if overflow > 0 else []


def _active_sessions(ctx: Context, user_id: str) -> list[LoginSession]:
    now = utcnow()
    return list(
        ctx.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None), LoginSession.expires_at > now)
            .with_for_update()
        )
    )


def revoke_sessions(ctx: Context, sessions: list[LoginSession], reason: str) -> None:
    """Revoke sessions, tell their terminals after commit and close their sockets everywhere."""
    if not sessions:
        return
    now = utcnow()
    ids = [s.id for s in sessions]
    for s in sessions:
        s.revoked_at = now
        s.revoke_reason = reason
    sids = ctx.session.scalars(select(Connection.sid).where(Connection.session_id.in_(ids))).all()
    for s in sessions:
        ctx.outbox.to_session(s.id, "kicked_offline", {"reason": reason, "platform_id": s.platform_id})
    ctx.outbox.disconnect(sids)


def login(ctx: Context, user_id: str, password: str, platform_id: int) -> dict[str, Any]:
    """Check the password, apply the multi-terminal policy and issue a new token."""
    user = ctx.session.get(User, user_id)
    # (an unknown user never verifies: `user is None` is there for the type checker)
    if not _verify_password(ctx, user, password) or user is None:
        raise errors.LoginFailed()
    kicked = _sessions_to_kick(_active_sessions(ctx, user_id), platform_id, ctx.settings.multi_login_policy)
    revoke_sessions(ctx, kicked, "kicked")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session = LoginSession(
        user_id=user_id,
        platform_id=platform_id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.token_ttl),
    )
    ctx.session.add(session)
    ctx.session.flush()  # the answer's session_id is the row's, given by the insert
    return {
        "token": token,
        "user_id": user_id,
        "platform_id": platform_id,
        "session_id": session.id,
        "expires_at": ts(session.expires_at),
        "event_seq": user.event_seq,
    }


def one_token(*presented: str | None) -> str | None:
    """The one token a request presents in however many places (empty ones are absent), or None.

    Two that disagree are refused: taking whichever happens to be valid would let whoever can add
    one header (a proxy, a script on a page) act under another session than the one the client
    believes it uses.
    """
    given = [token for token in presented if token]
    if any(token != given[0] for token in given[1:]):
        raise errors.TokenAmbiguous()
    return given[0] if given else None


def resolve_token(ctx: Context, token: object) -> LoginSession:
    """The live session behind a token, or the typed reason it is not usable."""
    if not token:
        raise errors.TokenMissing()
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise errors.TokenMalformed()
    session = ctx.session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_token(token)))
    if session is None:
        raise errors.TokenNotExist()
    check_session_live(session)
    return session


class SessionState(Protocol):
    """What decides whether a login session may act: a LoginSession, or a row of its columns."""

    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def revoke_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


def check_session_live(session: SessionState) -> None:
    if session.revoked_at is not None:
        raise (
            errors.TokenKicked()
            if session.revoke_reason == "kicked"
            else errors.TokenRevoked(f"token revoked ({session.revoke_reason})", data={"reason": session.revoke_reason})
        )
    if session.expires_at <= utcnow():
        raise errors.TokenExpired()


def logout(ctx: Context, session_id: int, calling_sid: str | None = None) -> None:
    """Revoke the caller's own token and close its sockets; each of them but the calling one first
    hears `kicked_offline` with reason `logout` (another tab of the same session signed out)."""
    session = ctx.session.get(LoginSession, session_id)
    if session is None or session.revoked_at is not None:
        return
    session.revoked_at = utcnow()
    session.revoke_reason = "logout"
    sids = ctx.session.scalars(select(Connection.sid).where(Connection.session_id == session_id)).all()
    for sid in sids:
        if sid != calling_sid:
            ctx.outbox.to_socket(sid, "kicked_offline", {"reason": "logout", "platform_id": session.platform_id})
    ctx.outbox.disconnect(sids)


def force_logout(ctx: Context, user_id: str, platform_id: int | None = None) -> dict[str, int]:
    """Admin: kick every terminal of a user, or only those on one platform."""
    if ctx.session.get(User, user_id) is None:
        raise errors.UserNotFound()
    sessions = [s for s in _active_sessions(ctx, user_id) if platform_id is None or s.platform_id == platform_id]
    revoke_sessions(ctx, sessions, "admin")
    return {"kicked_sessions": len(sessions)}


def change_password(
    ctx: Context, user_id: str, session_id: int, old_password: str, new_password: str
) -> dict[str, int]:
    """Replace the caller's password and revoke every other session; the calling one stays."""
    user = ctx.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise errors.UserNotFound()
    checked_hash = user.password_hash
    if not run_blocking(_password_matches, _hasher(ctx), checked_hash, old_password):
        raise errors.LoginFailed("wrong old password")
    new_hash = run_blocking(_hasher(ctx).hash, new_password)
    # Replaced only if still the hash the old password was checked against: SQLite ignores the row
    # lock above, and of two concurrent changes from the same old password both would pass the
    # check; the second now finds the first's hash and is refused like a wrong old password.
    # Session.execute answers an UPDATE with a CursorResult (its rowcount), typed as the general Result.
    swapped = cast(
        CursorResult[Any],
        ctx.session.execute(
            update(User)
            .where(User.user_id == user_id, User.password_hash == checked_hash)
            .values(password_hash=new_hash)
            .execution_options(synchronize_session=False)
        ),
    )
    if swapped.rowcount != 1:
        raise errors.LoginFailed("wrong old password")
    others = [s for s in _active_sessions(ctx, user_id) if s.id != session_id]
    revoke_sessions(ctx, others, PASSWORD_CHANGED)
    return {"revoked_sessions": len(others)}


def reset_password(ctx: Context, user_id: str, new_password: str) -> dict[str, int]:
    """Admin: set a user's password and revoke every session of theirs."""
    user = ctx.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise errors.UserNotFound()
    user.password_hash = run_blocking(_hasher(ctx).hash, new_password)
    sessions = _active_sessions(ctx, user_id)
    revoke_sessions(ctx, sessions, PASSWORD_RESET)
    return {"revoked_sessions": len(sessions)}
