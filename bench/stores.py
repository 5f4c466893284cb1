"""Throwaway PostgreSQL and Redis for the benchmarks: the configured servers (DATABASE_URL,
REDIS_URL; a fresh database is created and dropped), else embedded ones in a temporary directory."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

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
    directory = Path("/tmp") / f"ustadh-bench-{uuid.uuid4().hex[:8]}"
    directory.mkdir(mode=0o755)
    server = EmbeddedPostgres(directory)
    try:
        yield server.start()
    finally:
        server.stop()


@contextmanager
def redis() -> Iterator[str]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    directory = Path("/tmp") / f"ustadh-bench-{uuid.uuid4().hex[:8]}"
    directory.mkdir(mode=0o755)
    server = EmbeddedRedis(directory)
    try:
        yield server.start()
    finally:
        server.stop()
