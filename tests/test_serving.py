"""The web server's socket options and what an idle socket keeps."""

import json
import os
import socket
import subprocess
import sys
import time

from im.serving import gevent_handler_class, run_options
from tests.support.recorder import wait_until
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
        sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )
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
    env = {
        **os.environ,
        **FAST_HASH,
        "IM_ASYNC_MODE": "gevent",
        "IM_RATE_LIMITS_ENABLED": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'im.sqlite3'}",
    }
    sockets = 20
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.socket_probe", str(sockets)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    # the sweeper, Engine.IO's service task and the handshake deadline's sweep (im/realtime/handshake.py)
    # start with the first socket: 3 more in all
    assert counts["running_per_socket"] <= 2 + 3 / sockets, counts
    assert counts["waiting_per_socket"] <= 1, counts
    assert counts["running_left_after_close"] <= 3, counts


def _polling_handshake(client):
    answer = client.get("/socket.io/?EIO=4&transport=polling")
    return answer.status_code, answer.get_data(as_text=True)


def _polling_sid(client) -> str:
    status, body = _polling_handshake(client)
    assert status == 200, body
    return json.loads(body[1:])["sid"]


def test_the_handshake_guard_wraps_python_socketios_engineio_handlers(app):
    """The guard sits between Engine.IO and python-socketio's own connect and disconnect handlers
    (im/realtime/handshake.py). If python-socketio stops registering them this way, this fails."""
    import socketio as python_socketio

    server = app.extensions["socketio"].server
    guard = server.eio.im_handshake
    assert server.eio.handlers["connect"] == guard._on_eio_connect
    assert server.eio.handlers["disconnect"] == guard._on_eio_disconnect
    assert guard._connect.__func__ is python_socketio.Server._handle_eio_connect
    assert guard._disconnect.__func__ is python_socketio.Server._handle_eio_disconnect


def test_a_connection_counts_until_its_connect_is_accepted_or_it_closes(app, api):
    _user, token = api.user()
    guard = app.extensions["socketio"].server.eio.im_handshake
    client = app.test_client()

    sid = _polling_sid(client)
    assert guard.pending_count("127.0.0.1") == 1
    client.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40" + json.dumps({"token": token}))
    wait_until(lambda: guard.pending_count() == 0, message="an accepted CONNECT no longer counts")

    sid = _polling_sid(client)
    client.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40" + json.dumps({"token": "bad"}))
    assert guard.pending_count("127.0.0.1") == 1  # a refused CONNECT leaves it waiting
    client.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="1")  # Engine.IO close
    wait_until(lambda: guard.pending_count() == 0, message="a closed connection no longer counts")


def test_beyond_the_cap_the_handshake_is_refused_and_the_deadline_frees_it(app):
    guard = app.extensions["socketio"].server.eio.im_handshake
    guard.max_per_address = 2
    client = app.test_client()
    sids = [_polling_sid(client), _polling_sid(client)]
    status, body = _polling_handshake(client)
    assert status == 401 and json.loads(body)["errCode"] == 1008, body
    assert guard.pending_count("127.0.0.1") == 2

    assert guard.sweep(now=time.monotonic() + guard.timeout + 1) == 2
    assert guard.pending_count() == 0
    assert not any(sid in guard.eio.sockets for sid in sids)
    _polling_sid(client)
