"""Health probes for the stores every process depends on, each bounded by a timeout.

A probe never raises: it returns a `Probe` saying up or down, how long it took and why it failed,
so `/healthz` can answer within its deadline even when a component hangs.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import psycopg
import redis.asyncio as aioredis


@dataclass(frozen=True)
class Probe:
    status: str
    latency_ms: float
    error: str | None = None
    detail: dict[str, Any] | None = None

    @property
    def up(self) -> bool:
        return self.status == "up"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


async def probe(check: Awaitable[Any], timeout: float) -> Probe:
    """Run one check; 'down' with the reason on error or when it outlasts `timeout`."""
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return Probe("down", _ms(started), f"no answer within {timeout:.1f} s")
    except Exception as exc:
        return Probe("down", _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    return Probe("up", _ms(started), detail=detail if isinstance(detail, dict) else None)


async def postgres_alive(database_url: str, timeout: float) -> None:
    conn = await psycopg.AsyncConnection.connect(database_url, connect_timeout=max(1, int(timeout)))
    async with conn:
        await conn.execute("SELECT 1")


async def redis_alive(client: aioredis.Redis) -> None:
    if not await client.ping():
        raise ConnectionError("PING did not answer PONG")


async def local_model_alive(base_url: str, timeout: float) -> dict[str, Any]:
    """The local model server answers HTTP. Asked on a path that does not wait for the model, which
    serves one request at a time: a long answer in progress is busy, not down."""
    root = base_url.rstrip("/").removesuffix("/v1")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.get(f"{root}/openapi.json") as reply:
            reply.raise_for_status()
            await reply.read()
    return {"url": base_url}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
