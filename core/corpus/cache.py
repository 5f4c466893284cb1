"""Chunk text cached in Redis in front of PostgreSQL, for readers (retrieval, citations).

Chunk ids are derived from the chunk's text and the document's cutting, so a cached entry can
never be stale: a changed chunk gets a new id. Entries are dropped when their chunk is removed
(a document replaced or deleted: `forget`) and otherwise expire after CHUNK_CACHE_TTL_S.
A Redis failure falls back to PostgreSQL: the cache only ever saves work. A reader may pass
`on_lookup` to be told how many ids a lookup found in Redis and how many it missed (metrics).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from loguru import logger
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError

from core.corpus.store import chunk_rows

_PREFIX = "chunk:"
GENERATION_KEY = "corpus:generation"


async def bump_generation(redis: aioredis.Redis) -> None:
    """Tell readers the corpus changed (documents indexed or replaced, a collection activated)."""
    try:
        await redis.incr(GENERATION_KEY)
    except RedisError as exc:
        logger.warning("could not announce a corpus change; readers refresh on their next poll", error=str(exc))


async def generation(redis: aioredis.Redis) -> int:
    return int(await redis.get(GENERATION_KEY) or 0)


class ChunkCache:
    def __init__(self, redis: aioredis.Redis, pool: AsyncConnectionPool, ttl_s: int) -> None:
        self.redis = redis
        self.pool = pool
        self.ttl_s = ttl_s

    async def get(self, ids: list[str], on_lookup: Callable[[int, int], None] | None = None
                  ) -> dict[str, dict[str, Any]]:
        """id -> chunk row (text, language, page, title, uri, ...) for the ids that exist;
        `on_lookup(hits, misses)` hears how many ids Redis had and how many it did not."""
        found = await self._cached(ids)
        missing = [i for i in ids if i not in found]
        if on_lookup is not None:
            on_lookup(len(found), len(missing))
        if missing:
            async with self.pool.connection() as conn:
                rows = {row["id"]: row for row in await chunk_rows(conn, missing)}
            found.update(rows)
            await self._store(rows)
        return found

    async def forget(self, ids: list[str]) -> None:
        if not ids:
            return
        try:
            await self.redis.delete(*(_PREFIX + i for i in ids))
        except RedisError as exc:
            logger.warning("chunk cache: could not drop entries", count=len(ids), error=str(exc))

    async def _cached(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        try:
            values = await self.redis.mget([_PREFIX + i for i in ids])
        except RedisError as exc:
            logger.warning("chunk cache unavailable; reading PostgreSQL", error=str(exc))
            return {}
        return {i: json.loads(v) for i, v in zip(ids, values) if v is not None}

    async def _store(self, rows: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for chunk_id, row in rows.items():
                    pipe.set(_PREFIX + chunk_id, json.dumps(row, ensure_ascii=False), ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("chunk cache: could not store entries", count=len(rows), error=str(exc))
