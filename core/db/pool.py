"""Async PostgreSQL connection pools (psycopg_pool), one per process, opened on first use."""
from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10,
                    name: str = "ustadh") -> AsyncConnectionPool:
    pool = AsyncConnectionPool(database_url, min_size=min_size, max_size=max_size, open=False,
                               name=name, kwargs={"row_factory": dict_row}, timeout=10)
    await pool.open(wait=True, timeout=15)
    return pool
