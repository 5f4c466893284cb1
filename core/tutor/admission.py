"""Admission of a learner's question or quiz: rate limits and the daily quota, kept in Redis.

Three counters, each one Redis key incremented by a Lua script that refuses (and takes back its
increment) past the limit, so concurrent requests never overshoot: the learner's requests this
minute (limit from their tier), everyone's requests this second (RATE_LIMIT_GLOBAL_PER_S), and the
learner's questions today (the tier's daily quota, UTC day). A request refused later (no credit,
bad input found downstream) gives its quota back with `refund`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from core.ledger.tiers import Tier

_TAKE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return n
"""


@dataclass(frozen=True)
class Refusal:
    reason: str  # "rate_limited" | "busy" | "quota"
    retry_after_s: int


class Admission:
    def __init__(self, redis: aioredis.Redis, global_per_s: int, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.global_per_s, self.clock = redis, global_per_s, clock
        self._take = redis.register_script(_TAKE)

    async def admit(self, user_id: int, tier: Tier) -> Refusal | None:
        """Count one request against every limit; the first limit reached refuses it."""
        now = self.clock()
        second, minute = int(now), int(now // 60)
        if not await self._take(keys=[f"rate:all:{second}"], args=[self.global_per_s, 2]):
            return Refusal("busy", 1)
        if not await self._take(keys=[f"rate:user:{user_id}:{minute}"], args=[tier.per_minute, 120]):
            return Refusal("rate_limited", 60 - int(now % 60))
        if not await self._take(keys=[self._quota_key(user_id, now)], args=[tier.daily_questions, 2 * 86_400]):
            return Refusal("quota", _seconds_to_midnight(now))
        return None

    async def refund(self, user_id: int) -> None:
        """Give back today's quota for a request that was refused after admission."""
        key = self._quota_key(user_id, self.clock())
        await self.redis.eval("if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 "
                              "then return redis.call('DECR', KEYS[1]) end return 0", 1, key)

    async def used_today(self, user_id: int) -> int:
        return int(await self.redis.get(self._quota_key(user_id, self.clock())) or 0)

    @staticmethod
    def _quota_key(user_id: int, now: float) -> str:
        return f"quota:{user_id}:{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"


def _seconds_to_midnight(now: float) -> int:
    return 86_400 - int(now % 86_400)
