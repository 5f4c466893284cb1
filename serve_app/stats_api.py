"""HTTP surface of usage statistics (admins): what the bot's /stats shows, by `core.app.stats`.

    GET /admin/stats?days=7       users, and per UTC day answered questions, credits spent, p95 latency
    GET /admin/stats.png?days=7   the same as the bot's chart
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from core.app.stats import MAX_DAYS
from serve_app import strict_json
from serve_app.deps import Res, admin

router = strict_json.router(prefix="/admin", tags=["admin"], dependencies=[Depends(admin)])
Days = Annotated[int, Query(ge=1, le=MAX_DAYS)]


class DayOut(BaseModel):
    day: str = Field(description="YYYY-MM-DD, UTC")
    questions: int = Field(description="answered questions and quizzes")
    credits_spent: int = Field(description="micro-credits")
    p95_latency_ms: int | None


class StatsOut(BaseModel):
    users: int
    days: list[DayOut] = Field(description="oldest first, today last")


@router.get("/stats")
async def stats(res: Res, days: Days = 7) -> StatsOut:
    found = await (await res.statistics()).recent(days)
    return StatsOut(users=found.users, days=[DayOut(**d.__dict__) for d in found.days])


@router.get("/stats.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def stats_chart(res: Res, days: Days = 7) -> Response:
    statistics = await res.statistics()
    return Response(await statistics.chart(await statistics.recent(days)), media_type="image/png")
