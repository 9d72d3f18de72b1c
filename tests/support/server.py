"""A real server process on a free loopback port, as a user would run it (python app.py)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
FAST_HASH = {"IM_ARGON2_TIME_COST": "1", "IM_ARGON2_MEMORY_KIB": "64"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owns_listening_port(pid: int, port: int) -> bool | None:
    """Whether process `pid` holds the socket listening on `port`; None where /proc cannot tell."""
    try:
        inodes = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return True
            except OSError:
                continue  # closed meanwhile
        return False
    except (OSError, ValueError, IndexError):
        return None


class LiveServer:
    def __init__(self, workdir: Path, env: dict | None = None, port: int | None = None, template: Path | None = None):
        """`template`: a SQLite file already at the newest migration, copied in as the database when
        the default one in `workdir` does not exist yet (start-up then skips the migrations)."""
        self.workdir = Path(workdir)
        self.template = template
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **FAST_HASH,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SECRET_KEY": "test-secret",
            "IM_SWEEP_INTERVAL": "0.2",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'im.sqlite3'}",
            **(env or {}),
        }
        self.log_path = self.workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.command = [sys.executable, str(ROOT / "app.py")]
        # the log line by which this process announces its port (gunicorn words it differently)
        self.ready_banner = "serving on {url}"

    def start(self, timeout: float = 30.0, attempts: int = 3) -> "LiveServer":
        """Start and wait for /healthz; on a port taken by another process, retry on a new port."""
        for attempt in range(attempts):
            if self._start_once(timeout):
                return self
            if attempt + 1 < attempts and "Address already in use" in self.log_tail():
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
                self.env["PORT"] = str(self.port)
                continue
            break
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def _start_once(self, timeout: float) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = self.workdir / "im.sqlite3"
        if self.template is not None and self.env["DATABASE_URL"] == f"sqlite:///{database}" and not database.exists():
            shutil.copyfile(self.template, database)
        self.log_path = self.workdir / f"server-{self.port}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                return False
            if self.ready_banner.format(url=self.url) not in self.log_tail(400):
                time.sleep(0.05)
                continue  # still importing: whatever answers on the port now is not ours
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    # Another process could be answering on this port: ours must be the listener.
                    ours = _owns_listening_port(self.proc.pid, self.port)
                    if ours is None:  # no /proc: ours must still be alive a moment later
                        time.sleep(0.3)
                        ours = self.proc.poll() is None
                    if ours:
                        return True
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                self._log.close()
                return False
            time.sleep(0.05)
        return False

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def admin(self, name: str, payload: dict, secret: str | None = None) -> dict:
        secret = secret or self.env.get("IM_ADMIN_SECRET", "")
        return requests.post(
            f"{self.url}/api/{name}", json=payload, headers={"X-IM-Admin-Secret": secret}, timeout=10
        ).json()
