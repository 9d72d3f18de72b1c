"""Where the bigdata scenario's database lives: built once per size and schema head, copied per run.

SQLite: `bench/results/bigdata-<size>-v<N>-<head>.sqlite3` beside its description (.json).
PostgreSQL: the database `im_bigdata_<size>` (or $BENCH_BIGDATA_PG_DB), its description in the
database comment; each run measures `<name>_run`, made from it as a template and dropped after.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import bigdata_gen as gen

HERE = Path(__file__).resolve().parent


def schema_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE.parent / "migrations"))
    return "+".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def cache_key(size_name: str) -> str:
    return f"bigdata-{size_name}-v{gen.GENERATOR_VERSION}-{schema_head()}"


def build(url: str, size_name: str) -> dict:
    """Migrate an empty database at url, register the three named users, bulk-write the rest."""
    from im import create_app
    from im.extensions import db
    from im.models import User
    from im.operations import runner
    from im.services import auth

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IM_ARGON2_TIME_COST": 1, "IM_ARGON2_MEMORY_KIB": 64})
    with app.app_context():
        ctx = runner.context()
        for uid in (gen.HEAVY, gen.BYSTANDER, gen.BYPEER):
            auth.register(ctx, uid, gen.PASSWORD, uid)
        db.session.commit()
        password_hash = db.session.get(User, gen.HEAVY).password_hash
        # Every connection closed: PostgreSQL copies a template database only when nobody is in it.
        db.session.remove()
        db.engine.dispose()
    t0 = time.monotonic()
    info = gen.generate(url, gen.SIZES[size_name], password_hash)
    info["generate_s"] = round(time.monotonic() - t0, 1)
    return info


def sqlite_copy(out: Path, size_name: str, workdir: Path) -> tuple[str, dict, Path]:
    cached = out / f"{cache_key(size_name)}.sqlite3"
    meta = cached.with_suffix(".json")
    if not (cached.exists() and meta.exists()):
        for stale in out.glob(f"bigdata-{size_name}-*"):
            stale.unlink()
        print(f"# bigdata: generating {size_name} on SQLite (once) ...", file=sys.stderr, flush=True)
        tmp = cached.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        info = build(f"sqlite:///{tmp}", size_name)
        tmp.rename(cached)
        for leftover in (".building-wal", ".building-shm"):
            cached.with_suffix(leftover).unlink(missing_ok=True)
        meta.write_text(json.dumps(info))
    work = workdir / "im.sqlite3"
    shutil.copyfile(cached, work)
    return f"sqlite:///{work}", json.loads(meta.read_text()), work


def pg_copy(admin_url: str, size_name: str) -> tuple[str, dict, str]:
    import psycopg

    name, key = os.environ.get("BENCH_BIGDATA_PG_DB") or f"im_bigdata_{size_name}", cache_key(size_name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        meta = json.loads(row[0]) if row and row[0] and row[0].startswith("{") else None
        if meta is None or meta.get("key") != key:
            print(f"# bigdata: generating {size_name} on PostgreSQL (once) ...", file=sys.stderr, flush=True)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            meta = {**build(pg_url(admin_url, name), size_name), "key": key}
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{json.dumps(meta)}'")
        work = f"{name}_run"
        conn.execute(f'DROP DATABASE IF EXISTS "{work}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{work}" TEMPLATE "{name}"')
    return pg_url(admin_url, work), meta, work


def pg_url(admin_url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(admin_url)
    password = f":{info['password']}" if info.get("password") else ""
    return (
        f"postgresql+psycopg://{info.get('user', 'postgres')}{password}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', '5432')}/{name}"
    )


def drop_pg(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
