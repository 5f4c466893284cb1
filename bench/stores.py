"""Throwaway PostgreSQL and Redis for the benchmarks: the configured servers (DATABASE_URL,
REDIS_URL; a fresh database is created and dropped), else embedded ones in a temporary directory;
`offline_settings`, the settings of a throwaway offline system on them; and `running_system`,
that system started as `ustadh up` starts it (Ray, the actors, the Serve application)."""
from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from core.config import Settings, load_settings
from core.db.migrate import migrate
from core.logs import setup_logging
from ops.embedded import EmbeddedPostgres, EmbeddedRedis


@contextmanager
def database() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        name = f"ustadh_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(external, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(external)._replace(path=f"/{name}"))
        finally:
            with psycopg.connect(external, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    yield from _embedded(EmbeddedPostgres)


@contextmanager
def redis() -> Iterator[str]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    yield from _embedded(EmbeddedRedis)


def _embedded(server_class: type[EmbeddedPostgres] | type[EmbeddedRedis]) -> Iterator[str]:
    directory = Path("/tmp") / f"ustadh-bench-{uuid.uuid4().hex[:8]}"  # short, outside /root: see tests/conftest.py
    directory.mkdir(mode=0o755)
    server = server_class(directory)
    try:
        yield server.start()
    finally:
        server.stop()


@contextmanager
def offline_settings(**overrides: object) -> Iterator[Settings]:
    """Migrated throwaway stores, a temporary DATA_DIR, the offline models (OPENAI_* ignored)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "RAY_ADDRESS"):
        os.environ.pop(name, None)
    with database() as db_url, redis() as redis_url, tempfile.TemporaryDirectory(prefix="ustadh-bench-") as data:
        migrate(db_url)
        settings = load_settings(_env_file=None, DATA_DIR=data, DATABASE_URL=db_url, REDIS_URL=redis_url,
                                 LOG_LEVEL="WARNING", RAY_NUM_CPUS=os.cpu_count() or 2, **overrides)
        setup_logging(settings, "bench")
        yield settings


@contextmanager
def running_system(settings: Settings) -> Iterator[None]:
    """Ray on loopback with the system actors and the Serve application, stopped on exit."""
    from ops.ray_local import prepare_environment, start_ray

    prepare_environment(settings)
    start_ray(settings, dashboard=False)
    import ray
    from ray import serve

    from ops.system_actors import start_actors
    from serve_app import applications

    try:
        handles = start_actors(settings)
        ray.get([h.ping.remote() for h in handles.values()])
        applications.start(settings, "127.0.0.1")
        yield
    finally:
        serve.shutdown()
        ray.shutdown()
