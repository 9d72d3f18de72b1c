"""The library internals im/adapters/ (and im/serving.py, app.py) rely on: the installed releases are
the ones the code was written for, and each internal is still there and behaves as assumed.

A failure here after an upgrade says which module to re-read against the new release: change the
code if the internal changed, then its TARGETS and the pin in requirements.txt.
"""

import inspect
import socket
import time
import warnings

import engineio
import pytest
import socketio
import wsproto
from engineio import packet as eio_packet
from engineio import socket as engineio_socket
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from simple_websocket.ws import ConnectionClosed
from werkzeug.test import EnvironBuilder
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from im import serving
from im.adapters import engineio as engineio_adapter
from im.adapters import installed
from im.adapters import limits as limits_adapter
from im.adapters import simple_websocket as simple_websocket_adapter
from im.adapters import socketio as socketio_adapter

# app.py replaces psycopg.waiting.wait with wait_select under eventlet
APP_PY_TARGETS = {"psycopg": "3.3.9"}

MODULES = {
    "im/adapters/engineio.py": engineio_adapter.TARGETS,
    "im/adapters/simple_websocket.py": simple_websocket_adapter.TARGETS,
    "im/adapters/socketio.py": socketio_adapter.TARGETS,
    "im/adapters/limits.py": limits_adapter.TARGETS,
    "im/serving.py": serving.TARGETS,
    "app.py": APP_PY_TARGETS,
}


@pytest.mark.parametrize("module", MODULES)
def test_the_installed_releases_are_the_ones_the_code_was_written_for(module):
    targets = MODULES[module]
    have = installed(targets)
    assert have == targets, (
        f"{module} was written for {targets}, installed: {have}. Re-read what its docstring lists of "
        "the library in the new release, change the code if that changed, then update its TARGETS "
        "and requirements.txt."
    )


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


# --- python-engineio ---


def _polling_socket(eio) -> str:
    """Open an Engine.IO connection with a polling handshake; its sid."""
    environ = EnvironBuilder(path="/engine.io/", query_string="EIO=4&transport=polling").get_environ()
    body = b"".join(eio.handle_request(environ, lambda status, headers: None))
    assert body.startswith(b"0"), body
    return next(iter(eio.sockets))


def test_engineio_schedule_ping_starts_send_ping_which_sleeps_then_pings():
    """What adapters.engineio.time_pings repeats with a timer: clear last_ping, wait the interval, then
    set last_ping and send a PING unless the socket is closing or closed."""
    eio = engineio.Server(async_mode="threading", ping_interval=7)
    sock = engineio_socket.Socket(eio, "s1")
    started, slept, sent = [], [], []
    eio.start_background_task = lambda fn, *args: started.append(fn)
    eio.sleep = slept.append
    sock.send = sent.append

    sock.last_ping = 1.0
    engineio_adapter._engineio_schedule_ping(sock)
    assert sock.last_ping is None
    assert [fn.__func__ for fn in started] == [engineio_socket.Socket._send_ping]
    engineio_adapter._engineio_schedule_ping(sock)  # no ping cycle completed since: nothing started
    assert len(started) == 1

    before = time.time()
    started[0]()
    assert slept == [7]
    assert [(p.packet_type, p.data) for p in sent] == [(eio_packet.PING, None)]
    assert sock.last_ping >= before
    sock.closed = True
    started[0]()
    assert len(sent) == 1


def test_timed_pings_wait_on_the_timer_and_send_what_engineio_sends():
    eio = engineio.Server(async_mode="threading", ping_interval=7)
    other = engineio.Server(async_mode="threading", ping_interval=7)
    original = engineio_socket.Socket.schedule_ping
    later, started, sent = [], [], []
    try:
        engineio_adapter.time_pings(eio, lambda seconds, fn, *args: later.append((seconds, fn, args)))
        sock = engineio_socket.Socket(eio, "s1")
        sock.send = sent.append
        sock.last_ping = 1.0
        sock.schedule_ping()
        assert sock.last_ping is None and len(later) == 1
        seconds, fn, args = later[0]
        assert seconds == 7
        fn(*args)
        assert [(p.packet_type, p.data) for p in sent] == [(eio_packet.PING, None)]

        other.start_background_task = lambda fn, *args: started.append(fn)
        untouched = engineio_socket.Socket(other, "s2")
        untouched.last_ping = 1.0
        untouched.schedule_ping()
        assert len(later) == 1 and len(started) == 1, "a server not asked keeps Engine.IO's own pings"
    finally:
        engineio_socket.Socket.schedule_ping = original


