"""Async PostgreSQL connection pools (psycopg_pool), one per process, opened on first use.

A system process opens its pool as its own role (`core.db.roles`), so the database refuses it
every write its owner does not make; `role=None` (the CLI's one-off jobs, evaluation, benchmarks)
connects as the DATABASE_URL user."""
from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from core.db.roles import Role, role_url


async def open_pool(database_url: str, role: Role | None, *, min_size: int = 1, max_size: int = 10,
                    name: str = "ustadh") -> AsyncConnectionPool:
    url = database_url if role is None else role_url(database_url, role)
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               name=name, kwargs={"row_factory": dict_row}, timeout=10)
    await pool.open(wait=True, timeout=15)
    return pool
