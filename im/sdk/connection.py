"""The login state machine of the SDK: login, logout, the socket, reconnect, kick and expiry."""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import socketio

from .calls import Socket
from .errors import ALREADY_LOGGED_IN, NETWORK_ERROR, NOT_LOGGED_IN, IMError
from .event_log import EventLogClient
from .listeners import ConnListener, LoginStatus, socket_handlers

log = logging.getLogger("im.sdk")

# Connect refusals after which retrying with the same token is pointless.
TOKEN_EXPIRED = 1501
TOKEN_DEAD = {1500, 1501, 1502, 1503, 1506, 1507}
TOKEN_KICKED = {1502, 1506}


def _ended_by(info: Any) -> str | None:
    """How a revoked session ends here: `logout` of this same session elsewhere (another holder of
    its token signed out) ends it as this client's own logout would, without on_kicked_offline;
    every other revocation is reported as a kick."""
    return None if isinstance(info, dict) and info.get("reason") == "logout" else "kicked"


def _release_websocket(sio: Any, reason: Any = None) -> None:
    """engineio's client leaves a websocket the server dropped (a crash, a cut network) for the garbage
    collector to close; close its socket now, so reconnect churn does not hold file descriptors."""
    if reason != socketio.Client.reason.TRANSPORT_ERROR:
        return
    ws = getattr(getattr(sio, "eio", None), "ws", None)
    if ws is not None:
        try:
            ws.shutdown()
        except Exception:
            log.debug("closing a dropped websocket failed", exc_info=True)


