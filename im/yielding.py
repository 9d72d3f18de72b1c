"""A pause inside long work that lets every other request, socket and timer of the process run.

Not `sleep(0)`: under gevent that switches only to callbacks already queued, so no socket is read and
no timer fires until the work ends (measured: another greenlet sending every 20 ms got 4 sends through
while a 5,000-conversation list was built in pages with `sleep(0)` between, 123 with this pause). A
timer of a millisecond makes the loop poll; 50 pauses add about 50 ms to the work that takes them.
"""

from .extensions import socketio

PAUSE_S = 0.001


def pause() -> None:
    socketio.sleep(PAUSE_S)
