"""Online backup and restore of the SQLite database while the server runs."""

import subprocess
import sys

from im import create_app
from im.extensions import db
from im.sdk import IMClient
from tests.support.server import ROOT


def _flask(server, *args):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "im", *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_backup_and_restore_round_trip_while_running(live_server, tmp_path):
    server = live_server()
    client = IMClient(server.url)
    try:
        client.register("before", "password123", "Before")
        backup = tmp_path / "backup.sqlite3"
        done = _flask(server, "backup", str(backup))
        assert done.returncode == 0, done.stderr
        # Never overwrites: the same command in this process (a third CLI process costs ~3 s of imports).
        cli_app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"],
                "IM_SOCKETIO_ASYNC_MODE": "threading",
                "TESTING": True,
            }
        )
        again = cli_app.test_cli_runner().invoke(args=["backup", str(backup)])
        with cli_app.app_context():
            db.engine.dispose()
        assert again.exit_code != 0 and "exists" in again.output

        client.register("after", "password123", "After")
        client.login("before", "password123")
        assert [u["user_id"] for u in client.get_users_info(["before", "after"])] == ["before", "after"]
        client.logout()

        restored = _flask(server, "restore", "--yes", str(backup))
        assert restored.returncode == 0, restored.stderr
        # the running server now serves the backup's content: "after" is gone, "before" still signs in
        client.login("before", "password123")
        assert [u["user_id"] for u in client.get_users_info(["before", "after"])] == ["before"]
    finally:
        client.close()
