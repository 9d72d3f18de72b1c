"""Run as `python -m tests.support.green_probe N SECONDS` with IM_ASYNC_MODE and DATABASE_URL set.

Boots the server module exactly as `python app.py` does (same monkey-patching), runs N database
sleeps of SECONDS each in concurrent green threads and prints the wall time: about SECONDS when
the driver yields while waiting on PostgreSQL, N * SECONDS when it blocks the whole process.
"""

import os
import sys
import time

sys.path.insert(0, os.getcwd())

from sqlalchemy import text  # noqa: E402

import app as server  # noqa: E402  (patches first, as in production)
from im.extensions import db, socketio  # noqa: E402


def main() -> None:
    count, seconds = int(sys.argv[1]), float(sys.argv[2])
    done = []

    def sleep_in_database():
        with server.app.app_context():
            db.session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
            db.session.remove()
        done.append(True)

    started = time.monotonic()
    for _ in range(count):
        socketio.start_background_task(sleep_in_database)
    while len(done) < count:
        socketio.sleep(0.01)
    print(f"elapsed {time.monotonic() - started:.3f}")


if __name__ == "__main__":
    main()
