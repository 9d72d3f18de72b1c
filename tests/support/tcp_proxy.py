"""A loopback TCP proxy that a test can cut, to drop a client's connection like a network would,
or whose new Socket.IO connections it can hold, to order a client's connects as a slow network would."""

import socket
import threading
import time

from .server import free_port


class TcpProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._open = threading.Event()
        self._open.set()
        self._stopped = threading.Event()
        self._conns: list[socket.socket] = []
        self._allowance: int | None = None
        self._holding = False
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._held_changed = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                refuse = not self._open.is_set() or self._allowance == 0
                if self._allowance:
                    self._allowance -= 1
            if refuse:
                client.close()
                continue
            if self._holding:
                threading.Thread(target=self._hold_or_connect, args=(client,), daemon=True).start()
            else:
                self._connect(client)

    def _connect(self, client) -> threading.Event:
        """Pipe `client` to the server; the event is set once the connection is over."""
        ended = threading.Event()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            ended.set()
            return ended
        with self._lock:
            self._conns += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b, ended), daemon=True).start()
        return ended

    def _hold_or_connect(self, client):
        try:
            first = client.recv(16, socket.MSG_PEEK)
        except OSError:
            client.close()
            return
        if not first.startswith(b"GET /socket.io/"):
            self._connect(client)
            return
        with self._held_changed:
            self._held.append(client)
            self._held_changed.notify_all()

    @staticmethod
    def _pipe(src, dst, ended):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            ended.set()

    def cut(self):
        """Drop every connection and refuse new ones until resume()."""
        self._open.clear()
        self.drop()

    def drop(self):
        """Drop every connection, still accepting new ones."""
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already shut down by its pipe; it must still be closed
            s.close()

    def resume(self):
        self._open.set()

    def hold_sockets(self):
        """From now on keep each new Socket.IO connection (its first request, unanswered) waiting
        until release_held(); other HTTP requests pass. Use a websocket-only client: one socket,
        one connection."""
        self._holding = True

    def wait_held(self, count: int, timeout: float = 10.0):
        """Block until `count` connections are waiting."""
        deadline = time.monotonic() + timeout
        with self._held_changed:
            while len(self._held) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} held connections not seen in {timeout}s")
                self._held_changed.wait(left)

    def release_held(self) -> threading.Event:
        """Let the oldest waiting connection through to the server; the event is set once it is over."""
        with self._lock:
            client = self._held.pop(0)
        return self._connect(client)

    def allow_only(self, count: int):
        """Let `count` more connections through, then refuse new ones (existing ones stay up)."""
        with self._lock:
            self._allowance = count

    def close(self):
        self._stopped.set()
        self.cut()
        with self._lock:
            held, self._held = self._held, []
        for s in held:
            s.close()
        self._listener.close()
        self._thread.join(2)
