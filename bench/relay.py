"""The ceiling of our stack: a bare Flask-SocketIO relay with the server's event names.

Same async mode and same libraries as the server, but no auth, no database and no validation: a socket
names its user in the connect auth, `send_message` is forwarded as `new_message` and acked with the
server's envelope. Groups live in memory; messages to a user with no socket are kept in memory so that
the catch-up scenario has something to pull. It exists only to measure what the server costs.
"""

import os

ASYNC_MODE = os.environ.get("IM_ASYNC_MODE", "gevent")
if ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
elif ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()

import itertools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from im.serving import run_options  # noqa: E402  (the server's socket options, for a fair ceiling)

app = Flask(__name__)
socketio = SocketIO(app, async_mode=ASYNC_MODE, manage_session=False)

_msg_ids = itertools.count(1)
_groups: dict[str, list[str]] = {}
_online: dict[str, int] = {}
_offline: dict[str, list[dict]] = {}


@app.get("/healthz")
def healthz():
    return {"ok": True}


@socketio.on("connect")
def on_connect(auth=None):
    user_id = (auth or {}).get("user_id") or request.args.get("user_id")
    if not user_id:
        return False
    request.environ["relay.user_id"] = user_id
    _online[user_id] = _online.get(user_id, 0) + 1
    join_room(f"u:{user_id}")


@socketio.on("disconnect")
def on_disconnect(reason=None):
    user_id = request.environ.get("relay.user_id")
    if user_id and _online.get(user_id):
        _online[user_id] -= 1


@socketio.on("create_group")
def on_create_group(data):
    group_id = f"g{next(_msg_ids)}"
    _groups[group_id] = list(data["member_user_ids"]) + [request.environ["relay.user_id"]]
    return {"errCode": 0, "errMsg": "", "data": {"group_id": group_id}}


@socketio.on("send_message")
def on_send_message(data):
    msg = dict(
        data, send_id=request.environ["relay.user_id"], server_msg_id=next(_msg_ids), send_time=int(time.time() * 1000)
    )
    if "group_id" in data:
        # One packet encoded once for every member's user room, as the server can do at best.
        socketio.emit("new_message", msg, to=[f"u:{m}" for m in _groups[data["group_id"]]])
    else:
        recv_id = data["recv_id"]
        if _online.get(recv_id):
            socketio.emit("new_message", msg, to=f"u:{recv_id}")
        else:
            _offline.setdefault(recv_id, []).append(msg)
    return {"errCode": 0, "errMsg": "", "data": msg}


@socketio.on("pull_offline")
def on_pull_offline(data):
    """A page of the messages kept for this user while it had no socket."""
    kept = _offline.get(request.environ["relay.user_id"], [])
    start, count = data.get("offset", 0), data.get("count", 1000)
    return {"errCode": 0, "errMsg": "", "data": kept[start : start + count]}


if __name__ == "__main__":
    socketio.run(
        app, host="127.0.0.1", port=int(os.environ.get("PORT", 5100)), log_output=False, **run_options(ASYNC_MODE)
    )