class CoreClient(EventLogClient):
    """initSDK: one instance per user session of a program.

    The feature mixins (friends.py, groups.py ...) extend it and use its protected members: the calls
    `_call`, `_object`, `_objects`, `_rest` (transport.py) and `_emit_callback`, `_listeners`
    (event_log.py); they are the client's own methods, not another module's.
    """

    def __init__(
        self,
        server_url: str | Iterable[str],
        platform_id: int = 5,
        *,
        timeout: float = 10.0,
        data_dir: str | os.PathLike[str] | None = None,
        transports: list[str] | None = None,
        max_backoff: float = 8.0,
    ) -> None:
        super().__init__(
            [server_url] if isinstance(server_url, str) else list(server_url),
            timeout,
            Path(data_dir) if data_dir else None,
        )
        self.platform_id = platform_id
        self.transports = transports
        self.max_backoff = max_backoff
        self._status = LoginStatus.LOGGED_OUT

    # ---- public: login state -------------------------------------------------------------

    def set_conn_listener(self, listener: ConnListener) -> None:
        self._listeners["conn"] = listener

    def get_login_status(self) -> int:
        return int(self._status)

    def get_login_user(self) -> str | None:
        return self._user_id

    def register(self, user_id: str, password: str, nickname: str, face_url: str = "") -> dict[str, Any]:
        answer: dict[str, Any] = self._rest(
            "register", {"user_id": user_id, "password": password, "nickname": nickname, "face_url": face_url}
        )
        return answer

    def login(self, user_id: str, password: str) -> dict[str, Any]:
        """Sign in and connect; returns once connected and caught up. Raises IMError on failure."""
        with self._lock:
            if self._status in (LoginStatus.LOGGED_IN, LoginStatus.LOGGING_IN):
                raise IMError(ALREADY_LOGGED_IN, "already logged in; log out first")
            self._status = LoginStatus.LOGGING_IN
            self._generation += 1
            generation = self._generation
        try:
            data: dict[str, Any] = self._rest(
                "login", {"user_id": user_id, "password": password, "platform_id": self.platform_id}
            )
        except IMError:
            self._status = LoginStatus.LOGIN_FAILED
            raise
        with self._lock:
            if generation != self._generation:
                raise IMError(NOT_LOGGED_IN, "closed while logging in")
            token = self._token = data["token"]
            self._user_id = user_id
        self._start_event_log(user_id, data["event_seq"])
        self._emit_callback("conn", "on_connecting")
        try:
            current = self._open_socket(token, generation)
        except IMError as exc:
            self._emit_callback("conn", "on_connect_failed", exc.code, exc.message)
            with self._lock:
                if generation == self._generation:
                    self._status = LoginStatus.LOGIN_FAILED
                    self._token = None
            raise
        with self._lock:
            current = current and generation == self._generation
            if current:
                self._status = LoginStatus.LOGGED_IN
        if not current:
            return data  # ended (kicked, closed) while connecting: the listener heard how
        self._emit_callback("conn", "on_connect_success")
        self._catch_up()
        return data

    def logout(self) -> None:
        """Revoke the token on the server and close the connection."""
        with self._lock:
            if self._status != LoginStatus.LOGGED_IN:
                raise IMError(NOT_LOGGED_IN, "not logged in")
            generation = self._generation
        try:
            self._call("logout")
        except IMError as exc:
            log.warning("logout on the server failed (%s); closing locally", exc)
        self._end_session(None, generation)

    def change_password(self, old_password: str, new_password: str) -> dict[str, Any]:
        """Replace the password; this terminal stays signed in, the user's other sessions are revoked."""
        return self._object("change_password", old_password=old_password, new_password=new_password)

    def close(self) -> None:
        """Drop the connection and stop, without logging out on the server."""
        with self._lock:
            self._status = LoginStatus.LOGGED_OUT
            self._generation += 1
            sio, self._sio = self._sio, None
        if sio is not None:
            self._disconnect(sio)
        self._http.close()

    # ---- connection ----------------------------------------------------------------------

    # Every login (and every close or end of a session) bumps the generation. A socket, a reconnect
    # loop and a logout belong to the generation they started in: a late close, refusal or event of
    # an old login (its token revoked by the logout that ended it) must never touch the next one.

    def _open_socket(self, token: str, generation: int) -> bool:
        """Connect with `token`; raises IMError with the server's code when refused. Returns whether
        the socket became this client's: a session ended meanwhile gets it closed instead."""
        sio = Socket(reconnection=False, handle_sigint=False)
        refusal: dict[str, Any] = {}

        def on_connect_error(data: Any = None) -> None:
            if isinstance(data, dict) and isinstance(data.get("data"), dict):
                refusal.update(data["data"])

        def current(fn: Callable[..., Any]) -> Callable[..., Any]:
            return lambda *args: fn(*args) if generation == self._generation else None

        sio.on("connect_error", on_connect_error)

        def on_disconnect(*args: Any) -> None:
            sio.drop_waiting()
            _release_websocket(sio, *args)
            self._on_disconnect(sio, generation)

        sio.on("disconnect", on_disconnect)
        sio.on("kicked_offline", lambda data=None: self._end_session(_ended_by(data), generation))
        sio.on("token_expired", lambda data=None: self._end_session("expired", generation))
        for event, name in socket_handlers(type(self)):
            sio.on(event, current(getattr(self, name)))
        try:
            sio.connect(self._url(), auth={"token": token}, transports=self.transports, wait_timeout=self.timeout)
        except socketio.exceptions.ConnectionError as exc:
            if refusal.get("errCode"):
                raise IMError(refusal["errCode"], refusal.get("errMsg", "refused"), refusal.get("data")) from exc
            self._url_index += 1
            raise IMError(NETWORK_ERROR, f"connect failed: {exc}") from exc
        with self._lock:
            mine = generation == self._generation and self._status != LoginStatus.LOGGED_OUT
            if mine:
                self._sio = sio
        if not mine:
            self._disconnect(sio)
        return mine

    def _on_disconnect(self, sio: Socket, generation: int) -> None:
        with self._lock:
            if generation != self._generation or sio is not self._sio or self._status != LoginStatus.LOGGED_IN:
                return
            self._sio = None
        threading.Thread(target=self._reconnect, args=(generation,), name="im-sdk-reconnect", daemon=True).start()

    def _reconnect(self, generation: int) -> None:
        delay = 0.25
        while True:
            with self._lock:
                if generation != self._generation or self._status != LoginStatus.LOGGED_IN:
                    return
                token = self._token
            if token is None:
                return  # cannot be: a session is logged in with its token until it ends
            self._emit_callback("conn", "on_connecting")
            try:
                current = self._open_socket(token, generation)
            except IMError as exc:
                if generation != self._generation:
                    return  # the refusal of a token that a logout since revoked says nothing of today's
                self._emit_callback("conn", "on_connect_failed", exc.code, exc.message)
                if exc.code in TOKEN_DEAD:
                    self._end_session(
                        "expired"
                        if exc.code == TOKEN_EXPIRED
                        else _ended_by(exc.data)
                        if exc.code in TOKEN_KICKED
                        else None,
                        generation,
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if current:
                self._emit_callback("conn", "on_connect_success")
                self._catch_up()
            return

    def _end_session(self, why: str | None, generation: int) -> None:
        """Logged out, kicked or expired: forget the token, close the socket, tell the listener.
        Only for the login of `generation`: an older one's news is stale."""
        with self._lock:
            if generation != self._generation or self._status == LoginStatus.LOGGED_OUT:
                return
            self._status = LoginStatus.LOGGED_OUT
            self._generation += 1
            self._token = None
            sio, self._sio = self._sio, None
        if why == "kicked":
            self._emit_callback("conn", "on_kicked_offline")
        elif why == "expired":
            self._emit_callback("conn", "on_user_token_expired")
        if sio is not None:
            # Not inline: this may run on the socket's own read thread (kicked_offline), which
            # disconnect() would wait for.
            threading.Thread(target=self._disconnect, args=(sio,), daemon=True).start()

    @staticmethod
    def _disconnect(sio: Socket) -> None:
        try:
            sio.disconnect()
        except Exception:
            log.debug("socket close failed", exc_info=True)
