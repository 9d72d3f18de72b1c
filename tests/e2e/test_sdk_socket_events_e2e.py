"""The Python SDK, logged in, listens on its socket to every socket event the server declares."""

from im import event_types
from im.sdk import IMClient


def test_the_logged_in_python_sdk_listens_to_every_declared_socket_event(shared_server):
    client = IMClient(shared_server().url)
    try:
        client.register("sdk_socket_events", "password123", "S")
        client.login("sdk_socket_events", "password123")
        listened = set(client._sio.handlers["/"])
        assert set(event_types.socket_events()) - listened == set()
    finally:
        client.close()
