"""The SDK's engine: REST and socket calls, login state, reconnect, callbacks and event catch-up."""

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import requests
import socketio

from .calls import DROPPED, Socket, retry_safe
from .errors import ALREADY_LOGGED_IN, NETWORK_ERROR, NOT_LOGGED_IN, TIMEOUT, IMError
from .listeners import EVENT_ROUTES, ConnListener, LoginStatus

log = logging.getLogger("im.sdk")

# Connect refusals after which retrying with the same token is pointless.
TOKEN_EXPIRED = 1501
TOKEN_DEAD = {1500, 1501, 1502, 1503, 1506, 1507}
TOKEN_KICKED = {1502, 1506}


Method = TypeVar("Method", bound=Callable[..., Any])


def socket_event(name: str) -> Callable[[Method], Method]:
    """Mark a client method as the handler of a server socket event."""

    def mark(fn: Method) -> Method:
        marked: Any = fn
        marked._im_socket_event = name
        return fn

    return mark


def after_connect(fn: Method) -> Method:
    """Mark a client method to run after every successful (re)connect, to catch up."""
    marked: Any = fn
    marked._im_after_connect = True
    return fn


def _ended_by(info: Any) -> str | None:
    """How a revoked session ends here: `logout` of this same session elsewhere (another holder of
    its token signed out) ends it as this client's own logout would, without on_kicked_offline;
    every other revocation is reported as a kick."""
    return None if isinstance(info, dict) and info.get("reason") == "logout" else "kicked"


