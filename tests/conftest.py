"""Shared fixtures: real PostgreSQL and Redis (configured, else embedded), isolated per run, and a
Ray cluster with the system actors and the Serve gateway for the tests that need them.

DATABASE_URL / REDIS_URL, when set, name servers to use: the run creates its own database there
(dropped at the end) and its own Redis key namespace. Otherwise embedded servers start under a
temporary DATA_DIR. Ray is pointed at loopback before it is first imported.
"""
from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import pytest_asyncio
import redis

from ops.ray_local import LOOPBACK_ENV

for _key, _value in LOOPBACK_ENV.items():
    os.environ.setdefault(_key, _value)
_EXTERNAL = {name: os.environ.pop(name, None) for name in ("DATABASE_URL", "REDIS_URL")}
for _name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_API_BASE", "OPENAI_BASE_URL",
              "OPENAI_API_KEY", "ADMIN_TELEGRAM_IDS", "MILVUS_URI", "RAY_ADDRESS", "DATA_DIR", "LOG_JSON"):
    os.environ.pop(_name, None)

from core.config import Settings, load_settings  # noqa: E402
from core.db.migrate import migrate  # noqa: E402
from core.logs import setup_logging  # noqa: E402
from ops.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402

_HANDED_OUT: set[int] = set()
_PORTS = range(20_000, 32_768)  # above Ray's worker ports (10002-19999), below the ephemeral range


def free_port() -> int:
    """A loopback port free now and not handed out before in this process. Not one the kernel picks
    (bind to 0): those come from the ephemeral range, where an outgoing connection or a fixed Ray
    port (the dashboard agent's 52365) can take it before the server binds it."""
    while True:
        port = random.choice(_PORTS)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


# The one loopback origin the session's fetchers may reach (SCRAPE_ALLOW), standing in for a public
# site in URL-ingestion tests; every other loopback port stays behind the SSRF guard. Kept in the
# environment: pytest imports this file both as `conftest` and as `tests.conftest`.
ALLOWED_SITE_PORT = int(os.environ.setdefault("USTADH_TEST_SITE_PORT", str(free_port())))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short and outside /root: the embedded PostgreSQL user must be able to walk down to it.
    path = Path("/tmp") / f"ustadh-test-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o755)
    return path


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    external = _EXTERNAL["DATABASE_URL"]
    if external is None:
        server = EmbeddedPostgres(data_dir)
        yield server.start()
        server.stop()
        return
    name = f"ustadh_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(external, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(external, name)
    with psycopg.connect(external, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    external = _EXTERNAL["REDIS_URL"]
    if external is not None:  # a database of its own (1-15, emptied), so counters of earlier runs don't leak in
        url = urlunsplit(urlsplit(external)._replace(path=f"/{random.randint(1, 15)}"))
        client = redis.Redis.from_url(url)
        client.flushdb()
        yield url
        client.flushdb()
        client.close()
        return
    server = EmbeddedRedis(data_dir)
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str, redis_url: str) -> Settings:
    resolved = load_settings(_env_file=None, DATA_DIR=data_dir, DATABASE_URL=database_url, REDIS_URL=redis_url,
                             HTTP_PORT=free_port(), DASHBOARD_PORT=free_port(), HAPROXY_STATS_PORT=free_port(),
                             HAPROXY_METRICS_PORT=free_port(), SERVE_FALLBACK_PORT=free_port(), LOG_LEVEL="DEBUG",
                             ADMIN_TELEGRAM_IDS="900001", INGEST_MAX_MB=1, INGEST_RETRY_BASE_S=0.2,
                             INGEST_MAX_ATTEMPTS=3, WALLET_SHARDS=2, SCRAPE_ALLOW=f"127.0.0.1:{ALLOWED_SITE_PORT}",
                             RECONCILE_EVERY_MIN=0.02, EXPORT_EVERY_H=0.02, EXPORT_KEEP=2)
    setup_logging(resolved, "tests")
    migrate(database_url)
    return resolved


@pytest_asyncio.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[Any]:
    from core.db.pool import open_pool

    opened = await open_pool(settings.DATABASE_URL or "", None, max_size=10, name="tests")
    yield opened
    await opened.close()


async def new_users(pool: Any, n: int = 1) -> list[int]:
    """`n` fresh rows in `users` (no Telegram id), for tests that need wallet owners."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "INSERT INTO users (first_name) SELECT 'wallet' FROM generate_series(1, %s) RETURNING id", (n,))).fetchall()
    return [row["id"] for row in rows]


@dataclass
class RaySystem:
    settings: Settings
    base_url: str
    handles: dict[str, Any]


@pytest.fixture
def cli_env(ray_system: RaySystem, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment a CLI command run in this process needs to find the tests' running system."""
    settings = ray_system.settings
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(name, getattr(settings, name))
    monkeypatch.setenv("DATA_DIR", str(settings.DATA_DIR))
    monkeypatch.setenv("WALLET_SHARDS", str(settings.WALLET_SHARDS))  # the CLI reads the system's configuration
    return settings


@pytest.fixture(scope="session")
def ray_system(settings: Settings) -> Iterator[RaySystem]:
    """Ray on loopback with the system actors and the gateway deployed, as `ustadh up` does, holding
    DATA_DIR's lock as it does (a CLI command sees the system running)."""
    import ray
    from ray import serve

    from ops.datadir import DataDirLock
    from ops.ray_local import start_ray
    from ops.system_actors import start_actors
    from serve_app import applications

    lock = DataDirLock(settings.run_dir)
    lock.acquire()
    start_ray(settings, dashboard=False)
    handles = start_actors(settings)
    ray.get([h.ping.remote() for h in handles.values()])
    applications.start(settings, "127.0.0.1")
    yield RaySystem(settings, f"http://127.0.0.1:{settings.HTTP_PORT}", handles)
    serve.shutdown()
    ray.shutdown()
    lock.release()
