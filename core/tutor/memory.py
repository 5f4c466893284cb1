"""Short conversation memory per learner, in Redis: their last few questions with the answers.

A follow-up question ("and in which year?") is read with the earlier turns; memory lasts
MEMORY_TTL_S after the last question and `/new` forgets it at once.
"""
from __future__ import annotations

import json

import redis.asyncio as aioredis

_ANSWER_CHARS = 1500  # what a remembered answer keeps: enough context, a bounded prompt


class Memory:
    def __init__(self, redis: aioredis.Redis, turns: int, ttl_s: int) -> None:
        self.redis, self.turns, self.ttl_s = redis, turns, ttl_s

    async def recent(self, user_id: int) -> list[tuple[str, str]]:
        """Earlier (question, answer) pairs, oldest first."""
        if self.turns == 0:
            return []
        raw = await self.redis.lrange(self._key(user_id), 0, self.turns - 1)
        return [tuple(json.loads(item)) for item in reversed(raw)]  # type: ignore[misc]

    async def remember(self, user_id: int, question: str, answer: str) -> None:
        if self.turns == 0:
            return
        key = self._key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps([question, answer[:_ANSWER_CHARS]], ensure_ascii=False))
            pipe.ltrim(key, 0, self.turns - 1)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def forget(self, user_id: int) -> None:
        await self.redis.delete(self._key(user_id))

    @staticmethod
    def _key(user_id: int) -> str:
        return f"memory:{user_id}"
