"""Per-host politeness: crawl requests to one host are spaced by a delay, across every crawl and
process of the system.

This module owns the host slot in Redis. `HostPacer.wait(host)` runs one Lua script that reads
Redis's own clock (`TIME`, so processes on different machines agree), takes the later of "now" and
the host's next free slot, moves the next free slot `delay` further and returns how long the caller
must sleep; the script runs atomically, so concurrent callers get distinct slots `delay` apart.
The key expires shortly after its slot, so idle hosts leave nothing behind.

A Redis rate limiter library would bring a token bucket or a window counter; "strictly one request
per slot, slots reserved in order" is one short script, kept here.
"""
from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from loguru import logger

KEY_PREFIX = "ustadh:scrape:host:"

# KEYS[1]: the host's next free slot (ms since the epoch, Redis clock); ARGV[1]: delay in ms.
# Returns the ms to wait before the reserved slot. Numbers stay below 2^53 (exact in Lua doubles)
# and are written with %.0f, since Lua's default formatting would round them.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local delay = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%.0f', slot + delay), 'PX', slot + delay - now + 1000)
return slot - now
"""


class HostPacer:
    """Hands out request slots per host, `delay_s` apart, shared through Redis."""

    def __init__(self, redis: aioredis.Redis, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        self._redis = redis
        self.delay_s = delay_s
        self._reserve = redis.register_script(_RESERVE)

    async def wait(self, host: str, delay_s: float | None = None) -> None:
        """Sleep until this caller's slot for `host`; `delay_s` overrides the default spacing for
        this reservation (e.g. a longer robots.txt Crawl-delay)."""
        delay = self.delay_s if delay_s is None else delay_s
        if delay <= 0:
            return
        wait_ms = int(await self._reserve(keys=[KEY_PREFIX + host.lower().rstrip(".")], args=[round(delay * 1000)]))
        if wait_ms > 0:
            logger.debug("scrape: waiting {} ms for a slot on {}", wait_ms, host)
            await asyncio.sleep(wait_ms / 1000)
