"""Processes of a bench run: the server or the relay on a free loopback port, and their CPU and memory."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from im.ratelimit import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parent.parent
# Sign-ups and logins happen before any timing; a cheap argon2 keeps the setup of thousands short.
FAST_HASH = {"IM_ARGON2_TIME_COST": "1", "IM_ARGON2_MEMORY_KIB": "64"}
# All the load comes from one address, which per-address limits (abuse protection) would refuse, and
# the setup signs in thousands of users at once. Every limit stays on, so each operation still pays
# for counting, but none is reached.
RAISED_RATE_LIMITS = {f"IM_RATE_LIMIT_{name.upper()}": "1000000/second" for name in DEFAULT_LIMITS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Target:
    """One process under test: `relay` (bench/relay.py) or `server` (app.py) with a database URL."""

    def __init__(self, kind: str, workdir: Path, database_url: str | None = None, async_mode: str = "gevent"):
        self.kind = kind
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = ROOT / ("bench/relay.py" if kind == "relay" else "app.py")
        self.cmd = [sys.executable, str(script)]
        self.env = {
            **os.environ,
            **FAST_HASH,
            **RAISED_RATE_LIMITS,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "IM_ASYNC_MODE": async_mode,
            "SECRET_KEY": "bench-secret",
        }
        if kind == "server":
            self.env["DATABASE_URL"] = database_url or f"sqlite:///{self.workdir / 'im.sqlite3'}"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> "Target":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.kind}-{self.port}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
