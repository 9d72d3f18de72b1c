"""`make bench`: every scenario against the bare relay and the server, a table, JSON and a chart.

    python bench/run.py [--size full|small|tiny] [--targets relay,sqlite,pg] [--scenarios ...]
                        [--out DIR] [--profile]

`--scenarios bigdata` (not run by default: it builds a 2.55M-message database the first time) measures
a year of data on SQLite and PostgreSQL (bench/bigdata.py); --size picks its database size too.

Each scenario gets fresh processes; users are registered and logged in over REST before timing. The
last line on stdout is one JSON object with every headline figure and whether each target is met.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import bigdata  # noqa: E402
import offline  # noqa: E402
import report  # noqa: E402
from procs import Target, cpu_seconds, rss_kib  # noqa: E402

SIZES = {
    "full": {
        "pairs_users": 200,
        "inflight": 5,
        "warmup_s": 1,
        "duration_s": 8,
        "rate": 1000,
        "rate_duration_s": 10,
        "drain_s": 10,
        "members": 500,
        "group_messages": 100,
        "sockets": 5000,
        "platforms": 10,
        "connect_concurrency": 100,
        "catchup_senders": 100,
        "catchup_per_sender": 100,
    },
    "small": {
        "pairs_users": 40,
        "inflight": 5,
        "warmup_s": 0.5,
        "duration_s": 3,
        "rate": 300,
        "rate_duration_s": 3,
        "drain_s": 5,
        "members": 100,
        "group_messages": 20,
        "sockets": 500,
        "platforms": 5,
        "connect_concurrency": 50,
        "catchup_senders": 10,
        "catchup_per_sender": 50,
    },
    "tiny": {
        "pairs_users": 4,
        "inflight": 2,
        "warmup_s": 0.2,
        "duration_s": 1,
        "rate": 40,
        "rate_duration_s": 1,
        "drain_s": 3,
        "members": 5,
        "group_messages": 5,
        "sockets": 12,
        "platforms": 2,
        "connect_concurrency": 10,
        "catchup_senders": 2,
        "catchup_per_sender": 10,
    },
}
SCENARIOS = ("throughput", "fixed_rate", "fanout", "connections", "catchup")
# Asked for by name only: minutes of setup the first time (the database is cached under --out).
EXTRA_SCENARIOS = ("bigdata",)
# PostgreSQL is the second row for the message paths; its connection and catch-up figures would repeat
# SQLite's setup minutes for little news (--pg-scenarios all to run them too).
PG_SCENARIOS = ("throughput", "fixed_rate", "fanout")
SCENARIO_TIMEOUT_S = 240
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def raise_fd_limit() -> int:
    """5,000 sockets need 5,000 descriptors on each side; children inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(want, 65536)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class PostgresDatabases:
    """A fresh database per server start on the PostgreSQL at BENCH_PG_URL, dropped at the end."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []

    def available(self) -> bool:
        try:
            import psycopg

            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except Exception:
            return False

    def create(self) -> str:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        name = f"im_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        info = conninfo_to_dict(self.admin_url)
        user = info.get("user", "postgres")
        host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
        password = f":{info['password']}" if info.get("password") else ""
        return f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


class Loadgen:
    """One run of bench/loadgen.mjs; samples the target's and its own CPU between the timing marks."""

    def __init__(self, target: Target, options: dict):
        self.target = target
        self.proc = subprocess.Popen(
            ["node", str(HERE / "loadgen.mjs"), json.dumps(options)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.cpu: dict[str, tuple[float, float, float]] = {}
        self._timer = threading.Timer(SCENARIO_TIMEOUT_S, self.proc.kill)
        self._timer.start()

    def events(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg.get("event") == "mark":
                self.cpu[msg["name"]] = (time.monotonic(), cpu_seconds(self.target.pid), cpu_seconds(self.proc.pid))
                continue
            yield msg

    def tell(self, line: str = "go") -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, msg: dict) -> dict:
        self._timer.cancel()
        self.proc.wait(30)
        if "error" in msg:
            raise RuntimeError(msg["error"].splitlines()[0])
        result = msg["result"]
        if "start" in self.cpu and "end" in self.cpu:
            (t0, s0, n0), (t1, s1, n1) = self.cpu["start"], self.cpu["end"]
            wall = max(t1 - t0, 1e-6)
            result["cpu"] = {
                "wall_s": round(wall, 3),
                "target_core_pct": round(100 * (s1 - s0) / wall, 1),
                "loadgen_core_pct": round(100 * (n1 - n0) / wall, 1),
            }
            if result.get("acked"):
                # CPU the target spent per acknowledged send: steadier than rates on a shared machine.
                result["cpu"]["target_cpu_ms_per_send"] = round(1000 * (s1 - s0) / result["acked"], 3)
        return result

    def run(self) -> dict:
        last = {"error": "load generator printed no result"}
        for msg in self.events():
            last = msg
        return self.finish(last)

    def kill(self) -> None:
        self._timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def node_options(scenario: str, target: Target, size: dict, run_id: str) -> dict:
    base = {
        "scenario": scenario,
        "url": target.url,
        "run_id": run_id,
        "target": "relay" if target.kind == "relay" else "server",
    }
    if scenario == "throughput":
        return {
            **base,
            "users": size["pairs_users"],
            "inflight": size["inflight"],
            "warmup_s": size["warmup_s"],
            "duration_s": size["duration_s"],
            "drain_s": size["drain_s"],
        }
    if scenario == "fixed_rate":
        return {
            **base,
            "users": size["pairs_users"],
            "rate": size["rate"],
            "duration_s": size["rate_duration_s"],
            "drain_s": size["drain_s"],
        }
    if scenario == "fanout":
        return {
            **base,
            "members": size["members"],
            "messages": size["group_messages"],
            "inflight": size["inflight"],
            "drain_s": size["drain_s"],
        }
    if scenario == "connections":
        return {
            **base,
            "sockets": size["sockets"],
            "platforms": size["platforms"],
            "connect_concurrency": size["connect_concurrency"],
        }
    if scenario == "preload_offline":
        return {**base, "senders": size["catchup_senders"], "per_sender": size["catchup_per_sender"]}
    raise ValueError(scenario)


def run_connections(target: Target, options: dict) -> dict:
    """Idle sockets: the target's resident memory before and after they all connect."""
    gen = Loadgen(target, options)
    try:
        before = after = None
        for msg in gen.events():
            if msg.get("event") == "users_ready":
                time.sleep(0.5)
                before = rss_kib(target.pid)
                gen.tell()
            elif msg.get("event") == "connected":
                time.sleep(1.0)  # let the last handshakes settle before reading memory
                after = rss_kib(target.pid)
                gen.tell()
            else:
                result = gen.finish(msg)
                result.update(
                    rss_before_kib=before,
                    rss_after_kib=after,
                    kib_per_connection=round((after - before) / result["sockets"], 2),
                )
                return result
        raise RuntimeError("load generator ended early")
    finally:
        gen.kill()


def run_scenario(scenario: str, target: Target, size: dict, run_id: str, profile_dir: Path | None) -> dict:
    if scenario == "connections":
        return run_connections(target, node_options(scenario, target, size, run_id))
    if scenario == "catchup":
        user_id = f"{run_id}o0"
        terminal = offline.prime(target, user_id, workdir=target.workdir / "sdk")
        options = {**node_options("preload_offline", target, size, run_id), "target_user": user_id}
        gen = Loadgen(target, options)
        try:
            preload = gen.run()
        finally:
            gen.kill()
        if preload["errors"]:
            raise RuntimeError(f"preload refused: {preload['first_error']}")
        return {**offline.run(target, user_id, preload["acked"], terminal), "preload": preload}
    gen = Loadgen(target, node_options(scenario, target, size, run_id))
    spy = None
    try:
        if profile_dir is not None and scenario == "throughput" and target.kind == "server":
            spy = start_profiler(target, profile_dir, size)
        return gen.run()
    finally:
        gen.kill()
        if spy is not None:
            spy.wait(60)


def start_profiler(target: Target, profile_dir: Path, size: dict) -> subprocess.Popen:
    """py-spy over the timed part of the throughput scenario, as a flame graph and raw stacks."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    profile_dir.mkdir(parents=True, exist_ok=True)
    seconds = int(size["warmup_s"] + size["duration_s"] + 3)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(target.pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(profile_dir / f"throughput-{target.db_label}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--targets", default=None, help="comma list of relay,sqlite,pg (default: all available)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--pg-scenarios", default=",".join(PG_SCENARIOS), help="scenarios also run on PostgreSQL, or all"
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--async-mode", default=os.environ.get("IM_ASYNC_MODE", "gevent"))
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the throughput scenario")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = SIZES[args.size]
    fd_limit = raise_fd_limit()
    pg = PostgresDatabases(os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    targets = args.targets.split(",") if args.targets else ["relay", "sqlite"] + (["pg"] if pg.available() else [])
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS) - set(EXTRA_SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS + EXTRA_SCENARIOS}")
    with_bigdata = "bigdata" in scenarios
    if with_bigdata:
        scenarios.remove("bigdata")
        if not scenarios:
            return run_bigdata(args, targets, pg, out)
    pg_scenarios = SCENARIOS if args.pg_scenarios == "all" else args.pg_scenarios.split(",")
    run_id = uuid.uuid4().hex[:6]
    results = {
        "size": args.size,
        "sizes": size,
        "async_mode": args.async_mode,
        "targets": targets,
        "machine": machine_info(fd_limit),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenarios": {},
    }
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="im-bench-"))
    try:
        for scenario in scenarios:
            results["scenarios"][scenario] = {}
            for label in targets:
                if label == "pg" and scenario not in pg_scenarios:
                    continue
                kind = "relay" if label == "relay" else "server"
                db_url = pg.create() if label == "pg" else None
                target = Target(kind, workdir / f"{scenario}-{label}", db_url, args.async_mode)
                target.db_label = label
                t0 = time.monotonic()
                print(f"# {scenario} on {label} ...", file=sys.stderr, flush=True)
                try:
                    with target:
                        outcome = run_scenario(
                            scenario, target, size, f"{run_id}{label[0]}", out / "profile" if args.profile else None
                        )
                    outcome["status"] = "ok"
                except Exception as exc:  # one failing target must not hide the others' figures
                    outcome = {"status": "failed", "error": str(exc)[:500]}
                outcome["elapsed_s"] = round(time.monotonic() - t0, 1)
                results["scenarios"][scenario][label] = outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg.created:
            pg.drop_all()
    results["total_s"] = round(time.monotonic() - started, 1)
    results["headline"] = report.headline(results)
    if with_bigdata:
        big = Path(tempfile.mkdtemp(prefix="im-bench-bigdata-"))
        try:
            big_results = bigdata.run([t for t in targets if t != "relay"], args.size, out, big, pg.admin_url)
        finally:
            shutil.rmtree(big, ignore_errors=True)
        results["bigdata"] = big_results
        results["headline"]["bigdata"] = bigdata.headline(big_results)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    chart = report.chart(results, out / "chart.svg")
    print(report.table(results))
    if chart:
        print(f"chart: {chart}")
    print(json.dumps(results["headline"], separators=(",", ":")))
    return 0


def run_bigdata(args, targets: list[str], pg: PostgresDatabases, out: Path) -> int:
    """The bigdata scenario alone: its own results file and its headline as the last line."""
    workdir = Path(tempfile.mkdtemp(prefix="im-bench-bigdata-"))
    started = time.monotonic()
    try:
        results = bigdata.run([t for t in targets if t != "relay"], args.size, out, workdir, pg.admin_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headline = {**bigdata.headline(results), "size": args.size, "total_s": round(time.monotonic() - started, 1)}
    (out / "bigdata-latest.json").write_text(
        json.dumps({"scenarios": {"bigdata": results}, "headline": headline}, indent=2)
    )
    print(json.dumps(headline, separators=(",", ":")))
    return 0 if all(r["status"] == "ok" for r in results.values()) else 1


def machine_info(fd_limit: int) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "node": node,
        "kernel": platform.release(),
        "fd_limit": fd_limit,
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
