"""The web server's socket options."""
import socket

from im.serving import gevent_handler_class, run_options


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
