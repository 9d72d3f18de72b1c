"""Run as `python -m tests.support.socket_probe N` with DATABASE_URL set (gevent mode).

Boots the server module exactly as `python app.py` does (same monkey-patching), serves it in this
process, opens N authenticated idle WebSockets from the main greenlet (websocket-client is synchronous,
so the clients add no greenlets) and prints one JSON line: the greenlets that have started and not
ended (each keeps its own stack) and the ones waiting to start (a timer), per socket, while the
sockets are open and after they closed.
"""

import gc
import json
import os
import sys

sys.path.insert(0, os.getcwd())

import gevent  # noqa: E402
import greenlet  # noqa: E402
import requests  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

import app as server  # noqa: E402  (patches first, as in production)
from im.serving import gevent_handler_class  # noqa: E402
from tests.support.raw_socket import RawSocket  # noqa: E402


def _greenlets() -> tuple[int, int]:
    """(started and not ended, not yet started) greenlets in this process."""
    gc.collect()
    running = waiting = 0
    for g in gc.get_objects():
        if isinstance(g, greenlet.greenlet) and not g.dead:
            if g.gr_frame is not None:
                running += 1
            else:  # not started yet (and this greenlet itself, the same in every count)
                waiting += 1
    return running, waiting


def _token(url: str, user_id: str) -> str:
    account = {"user_id": user_id, "password": "password123"}
    requests.post(f"{url}/api/register", json={**account, "nickname": user_id}, timeout=10)
    answer = requests.post(f"{url}/api/login", json={**account, "platform_id": 5}, timeout=10).json()
    return answer["data"]["token"]


def main() -> None:
    count = int(sys.argv[1])
    http = WSGIServer(("127.0.0.1", 0), server.app, handler_class=gevent_handler_class(), log=None)
    http.start()
    url = f"http://127.0.0.1:{http.server_port}"
    tokens = [_token(url, f"idle{n}") for n in range(count)]
    gevent.sleep(0.5)
    before = _greenlets()
    sockets = [RawSocket(url, token) for token in tokens]
    gevent.sleep(0.5)
    assert all(s.call("get_self_user_info", {})["errCode"] == 0 for s in sockets)
    gevent.sleep(0.5)
    open_ = _greenlets()
    for s in sockets:
        s.close()
    gevent.sleep(1.0)
    closed = _greenlets()
    print(
        json.dumps(
            {
                "running_per_socket": (open_[0] - before[0]) / count,
                "waiting_per_socket": (open_[1] - before[1]) / count,
                "running_left_after_close": closed[0] - before[0],
            }
        )
    )
    http.stop(timeout=1)


if __name__ == "__main__":
    main()
