"""Admission in real Redis: a tier's per-minute limit, the global per-second limit, the daily quota
(with refunds), and conversation memory — each counted exactly under concurrency."""
from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from core.config import Settings
from core.ledger.tiers import tier
from core.tutor.admission import Admission
from core.tutor.memory import Memory


def user() -> int:
    return uuid.uuid4().int % 10**9


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_tier_limits_a_learner_per_minute_even_under_concurrency(settings: Settings) -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL or "")
    clock = Clock()
    admission = Admission(redis, global_per_s=1000, clock=clock)
    learner, free = user(), tier("free")
    refusals = await asyncio.gather(*(admission.admit(learner, free) for _ in range(free.per_minute + 5)))
    assert sum(r is None for r in refusals) == free.per_minute
    refused = [r for r in refusals if r is not None]
    assert {r.reason for r in refused} == {"rate_limited"} and all(0 < r.retry_after_s <= 60 for r in refused)
    assert await admission.admit(user(), free) is None  # another learner is not affected
    clock.now += 60
    assert await admission.admit(learner, free) is None  # the next minute admits again
    await redis.aclose()


async def test_the_global_limit_refuses_everyone_past_it_within_a_second(settings: Settings) -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL or "")
    clock = Clock(1_800_000_100.0)
    admission = Admission(redis, global_per_s=3, clock=clock)
    results = [await admission.admit(user(), tier("premium")) for _ in range(5)]
    assert [r.reason if r else None for r in results] == [None, None, None, "busy", "busy"]
    clock.now += 1
    assert await admission.admit(user(), tier("premium")) is None
    await redis.aclose()


async def test_the_daily_quota_counts_and_refunds(settings: Settings) -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL or "")
    clock = Clock(1_800_010_000.0)
    admission = Admission(redis, global_per_s=1000, clock=clock)
    learner, free = user(), tier("free")
    for i in range(free.daily_questions):
        clock.now += 61  # a new minute each time: only the quota can refuse
        assert await admission.admit(learner, free) is None, i
    clock.now += 61
    refusal = await admission.admit(learner, free)
    assert refusal is not None and refusal.reason == "quota" and refusal.retry_after_s > 0
    await admission.refund(learner)
    assert await admission.used_today(learner) == free.daily_questions - 1
    assert await admission.admit(learner, free) is None
    clock.now += 86_400
    assert await admission.used_today(learner) == 0
    await redis.aclose()


async def test_memory_keeps_the_last_turns_and_forgets_on_request(settings: Settings) -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL or "")
    memory, learner = Memory(redis, turns=2, ttl_s=60), user()
    for question, answer in (("ما هو التمثيل الضوئي؟", "عملية [1]"), ("Et la respiration ?", "C'est… [2]"),
                             ("And water?", "It rises [1]")):
        await memory.remember(learner, question, answer)
    assert await memory.recent(learner) == [("Et la respiration ?", "C'est… [2]"), ("And water?", "It rises [1]")]
    assert 0 < await redis.ttl(f"memory:{learner}") <= 60
    await memory.forget(learner)
    assert await memory.recent(learner) == []
    await redis.aclose()
