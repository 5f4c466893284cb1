"""Usage statistics for admins on every surface: users, and per UTC day the answered questions and
quizzes, credits spent and p95 latency (`core.tutor.records.stats` reads them from `questions`,
which the Tutor writes), with the chart the bot's /stats sends and `GET /admin/stats.png` returns."""
from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from core.app.stats_chart import render_chart
from core.tutor import records
from core.tutor.records import Stats

__all__ = ["MAX_DAYS", "Statistics", "Stats"]
MAX_DAYS = 90


class Statistics:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def recent(self, days: int = 7) -> Stats:
        """The last `days` UTC days (1 to MAX_DAYS), today last."""
        return await records.stats(self.pool, days=max(1, min(days, MAX_DAYS)))

    async def chart(self, stats: Stats) -> bytes:
        """The PNG chart of `stats` (a few tens of ms of drawing: off the event loop)."""
        return await asyncio.to_thread(render_chart, stats)
