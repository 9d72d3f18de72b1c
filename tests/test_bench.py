"""`make bench` at a tiny size, so that the harness keeps working as the server changes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _node_ready() -> bool:
    return shutil.which("node") is not None and (BENCH / "node_modules" / "socket.io-client").is_dir()


@pytest.fixture(scope="module")
def node_modules():
    if not _node_ready():
        if shutil.which("npm") is None:
            pytest.fail("node and npm are needed for the bench harness") if _ci() else pytest.skip("no npm")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True, capture_output=True, timeout=180
        )


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() == "true"


def test_tiny_bench_measures_every_scenario_on_relay_and_server(node_modules, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--size", "tiny", "--targets", "relay,sqlite", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    headline = json.loads(proc.stdout.strip().splitlines()[-1])
    results = json.loads((tmp_path / "latest.json").read_text())
    for scenario, per_target in results["scenarios"].items():
        for label, outcome in per_target.items():
            assert outcome["status"] == "ok", (scenario, label, outcome)
    for label in ("relay", "sqlite"):
        figures = headline["figures"][label]
        # Every figure was measured (tiny sizes make no claim about the targets, only that it runs).
        missing = [name for name, value in figures.items() if value is None]
        assert not missing, (label, missing, proc.stdout[-3000:])
    assert set(headline["targets"]) == {
        "throughput_ratio_to_relay",
        "fixed_rate_p99_ms",
        "fanout_ratio_to_relay",
        "kib_per_connection",
        "catchup_s",
    }
    assert all(isinstance(t["met"], bool) for t in headline["targets"].values())
    catchup = results["scenarios"]["catchup"]["sqlite"]
    assert catchup["messages"] == catchup["distinct"] == catchup["expected"] > 0
    assert (tmp_path / "chart.svg").stat().st_size > 1000


def test_membership_bench_runs_and_finds_rows_linear(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.membership", "--users", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["invite"]["rows"]["messages"] == 1 and result["kick"]["rows"]["messages"] == 1


def test_bigdata_scenario_builds_checks_and_measures_a_tiny_database(tmp_path):
    """The bigdata scenario at its tiny size (8,000 messages) on SQLite and PostgreSQL: every figure."""
    import os
    import uuid

    pg_db = f"im_bigdata_test_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BENCH_BIGDATA_PG_DB": pg_db}
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(BENCH / "run.py"),
                "--scenarios",
                "bigdata",
                "--size",
                "tiny",
                "--targets",
                "sqlite,pg",
                "--out",
                str(tmp_path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        _drop_pg_database(pg_db)
        _drop_pg_database(f"{pg_db}_run")
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    headline = json.loads(proc.stdout.strip().splitlines()[-1])
    assert headline["scenario"] == "bigdata" and headline["size"] == "tiny"
    results = json.loads((tmp_path / "bigdata-latest.json").read_text())["scenarios"]["bigdata"]
    for label in ("sqlite", "pg"):
        assert results[label]["status"] == "ok", results[label]
        data = results[label]["data"]
        assert data["messages"] == 8_000 and data["heavy_conversations"] == 150
        # The prune found the year-old events and finished its pass over every user.
        assert results[label]["prune"]["rows"] > 0 and results[label]["prune"]["pass_done"] is True
        figures = headline["figures"][label]
        missing = [name for name, value in figures.items() if value is None]
        assert not missing, (label, missing)
    assert set(headline["targets"]) == {
        "search_first_page_ms",
        "search_page50_ratio",
        "login_to_sync_ms",
        "conversation_list_first_page_ms",
        "total_unread_ms",
        "bystander_send_p99_ms",
        "mib_per_million_messages",
    }
    for target in headline["targets"].values():
        assert isinstance(target["met"], bool) and {"sqlite", "pg"} <= set(target)
    # The cached database is kept for the next run; the working copy is not.
    assert len(list(tmp_path.glob("bigdata-tiny-*.sqlite3"))) == 1


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
