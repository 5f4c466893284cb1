"""The record of learners' requests (table `questions`): one row per answer or quiz, for /stats and
for a learner's own history (`GET /questions`). The Tutor deployment is the table's one writer.

A row says who asked, how it ended (answered, refused with a reason, failed), how it was answered
(LLM, extractive, unsupported), its token usage, what it cost and how long it took.
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True)
class Outcome:
    user_id: int
    request_id: str
    kind: str  # "answer" | "quiz"
    status: str  # "answered" | "refused" | "failed"
    language: str | None = None
    mode: str | None = None
    reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: int = 0
    latency_ms: int | None = None


async def record(pool: AsyncConnectionPool, outcome: Outcome) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO questions (user_id, request_id, kind, status, language, mode, reason, tokens_in,
                                      tokens_out, cost, latency_ms)
               VALUES (%(user_id)s, %(request_id)s, %(kind)s, %(status)s, %(language)s, %(mode)s, %(reason)s,
                       %(tokens_in)s, %(tokens_out)s, %(cost)s, %(latency_ms)s)""", outcome.__dict__)


@dataclass(frozen=True)
class Asked:
    id: int
    kind: str
    status: str
    language: str | None
    mode: str | None
    reason: str | None
    tokens_in: int
    tokens_out: int
    cost: int
    latency_ms: int | None
    created_at: str  # ISO 8601, UTC


async def recent(pool: AsyncConnectionPool, user_id: int, limit: int, before_id: int | None = None) -> list[Asked]:
    """A learner's requests, newest first, `limit` of them from before `before_id` (a page's last id)."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            """SELECT id, kind, status, language, mode, reason, tokens_in, tokens_out, cost, latency_ms,
                      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at
               FROM questions WHERE user_id = %s AND (%s::bigint IS NULL OR id < %s)
               ORDER BY id DESC LIMIT %s""", (user_id, before_id, before_id, limit))).fetchall()
    return [Asked(**r) for r in rows]


@dataclass(frozen=True)
class DayStats:
    day: str
    questions: int
    credits_spent: int
    p95_latency_ms: int | None


@dataclass(frozen=True)
class Stats:
    users: int
    days: list[DayStats]  # oldest first, today last


async def stats(pool: AsyncConnectionPool, days: int = 7) -> Stats:
    """Users in all, and per UTC day: answered questions and quizzes, credits spent, p95 latency."""
    async with pool.connection() as conn:
        users = (await (await conn.execute("SELECT count(*) AS n FROM users")).fetchone())["n"]
        rows = await (await conn.execute(
            """SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
                      count(q.id) FILTER (WHERE q.status = 'answered') AS questions,
                      coalesce(sum(q.cost), 0)::bigint AS credits_spent,
                      percentile_disc(0.95) WITHIN GROUP (ORDER BY q.latency_ms)
                          FILTER (WHERE q.status = 'answered') AS p95
               FROM generate_series((now() AT TIME ZONE 'UTC')::date - (%s - 1), (now() AT TIME ZONE 'UTC')::date,
                                    interval '1 day') AS d(day)
               LEFT JOIN questions q ON (q.created_at AT TIME ZONE 'UTC')::date = d.day::date
               GROUP BY d.day ORDER BY d.day""", (days,))).fetchall()
    return Stats(users, [DayStats(r["day"], r["questions"], r["credits_spent"], r["p95"]) for r in rows])
