"""The user's event log in the SDK: each event handed to its listener exactly once, in seq order.

Every event a user must hear (friend applications, group changes, profile updates ...) carries the
user's own log seq. An event one above the last delivered is routed at once (EVENT_ROUTES,
EVENT_BATCHES); a higher one is kept aside while the missing range is pulled with `sync_events`; a
lower one is a duplicate. The last delivered seq is kept per user, in memory and, with a data_dir,
on disk, so a later login catches up from it.
"""

import json
import logging
import threading
from pathlib import Path
from typing import Any

from .errors import IMError
from .listeners import EVENT_BATCHES, EVENT_ROUTES, CallbackThread, ConnListener, after_connect_methods, socket_event
from .transport import Transport

log = logging.getLogger("im.sdk")


class EventLogClient(Transport):
    """Listener callbacks, and the event log routed to them."""

    def __init__(self, server_urls: list[str], timeout: float, data_dir: Path | None) -> None:
        super().__init__(server_urls, timeout)
        self._data_dir = data_dir
        self._listeners: dict[str, object] = {"conn": ConnListener()}
        self._callbacks = CallbackThread()
        self._event_lock = threading.RLock()
        self._event_seq: int | None = None
        self._event_buffer: dict[int, dict[str, Any]] = {}
        self._seq_memory: dict[str, int] = {}
        self._pulling = False

    def _emit_callback(self, slot: str, method: str, *args: Any) -> None:
        """Call the listener of `slot` on the callback thread, if it has that method."""
        listener = self._listeners.get(slot)
        if listener is not None and hasattr(listener, method):
            self._callbacks.submit(getattr(listener, method), *args)

    def _start_event_log(self, user_id: str, server_seq: int) -> None:
        """A login of user_id: deliver from the seq remembered for it, else from the server's."""
        with self._event_lock:
            self._event_seq = self._remembered_seq(user_id, server_seq)
            self._event_buffer.clear()
            # Remember the starting point now: a terminal that logs out before hearing any event
            # must still catch up from here when it logs in again.
            self._remember_seq()

    @socket_event("event")
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
        kind = event.get("type", "")
        route = EVENT_ROUTES.get(kind)
        if route is not None:
            self._emit_callback(route[0], route[1], event.get("data"))
            return
        batch = EVENT_BATCHES.get(kind)
        if batch is None:
            return
        slot, method, records = batch
        try:
            items = records(event.get("data"))
        except (KeyError, TypeError):
            log.warning("malformed %s event %s", kind, event.get("seq"))
            return
        for item in items:
            if isinstance(item, dict):
                self._emit_callback(slot, method, item)

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
        """After a (re)connect: the event log, then what each feature marked with after_connect."""
        self._pull_events()
        for name in after_connect_methods(type(self)):
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
