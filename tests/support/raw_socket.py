"""A bare Socket.IO client over one websocket, speaking the wire protocol by hand.

Abuse tests need what a well-behaved client never does: never read, send oversized or malformed
frames. The SDK cannot be made to misbehave, so these tests use this instead.
"""
import itertools
import json
import socket

import websocket


class RawSocket:
    def __init__(self, url: str, token: str, *, recv_buffer: int | None = None, timeout: float = 10.0):
        options = []
        if recv_buffer:
            options.append((socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer))
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=timeout, sockopt=options)
        self._ids = itertools.count(1)
        opening = self.ws.recv()
        assert opening.startswith("0{"), opening
        self.ws.send("40" + json.dumps({"token": token}))
        answer = self._next_packet()
        assert answer.startswith("40{"), answer

    def _next_packet(self) -> str:
        """The next packet that is not a ping (pings are answered, as a live client must)."""
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
                continue
            return packet

    def call(self, event: str, payload: dict) -> dict:
        """Emit an event with an ack and return the ack's envelope, skipping pushed events."""
        ack_id = next(self._ids)
        self.ws.send(f"42{ack_id}" + json.dumps([event, payload]))
        prefix = f"43{ack_id}"
        while True:
            packet = self._next_packet()
            if packet.startswith(prefix):
                return json.loads(packet[len(prefix):])[0]

    def wait_event(self, name: str) -> dict:
        """The payload of the next pushed event `name` (the socket's timeout bounds the wait)."""
        while True:
            packet = self._next_packet()
            if packet.startswith("42["):
                event, *args = json.loads(packet[2:])
                if event == name:
                    return args[0] if args else None

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def is_open(self) -> bool:
        """Whether the server still answers: a ping probe gets an ack or the connection is gone."""
        try:
            return "errCode" in self.call("get_self_user_info", {})
        except (websocket.WebSocketException, OSError):
            return False

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.ws.shutdown()
