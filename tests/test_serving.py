"""The web server's socket options and what an idle socket keeps."""
import json
import os
import socket
import subprocess
import sys

from im.serving import gevent_handler_class, run_options
from tests.support.server import FAST_HASH, ROOT


def test_gevent_handler_turns_off_nagle_on_accepted_sockets():
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    accepted, address = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        gevent_handler_class()(accepted, address, server=None)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (accepted, client, listener):
            s.close()


def test_run_options_only_for_gevent():
    assert "handler_class" in run_options("gevent")
    assert run_options("threading") == {}


def _handshake_headers(url: str) -> str:
    """Open a Socket.IO WebSocket offering permessage-deflate; the server's handshake answer, lowercased."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n\r\n", 1)[0].decode().lower()


def test_websocket_compression_is_declined_unless_enabled(live_server):
    headers = _handshake_headers(live_server().url)
    assert headers.startswith("http/1.1 101")
    assert "permessage-deflate" not in headers
    headers = _handshake_headers(live_server({"IM_WEBSOCKET_COMPRESSION": "true"}).url)
    assert headers.startswith("http/1.1 101")
    assert "sec-websocket-extensions: permessage-deflate" in headers


def test_an_idle_socket_keeps_two_running_greenlets_and_none_after_close(tmp_path):
    """Each started greenlet keeps its own stack (about 8 KiB resident); an idle socket keeps the WSGI
    handler (which reads) and Engine.IO's writer running, its next ping waits unstarted as a timer, and
    nothing of it runs once closed (im/websocket.py; docs/performance.md, memory per connection)."""
    env = {**os.environ, **FAST_HASH, "IM_ASYNC_MODE": "gevent", "IM_RATE_LIMITS_ENABLED": "false",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'im.sqlite3'}"}
    sockets = 20
    out = subprocess.run([sys.executable, "-m", "tests.support.socket_probe", str(sockets)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    # the sweeper and Engine.IO's service task start with the first socket: 2 more in all
    assert counts["running_per_socket"] <= 2 + 2 / sockets, counts
    assert counts["waiting_per_socket"] <= 1, counts
    assert counts["running_left_after_close"] <= 2, counts
