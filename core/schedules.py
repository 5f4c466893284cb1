"""A job the system runs by itself every so often, and what operators see of it: owns the timing
(the first run one period after start, each next one a period after the last one ended, so runs of
one job never overlap) and the record of the last run (when, how long, whether it went well, a
one-line outcome), with the time of the next one; the actor that owns the job shows `status()` in
its health detail (`/healthz`). A run that raises is logged, recorded as failed, and the schedule
goes on.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger


@dataclass(frozen=True)
class Result:
    ok: bool
    summary: str


@dataclass(frozen=True)
class Ran:
    at: datetime
    ms: float
    outcome: Result


class Schedule:
    def __init__(self, name: str, every_s: float, job: Callable[[], Awaitable[Result]]) -> None:
        self.name, self.every_s, self.job = name, every_s, job
        self.last: Ran | None = None
        self.runs = 0
        self.next_at = _now() + timedelta(seconds=every_s)

    async def forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, (self.next_at - _now()).total_seconds()))
            await self.run_once()

    async def run_once(self) -> Result:
        at, started = _now(), time.perf_counter()
        try:
            outcome = await self.job()
        except Exception as exc:
            outcome = Result(False, f"{type(exc).__name__}: {exc}"[:300])
            logger.warning("scheduled job failed", job=self.name, error=outcome.summary)
        self.last = Ran(at, round((time.perf_counter() - started) * 1000, 1), outcome)
        self.runs += 1
        self.next_at = _now() + timedelta(seconds=self.every_s)
        return outcome

    def status(self) -> dict[str, Any]:
        """Every, runs so far, next run; the last run's time, duration, ok and outcome (None before one)."""
        last = self.last
        return {"every_s": self.every_s, "runs": self.runs, "next_run": self.next_at.isoformat(),
                "last_run": last.at.isoformat() if last else None, "last_ms": last.ms if last else None,
                "ok": last.outcome.ok if last else None, "outcome": last.outcome.summary if last else None}


def _now() -> datetime:
    return datetime.now(UTC)