def test_engineio_upgrades_to_the_websocket_class_of_its_server():
    made = []

    class Recorder:
        def __init__(self, handler, server):
            made.append((handler, server))

        def __call__(self, environ, start_response):
            made.append(environ)
            return []

    eio = engineio.Server(async_mode="threading")
    engineio_adapter.use_websocket_class(eio, Recorder)
    sock = engineio_socket.Socket(eio, "s1")
    environ = {"REQUEST_METHOD": "GET"}
    sock._upgrade_websocket(environ, lambda status, headers: None)
    assert made == [(sock._websocket_handler, eio), environ]


def test_engineio_gevent_driver_wraps_simple_websocket_with_its_wrapper_class():
    from engineio.async_drivers import gevent as engineio_gevent

    assert engineio_adapter.gevent_uses_simple_websocket()
    assert issubclass(engineio_gevent._async["websocket"], engineio_adapter.SimpleWebSocketWSGI)
    handler, server = object(), object()
    wrapper = engineio_adapter.SimpleWebSocketWSGI(handler, server, receive_bytes=10)
    assert wrapper.app is handler and wrapper.server_args == {"receive_bytes": 10}
    assert all(callable(getattr(wrapper, name)) for name in ("wait", "send", "close"))


def test_engineio_handlers_and_closing_a_connection_at_once():
    eio = engineio.Server(async_mode="threading")
    reasons = []

    def on_disconnect(sid, reason):
        reasons.append(reason)

    eio.on("disconnect", on_disconnect)
    assert engineio_adapter.handler(eio, "disconnect") is on_disconnect
    assert engineio_adapter.handler(eio, "connect") is None
    sid = _polling_socket(eio)
    assert "wait" in _params(engineio_socket.Socket.close) and "reason" in _params(engineio_socket.Socket.close)
    assert engineio_adapter.close_at_once(eio, sid)
    assert sid not in eio.sockets
    assert reasons == [eio.reason.SERVER_DISCONNECT]
    assert not engineio_adapter.close_at_once(eio, sid)


def test_python_socketio_registers_its_handlers_on_engineio():
    server = socketio.Server(async_mode="threading")
    assert engineio_adapter.handler(server.eio, "connect").__func__ is socketio.Server._handle_eio_connect
    assert engineio_adapter.handler(server.eio, "disconnect").__func__ is socketio.Server._handle_eio_disconnect


# --- simple-websocket ---


