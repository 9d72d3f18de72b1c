"""Messages reach the listener exactly once, in per-conversation seq order, live and on catch-up.

The SDK keeps, per conversation, the highest seq it has handed to the listener. An online
`new_message` one above it is delivered at once; a higher one is kept aside while the missing range
is pulled; a lower one is a duplicate. After every (re)connect the SDK compares with the server's
max seqs and pulls what it missed, between `on_sync_server_start` and `on_sync_server_finish`.
Conversations that got messages are then reported with `on_conversation_changed`.
"""

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .connection import CoreClient
from .errors import NETWORK_ERROR, NOT_LOGGED_IN, IMError
from .listeners import after_connect, socket_event

log = logging.getLogger("im.sdk")

TYPING = 113
PULL_RANGES_PER_CALL = 200
OWN = None  # marks a seq this terminal sent itself: counted as seen, never handed back to it


class MessageSyncMixin(CoreClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._msg_lock = threading.RLock()
        self._msg_user: str | None = None
        self._msg_seen: dict[str | None, dict[str, int]] = {}  # user_id -> conversation_id -> last seq handed over
        self._msg_ahead: dict[str, dict[int, dict[str, Any] | None]] = {}
        self._msg_held: list[dict[str, Any]] = []
        self._msg_syncing = False
        self._gap_worker = False
        self._changed_worker = False
        self._changed_ids: set[str] = set()
        self._sending: set[str] = set()

    # ---- what this terminal sends itself ---------------------------------------------------

    @contextmanager
    def _sending_own(self, client_msg_id: str) -> Iterator[None]:
        """While a send of client_msg_id waits for its answer, its echo to this user's terminals can
        arrive first: here it is not news."""
        with self._msg_lock:
            self._sending.add(client_msg_id)
        try:
            yield
        finally:
            with self._msg_lock:
                self._sending.discard(client_msg_id)

    def _sent(self, msg: dict[str, Any]) -> None:
        """This terminal sent msg: count it as seen and report its conversation changed."""
        self._note_own(msg)
        self._conversations_changed({msg["conversation_id"]})

    def _note_own(self, msg: dict[str, Any]) -> None:
        """A seq this terminal sent counts as seen without being handed back."""
        with self._msg_lock:
            seen = self._seen()
            if seen is None or msg["seq"] <= seen.get(msg["conversation_id"], 0):
                return
            self._msg_ahead.setdefault(msg["conversation_id"], {})[msg["seq"]] = OWN
            self._drain(msg["conversation_id"])
            gap = bool(self._msg_ahead.get(msg["conversation_id"]))
        self._remember_msg_seqs()
        if gap:
            self._start_gap_pull()

    # ---- exactly-once delivery -------------------------------------------------------------

    def _seen(self) -> dict[str, int] | None:
        return self._msg_seen.get(self._user_id)

    def _seen_known(self) -> dict[str, int]:
        """The seen seqs, where the caller found them loaded (under _msg_lock)."""
        seen = self._seen()
        if seen is None:
            raise RuntimeError("the seen seqs are not loaded")
        return seen

    def _hand_over(self, msg: dict[str, Any]) -> None:
        """A stored message, in seq order and exactly once, to the listener and whatever reads it."""
        self._emit_callback("message", "on_recv_new_message", msg)
        self._on_stored_message(msg)

    def _on_stored_message(self, msg: dict[str, Any]) -> None:
        """Hook for the other parts of the SDK (the group listener reads group notices here)."""

    @socket_event("new_message")
    def _on_new_message(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        if msg.get("content_type") == TYPING or not msg.get("seq"):
            self._emit_callback("message", "on_recv_new_message", msg)
            return
        with self._msg_lock:
            if self._seen() is None or self._msg_user != self._user_id:
                self._msg_held.append(msg)
                return
            delivered = self._accept(msg)
            gap = bool(self._msg_ahead.get(msg["conversation_id"]))
            syncing = self._msg_syncing
        if delivered:
            self._remember_msg_seqs()
        if delivered and not syncing:
            self._conversations_changed({msg["conversation_id"]})
        if gap and not syncing:
            self._start_gap_pull()

    def _accept(self, msg: dict[str, Any]) -> bool:
        cid, seq = msg["conversation_id"], msg["seq"]
        pending = self._msg_ahead.setdefault(cid, {})
        if seq <= self._seen_known().get(cid, 0) or seq in pending:
            if not pending:
                del self._msg_ahead[cid]
            return False
        own = msg.get("send_id") == self._user_id and msg.get("client_msg_id") in self._sending
        pending[seq] = OWN if own else msg
        return self._drain(cid)

    def _drain(self, cid: str, pulled_to: int = 0) -> bool:
        """Hand over, in seq order, what follows the last seen seq; seqs up to pulled_to were all pulled."""
        seen = self._seen_known()
        have = seen.get(cid, 0)
        pending = self._msg_ahead.get(cid, {})
        delivered = False
        if pulled_to > have:
            for seq in sorted(s for s in pending if s <= pulled_to):
                item = pending.pop(seq)
                if item is not OWN and seq > have:
                    self._hand_over(item)
                    delivered = True
            have = pulled_to
        while have + 1 in pending:
            item = pending.pop(have + 1)
            have += 1
            if item is not OWN:
                self._hand_over(item)
                delivered = True
        seen[cid] = have
        if cid in self._msg_ahead and not pending:
            del self._msg_ahead[cid]
        return delivered

    # ---- catching up by seq ranges ---------------------------------------------------------

    def _pull(self, ranges: dict[str, list[int]]) -> set[str]:
        """Pull seq ranges {cid: [begin, end]} until done; returns the conversations that got messages."""
        changed = set()
        while ranges:
            batch = list(ranges.items())[:PULL_RANGES_PER_CALL]
            token = self._token
            if token is None:
                raise IMError(NOT_LOGGED_IN, "not logged in")
            # Over HTTP: a page of 2000 messages comes about three times faster than as a socket ack.
            page = self._rest(
                "pull_messages",
                {"ranges": [{"conversation_id": cid, "begin_seq": b, "end_seq": e} for cid, (b, e) in batch]},
                token=token,
            )
            by_cid: dict[str, list[dict[str, Any]]] = {}
            for msg in page["messages"]:
                by_cid.setdefault(msg["conversation_id"], []).append(msg)
            with self._msg_lock:
                for cid, pulled_to in page["pulled_to"].items():
                    pending = self._msg_ahead.setdefault(cid, {})
                    for msg in by_cid.get(cid, ()):
                        pending.setdefault(msg["seq"], msg)
                    if self._drain(cid, pulled_to):
                        changed.add(cid)
                    if pulled_to >= ranges[cid][1]:
                        del ranges[cid]
                    else:
                        ranges[cid][0] = pulled_to + 1
            if not page["pulled_to"]:
                raise IMError(NETWORK_ERROR, "pull_messages made no progress")
        self._remember_msg_seqs()
        return changed

    @after_connect
    def _sync_messages(self) -> None:
        """Compare with the server's max seqs and pull what this terminal missed, exactly once."""
        self._emit_callback("conversation", "on_sync_server_start")
        with self._msg_lock:
            self._msg_syncing = True
        changed: set[str] = set()
        try:
            info = self._call("get_max_seqs")["conversations"]
            with self._msg_lock:
                if self._msg_user != self._user_id:
                    self._msg_user = self._user_id
                    self._msg_ahead.clear()
                seen = self._seen()
                if seen is None:
                    seen = self._load_msg_seqs()
                if seen is None:
                    # A terminal new to this user starts from now; history is there to page through.
                    seen = {cid: v["max_seq"] for cid, v in info.items()}
                self._msg_seen[self._user_id] = seen
                ranges = {}
                for cid, v in info.items():
                    have = seen.get(cid, 0)
                    if v["max_seq"] <= have:
                        continue
                    if v["recv_msg_opt"] == 1:
                        self._drain(cid, v["max_seq"])
                    else:
                        ranges[cid] = [have + 1, v["max_seq"]]
                held, self._msg_held = self._msg_held, []
            changed = self._pull(ranges)
            with self._msg_lock:
                for msg in held:
                    if self._accept(msg):
                        changed.add(msg["conversation_id"])
        except IMError as exc:
            log.warning("message sync failed: %s", exc)
            self._emit_callback("conversation", "on_sync_server_failed")
        finally:
            with self._msg_lock:
                self._msg_syncing = False
                gap = bool(self._msg_ahead)
        self._emit_callback("conversation", "on_sync_server_finish")
        if changed:
            self._conversations_changed(changed)
        if gap:
            self._start_gap_pull()

    def _start_gap_pull(self) -> None:
        with self._msg_lock:
            if self._gap_worker:
                return
            self._gap_worker = True
        threading.Thread(target=self._gap_pull, name="im-sdk-gap", daemon=True).start()

    def _gap_pull(self) -> None:
        try:
            for _round in range(5):
                with self._msg_lock:
                    seen = self._seen()
                    if seen is None:
                        return
                    ranges = {
                        cid: [seen.get(cid, 0) + 1, min(p) - 1]
                        for cid, p in self._msg_ahead.items()
                        if p and min(p) > seen.get(cid, 0) + 1
                    }
                if not ranges:
                    return
                changed = self._pull(ranges)
                if changed:
                    self._conversations_changed(changed)
        except IMError as exc:
            log.warning("gap pull failed: %s", exc)
        finally:
            with self._msg_lock:
                self._gap_worker = False

    # ---- conversations that got messages ---------------------------------------------------

    def _conversations_changed(self, conversation_ids: set[str]) -> None:
        """Report conversations that got messages from one background worker (the server pushes the
        new total itself: im/sdk/conversations.py)."""
        with self._msg_lock:
            self._changed_ids |= conversation_ids
            if self._changed_worker:
                return
            self._changed_worker = True
        threading.Thread(target=self._report_changed, name="im-sdk-conversations", daemon=True).start()

    def _report_changed(self) -> None:
        failures = 0
        while True:
            with self._msg_lock:
                ids, self._changed_ids = list(self._changed_ids), set()
                if not ids or self._token is None:
                    self._changed_worker = False
                    return
            try:
                convs = []
                for i in range(0, len(ids), 1000):
                    convs += self._call("get_multiple_conversation", conversation_ids=ids[i : i + 1000])
            except IMError as exc:
                failures += 1
                log.warning("conversation refresh failed: %s", exc)
                with self._msg_lock:
                    self._changed_ids |= set(ids)
                    if failures >= 3:
                        self._changed_worker = False
                        return
                time.sleep(0.5 * failures)
                continue
            failures = 0
            if convs:
                self._emit_callback("conversation", "on_conversation_changed", convs)

    # ---- where the seen seqs are kept ----------------------------------------------------

    def _msg_seq_file(self) -> Path | None:
        return self._data_dir / f"{self._user_id}.messages.json" if self._data_dir and self._user_id else None

    def _load_msg_seqs(self) -> dict[str, int] | None:
        path = self._msg_seq_file()
        if path is None or not path.exists():
            return None
        try:
            return {str(k): int(v) for k, v in json.loads(path.read_text())["seqs"].items()}
        except (ValueError, KeyError, OSError, AttributeError):
            log.warning("unreadable %s; starting from the server's seqs", path)
            return None

    def _remember_msg_seqs(self) -> None:
        path = self._msg_seq_file()
        if path is None:
            return
        with self._msg_lock:
            seen = self._seen()
            if seen is None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole then renamed, so a crash never leaves a half-written file.
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"seqs": seen}))
            tmp.replace(path)
