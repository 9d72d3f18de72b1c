"""How an operation reaches the server: over the socket when connected, else over REST; and files."""

import os
import threading
from pathlib import Path
from typing import Any

import requests
import socketio

from .calls import DROPPED, Socket, retry_safe
from .errors import NETWORK_ERROR, NOT_LOGGED_IN, TIMEOUT, IMError


def unwrap(body: Any) -> Any:
    """The data of a server envelope `{"errCode", "errMsg", "data"}`; IMError when it is an error."""
    if not isinstance(body, dict) or "errCode" not in body:
        raise IMError(NETWORK_ERROR, "malformed answer")
    if body["errCode"] != 0:
        raise IMError(body["errCode"], body.get("errMsg", ""), body.get("data"))
    return body.get("data")


class Transport:
    """The calls of a client, as the session it is signed in with (token, socket, generation)."""

    def __init__(self, server_urls: list[str], timeout: float) -> None:
        self.server_urls = server_urls
        self.timeout = timeout
        self._url_index = 0
        self._lock = threading.RLock()
        self._http = requests.Session()
        self._sio: Socket | None = None
        self._token: str | None = None
        self._user_id: str | None = None
        # Every login (and every close or end of a session) bumps the generation: see connection.py.
        self._generation = 0

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
        return unwrap(body)

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
                return unwrap(answer)
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

    # ---- files: over HTTP only, as multipart upload and plain download ------------------------

    def upload_file(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Upload a picture or file; the answer's `url` goes into a 102 or 105 message's content."""
        token = self._token
        if token is None:
            raise IMError(NOT_LOGGED_IN, "not logged in")
        file = Path(path)
        try:
            with open(file, "rb") as fh:
                resp = self._http.post(
                    f"{self._url()}/api/upload",
                    headers={"token": token},
                    files={"file": (file.name, fh)},
                    timeout=max(self.timeout, 60),
                )
        except requests.Timeout as exc:
            raise IMError(TIMEOUT, "upload timed out") from exc
        except requests.RequestException as exc:
            raise IMError(NETWORK_ERROR, f"upload: {exc}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise IMError(NETWORK_ERROR, f"upload: HTTP {resp.status_code} without JSON") from exc
        uploaded: dict[str, Any] = unwrap(body)
        return uploaded

    def download_file(self, url: str) -> bytes:
        """The bytes of an uploaded file (`url` as found in a message)."""
        token = self._token
        if token is None:
            raise IMError(NOT_LOGGED_IN, "not logged in")
        try:
            resp = self._http.get(self._url() + url, headers={"token": token}, timeout=max(self.timeout, 60))
        except requests.RequestException as exc:
            raise IMError(NETWORK_ERROR, f"download: {exc}") from exc
        if resp.status_code != 200:
            try:
                unwrap(resp.json())
            except ValueError:
                pass
            raise IMError(NETWORK_ERROR, f"download: HTTP {resp.status_code}")
        return resp.content
