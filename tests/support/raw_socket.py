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
        self.close_code: int | None = None  # the server's close frame's status, once one arrived
        opening = self.ws.recv()
        assert opening.startswith("0{"), opening
        self.ws.send("40" + json.dumps({"token": token}))
        answer = self._next_packet()
        assert answer.startswith("40{"), answer

    def _next_packet(self) -> str:
        """The next packet that is not a ping (pings are answered, as a live client must).

        A close frame ends the wait at once: recv() would report it as an empty packet, and waiting
        on for a next one lasted as long as the server kept its end open after closing.
        """
        while True:
            opcode, frame = self.ws.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                raise websocket.WebSocketConnectionClosedException(f"closed by the server ({self.close_code})")
            if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                continue  # a websocket-level ping or pong, answered by the library
            packet = frame.data.decode("utf-8") if opcode == websocket.ABNF.OPCODE_TEXT else frame.data
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
                return json.loads(packet[len(prefix) :])[0]

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

    def wait_closed(self) -> int | None:
        """Read until the server's close frame (the socket's timeout bounds the wait); its status code."""
        try:
            while True:
                self._next_packet()
        except (websocket.WebSocketException, OSError):
            return self.close_code

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