class _CallbackThread:
    """Runs listener callbacks one at a time, in order; user exceptions are logged, never raised."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="im-sdk-callbacks", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def _run(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:
                log.exception("listener callback %s raised", getattr(fn, "__name__", fn))


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


class CoreClient:
    """initSDK: one instance per user session of a program."""

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
        self.server_urls = [server_url] if isinstance(server_url, str) else list(server_url)
        self.platform_id = platform_id
        self.timeout = timeout
        self.transports = transports
        self.max_backoff = max_backoff
        self._data_dir = Path(data_dir) if data_dir else None
        self._url_index = 0
        self._lock = threading.RLock()
        self._event_lock = threading.RLock()
        self._status = LoginStatus.LOGGED_OUT
        self._listeners: dict[str, object] = {"conn": ConnListener()}
        self._callbacks = _CallbackThread()
        self._http = requests.Session()
        self._sio: Socket | None = None
        self._token: str | None = None
        self._user_id: str | None = None
        self._generation = 0
        self._event_seq: int | None = None
        self._event_buffer: dict[int, dict[str, Any]] = {}
        self._seq_memory: dict[str, int] = {}
        self._pulling = False

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
        with self._event_lock:
            self._event_seq = self._remembered_seq(user_id, data["event_seq"])
            self._event_buffer.clear()
            # Remember the starting point now: a terminal that logs out before hearing any event
            # must still catch up from here when it logs in again.
            self._remember_seq()
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

    # ---- calls ---------------------------------------------------------------------------

    def _url(self) -> str:
        return self.server_urls[self._url_index % len(self.server_urls)].rstrip("/")

    def _rest(self, name: str, payload: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        headers = {"token": token} if token else {}
        try:
            resp = self._http.post(
                f"{self._url()}/api/{name}", json=payload or {}, headers=headers, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise IMError(TIMEOUT, f"{name}: timed out") from exc
        except requests.RequestException as exc:
            self._url_index += 1
            raise IMError(NETWORK_ERROR, f"{name}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise IMError(NETWORK_ERROR, f"{name}: HTTP {resp.status_code} without JSON") from exc
        return self._unwrap(body)

    @staticmethod
    def _unwrap(body: Any) -> Any:
        if not isinstance(body, dict) or "errCode" not in body:
            raise IMError(NETWORK_ERROR, "malformed answer")
        if body["errCode"] != 0:
            raise IMError(body["errCode"], body.get("errMsg", ""), body.get("data"))
        return body.get("data")

    def _call(self, name: str, **params: Any) -> Any:
        """Call an operation: over the socket when connected, else over REST with the token.

        When the socket closes before the answer, the call does not wait out its timeout: a call
        that is safe to repeat (retry_safe) goes again over REST, any other fails with NETWORK_ERROR.
        """
        with self._lock:
            token, generation, sio = self._token, self._generation, self._sio
        if token is None:
            raise IMError(NOT_LOGGED_IN, "not logged in")
        if sio is not None and sio.connected:
            try:
                answer = sio.call_or_drop(name, params, self.timeout)
            except socketio.exceptions.TimeoutError as exc:
                raise IMError(TIMEOUT, f"{name}: no answer within {self.timeout}s") from exc
            except socketio.exceptions.BadNamespaceError:
                # closed between the check and the emit: nothing was sent
                return self._rest(name, params, token=token)
            if answer is not DROPPED:
                return self._unwrap(answer)
            if self._generation != generation or self._token != token:
                raise IMError(NOT_LOGGED_IN, f"{name}: the session ended while waiting for the answer")
            if not retry_safe(name, params):
                raise IMError(
                    NETWORK_ERROR,
                    f"{name}: the connection dropped before the answer; the call may or may not have taken effect",
                )
        return self._rest(name, params, token=token)

    def _object(self, name: str, **params: Any) -> dict[str, Any]:
        """_call for an operation whose answer is an object."""
        answer: dict[str, Any] = self._call(name, **params)
        return answer

    def _objects(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """_call for an operation whose answer is a list of objects."""
        answer: list[dict[str, Any]] = self._call(name, **params)
        return answer

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
        sio.on("event", current(self._on_user_event))
        for name in dir(type(self)):
            method = getattr(type(self), name, None)
            event = getattr(method, "_im_socket_event", None)
            if event:
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

    def close(self) -> None:
        """Drop the connection and stop, without logging out on the server."""
        with self._lock:
            self._status = LoginStatus.LOGGED_OUT
            self._generation += 1
            sio, self._sio = self._sio, None
        if sio is not None:
            self._disconnect(sio)
        self._http.close()

    # ---- callbacks and the user event log ------------------------------------------------

    def _emit_callback(self, slot: str, method: str, *args: Any) -> None:
        listener = self._listeners.get(slot)
        if listener is not None and hasattr(listener, method):
            self._callbacks.submit(getattr(listener, method), *args)

    def _on_user_event(self, event: Any) -> None:
        """Deliver log events exactly once, in seq order; a gap triggers a pull of what is missing."""
        gap = False
        with self._event_lock:
            if self._event_seq is None or not isinstance(event, dict):
                return
            seq = event.get("seq", 0)
            if seq <= self._event_seq:
                return
            if seq > self._event_seq + 1:
                self._event_buffer[seq] = event
                gap = True
            else:
                self._deliver_event(event)
                while self._event_seq + 1 in self._event_buffer:
                    self._deliver_event(self._event_buffer.pop(self._event_seq + 1))
                self._remember_seq()
        if gap:
            threading.Thread(target=self._pull_events, daemon=True).start()

    def _deliver_event(self, event: dict[str, Any]) -> None:
        self._event_seq = event["seq"]
        route = EVENT_ROUTES.get(event.get("type", ""))
        if route is not None:
            self._emit_callback(route[0], route[1], event.get("data"))

    def _pull_events(self) -> None:
        """Fetch the log from the last delivered seq until the newest."""
        with self._event_lock:
            if self._pulling:
                return
            self._pulling = True
        try:
            while True:
                with self._event_lock:
                    after = self._event_seq
                if after is None:
                    return
                page = self._call("sync_events", after_seq=after)
                if page["resync_required"]:
                    with self._event_lock:
                        self._event_seq = page["max_seq"]
                        self._event_buffer.clear()
                        self._remember_seq()
                    self._emit_callback("conn", "on_resync_required")
                    return
                for event in page["events"]:
                    self._on_user_event(event)
                if not page["has_more"]:
                    return
        except IMError as exc:
            log.warning("event catch-up failed: %s", exc)
        finally:
            with self._event_lock:
                self._pulling = False

    def _catch_up(self) -> None:
        self._pull_events()
        for name in dir(type(self)):
            if getattr(getattr(type(self), name, None), "_im_after_connect", False):
                try:
                    getattr(self, name)()
                except IMError as exc:
                    log.warning("%s failed after connect: %s", name, exc)

    # ---- where the last seen event seq is kept -------------------------------------------

    def _seq_file(self, user_id: str) -> Path | None:
        return self._data_dir / f"{user_id}.json" if self._data_dir else None

    def _remembered_seq(self, user_id: str, server_seq: int) -> int:
        if user_id in self._seq_memory:
            return self._seq_memory[user_id]
        path = self._seq_file(user_id)
        if path is not None and path.exists():
            try:
                return int(json.loads(path.read_text())["event_seq"])
            except (ValueError, KeyError, OSError):
                log.warning("unreadable %s; starting from the server's seq", path)
        return server_seq

    def _remember_seq(self) -> None:
        user_id, seq = self._user_id, self._event_seq
        if user_id is None or seq is None:
            return
        self._seq_memory[user_id] = seq
        path = self._seq_file(user_id)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"event_seq": seq}))