def _websocket_pair(max_message_size=None):
    """An InlineServer on one end of a socket pair, a wsproto client on the other."""
    from im.websocket import InlineServer

    server_end, client_end = socket.socketpair()
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    # The server reads the request head from the environ, as from a WSGI server: only its key is needed.
    head = client.send(Request(host="im.test", target="/")).decode()
    key = next(
        line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key")
    )
    environ = {
        "werkzeug.socket": server_end,
        "HTTP_HOST": "im.test",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_UPGRADE": "websocket",
        "HTTP_SEC_WEBSOCKET_KEY": key,
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    ws = InlineServer(environ, max_message_size=max_message_size)
    assert ws.thread.name == simple_websocket_adapter.NoReader.name, "simple-websocket started its own reader"
    client_end.settimeout(10)
    client.receive_data(client_end.recv(65536))
    assert any(isinstance(event, AcceptConnection) for event in client.events())
    return ws, client, client_end


def test_simple_websocket_reads_messages_and_the_close_through_its_event_handling():
    ws, client, client_end = _websocket_pair()
    try:
        assert _params(simple_websocket_adapter.handle_events) == ["ws"]
        client_end.sendall(client.send(TextMessage("hello")) + client.send(TextMessage("again")))
        assert ws.receive() == "hello" and ws.receive() == "again"
        client_end.sendall(client.send(CloseConnection(code=1000, reason="bye")))
        with pytest.raises(ConnectionClosed):
            ws.receive()
        assert (ws.close_reason, ws.close_message) == (1000, "bye")
        client.receive_data(client_end.recv(65536))
        assert [type(event) for event in client.events()] == [CloseConnection], "the close was not answered"
    finally:
        client_end.close()


def test_simple_websocket_refuses_a_message_past_its_size_with_1009():
    ws, client, client_end = _websocket_pair(max_message_size=1000)
    try:
        client_end.sendall(client.send(TextMessage("x" * 2000)))
        client_end.shutdown(socket.SHUT_WR)  # so that the server's lingering read ends at once
        with pytest.raises(ConnectionClosed):
            ws.receive()
        client.receive_data(client_end.recv(65536))
        closes = [event for event in client.events() if isinstance(event, CloseConnection)]
        assert [event.code for event in closes] == [1009]
    finally:
        client_end.close()


# --- python-socketio ---


def test_python_socketio_keeps_a_processs_rooms_where_the_unread_push_reads_them():
    server = socketio.Server(async_mode="threading")
    assert not socketio_adapter.has_local_sockets(server, "u:ann")
    server.manager.connect("e1", "/")
    sid = server.manager.sid_from_eio_sid("e1", "/")
    server.manager.enter_room(sid, "/", "u:ann")
    assert socketio_adapter.has_local_sockets(server, "u:ann"), "python-socketio's manager.rooms changed shape"
    server.manager.leave_room(sid, "/", "u:ann")
    assert not socketio_adapter.has_local_sockets(server, "u:ann")


def test_python_socketio_hands_each_event_to_the_dispatch_that_took_its_place():
    server = socketio.Server(async_mode="threading")
    sent, events = [], []
    server.eio.send = lambda eio_sid, data: sent.append(data)
    server.on("add", lambda sid, n: n + 1)
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    server._handle_eio_connect("e1", environ)
    server._handle_eio_message("e1", "0")  # Socket.IO CONNECT to "/"
    assert sent and sent[-1].startswith("0{"), sent
    assert socketio_adapter.environ(server, "e1") is environ
    sid = server.manager.sid_from_eio_sid("e1", "/")

    # the default namespace comes as None (dispatch reads it as "/", as python-socketio does)
    socketio_adapter.take_event_dispatch(
        server, lambda eio_sid, ns, id, data: events.append((eio_sid, ns or "/", id, data))
    )
    server._handle_eio_message("e1", '21["add",1]')
    assert events == [("e1", "/", 1, ["add", 1])], "python-socketio no longer dispatches through _handle_event"

    socketio_adapter.run_event(server, sid, "e1", ["add", 1], "/", 1)
    assert sent[-1] == "31[2]"
    socketio_adapter.send_ack(server, "e1", "/", 2, [{"errCode": 1008}])
    assert sent[-1] == '32[{"errCode":1008}]'
    assert _params(socketio.Server._handle_event) == ["self", "eio_sid", "namespace", "id", "data"]
    assert _params(socketio.Server._handle_event_internal) == [
        "self",
        "server",
        "sid",
        "eio_sid",
        "data",
        "namespace",
        "id",
    ]


# --- limits ---


def test_limits_memory_storage_schedules_and_runs_its_expiry_through_the_overridden_methods():
    calls = []

    class Counting(MemoryStorage):
        def _MemoryStorage__schedule_expiry(self):
            calls.append("schedule")

    storage = Counting()
    SlidingWindowCounterRateLimiter(storage).hit(parse("5/second"), "name", "key")
    assert calls, "limits' MemoryStorage no longer restarts its timer through __schedule_expiry"

    swept = limits_adapter.SweptMemoryStorage()
    swept.incr("stale", 60)
    swept.incr("fresh", 60)
    swept.expirations["stale"] = time.time() - 1
    swept.expire()
    assert dict(swept.storage) == {"fresh": 1}


# --- gevent.pywsgi and eventlet.wsgi (im/serving.py), psycopg (app.py) ---


def test_the_web_server_methods_im_serving_overrides():
    from gevent import pywsgi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Eventlet warns that it is deprecated, on import
        from eventlet import wsgi

    handler = pywsgi.WSGIHandler
    assert _params(handler._handle_client_error) == ["self", "ex"]
    assert _params(handler.read_request) == ["self", "raw_requestline"]
    for name in ("handle", "read_requestline", "run_application", "process_result", "start_response"):
        assert callable(getattr(handler, name)), name
    # a request head that fails to parse (our HeadTimeout too) reaches _handle_client_error
    assert "self._handle_client_error(ex)" in inspect.getsource(handler.handle_one_request)
    assert "self.read_requestline()" in inspect.getsource(handler.handle_one_request)
    assert _params(wsgi.HttpProtocol.handle_one_request) == ["self"]
    assert "self.parse_request()" in inspect.getsource(wsgi.HttpProtocol.handle_one_request)


def test_psycopg_waits_app_py_swaps():
    import psycopg.waiting

    assert _params(psycopg.waiting.wait_select)[:2] == _params(psycopg.waiting.wait)[:2] == ["gen", "fileno"]
