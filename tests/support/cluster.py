"""Several server processes of one deployment: one PostgreSQL database, one Redis channel."""

import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from .server import LiveServer, free_port


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Cluster:
    def __init__(self, workdir: Path, database_url: str, redis_url: str):
        self.workdir = Path(workdir)
        self.env = {
            "DATABASE_URL": database_url,
            "IM_MESSAGE_QUEUE": redis_url,
            # a channel of its own: Redis pub/sub is shared by every test run on that server
            "IM_MESSAGE_QUEUE_CHANNEL": "im-test-" + secrets.token_hex(6),
            "IM_ADMIN_SECRET": "admin-secret",
        }
        self.nodes: list[LiveServer] = []

    def start(self, count: int = 2, env: dict | None = None, gunicorn: bool = False) -> list[LiveServer]:
        """Start `count` nodes at once (they race to migrate the fresh database, as real nodes do);
        with gunicorn=True through the documented production command instead of `python app.py`."""
        new = [
            LiveServer(self.workdir / f"node{len(self.nodes) + i + 1}", {**self.env, **(env or {})})
            for i in range(count)
        ]
        if gunicorn:
            for node in new:
                node.command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"]
                node.ready_banner = "Listening at: {url}"
        self.nodes.extend(new)
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda node: node.start(), new))
        for node in new:
            node.node_id = requests.get(node.url + "/healthz", timeout=5).json()["node_id"]
        return new

    @staticmethod
    def kill(node: LiveServer) -> None:
        """SIGKILL: the process gets no chance to clean up, as when a machine dies."""
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)

    def stop(self) -> None:
        # Signal every node first: each shuts down gracefully (about a second) at the same time.
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            node.stop()


class Nginx:
    """A real nginx in front of the nodes, sticky by client address, on a free loopback port."""

    def __init__(self, binary: str, workdir: Path, upstreams: list[str]):
        self.binary = binary
        self.prefix = Path(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstreams = upstreams
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        servers = "\n".join(f"        server {u};" for u in self.upstreams)
        template = (Path(__file__).resolve().parents[2] / "docs" / "nginx.conf").read_text()
        site = template.split("# --- site ---", 1)[1]
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        site = site.replace("server_name im.example.com;", "server_name localhost;")
        site = _replace_upstream_servers(site, servers)
        return (
            "worker_processes 1;\n"
            f"pid {self.prefix / 'nginx.pid'};\n"
            f"error_log {self.prefix / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log {self.prefix / 'access.log'};\n"
            f"    client_body_temp_path {self.prefix / 'body'};\n"
            f"    proxy_temp_path {self.prefix / 'proxy'};\n"
            f"    fastcgi_temp_path {self.prefix / 'fastcgi'};\n"
            f"    uwsgi_temp_path {self.prefix / 'uwsgi'};\n"
            f"    scgi_temp_path {self.prefix / 'scgi'};\n"
            f"{site}\n"
            "}\n"
        )

    def start(self, timeout: float = 10.0) -> "Nginx":
        self.prefix.mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        with open(self.prefix / "stderr.log", "ab") as stderr:
            self.proc = subprocess.Popen(
                [self.binary, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + (self.prefix / "stderr.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _replace_upstream_servers(site: str, servers: str) -> str:
    """Swap the example's `server host:port;` lines inside `upstream im_nodes { ... }` for ours."""
    head, rest = site.split("upstream im_nodes {", 1)
    body, tail = rest.split("}", 1)
    kept = "\n".join(line for line in body.splitlines() if not line.strip().startswith("server "))
    return f"{head}upstream im_nodes {{{kept}\n{servers}\n    }}{tail}"
