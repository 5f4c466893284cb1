"""Quizzes in PostgreSQL: questions asked, the polls that carried them, answers, and spaced review.

A question missed by a learner (their latest answer in its family was wrong) is due for review: a
later quiz asks it again as a new row (`review_of` its first asking) and a new poll, until answered
right. A quiz is keyed by its request id, so a redelivered request finds the quiz already made.

The Tutor deployment (`core.app.tutoring`, `core.app.quiz_answers`) is the one writer of `quizzes`,
`quiz_questions` and `quiz_attempts`.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from core.quiz.model import QuizQuestion

_COLUMNS = "id::text AS id, quiz_id::text AS quiz_id, question, options, correct_option, explanation, chunk_id, source, review_of::text AS review_of"


async def existing(pool: AsyncConnectionPool, user_id: int, request_id: str
                   ) -> tuple[str, list[dict[str, Any]]] | None:
    """The topic and questions of the quiz already made for this request id, if any."""
    async with pool.connection() as conn:
        quiz = await (await conn.execute("SELECT id, topic FROM quizzes WHERE user_id = %s AND request_id = %s",
                                         (user_id, request_id))).fetchone()
        if quiz is None:
            return None
        rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM quiz_questions WHERE quiz_id = %s ORDER BY ordinal",
                                         (quiz["id"],))).fetchall()
    return quiz["topic"], [_question(r) for r in rows]


async def due_reviews(pool: AsyncConnectionPool, user_id: int, limit: int) -> list[dict[str, Any]]:
    """First askings of questions whose latest answer by this learner was wrong, oldest miss first."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            f"""WITH tried AS (
                    SELECT DISTINCT ON (coalesce(q.review_of, q.id)) coalesce(q.review_of, q.id) AS root,
                           a.correct, a.answered_at
                    FROM quiz_attempts a JOIN quiz_questions q ON q.id = a.question_id
                    WHERE a.user_id = %(user)s
                    ORDER BY coalesce(q.review_of, q.id), a.answered_at DESC)
                SELECT {_COLUMNS} FROM quiz_questions JOIN tried ON tried.root = quiz_questions.id
                WHERE NOT tried.correct ORDER BY tried.answered_at LIMIT %(limit)s""",
            {"user": user_id, "limit": limit})).fetchall()
    return [_question(r) for r in rows]


async def create(pool: AsyncConnectionPool, user_id: int, topic: str, language: str, request_id: str,
                 reviews: Sequence[dict[str, Any]], fresh: Sequence[QuizQuestion]) -> list[dict[str, Any]]:
    """One quiz: the due reviews first, then the new questions; returns them as stored."""
    quiz_id = uuid.uuid4()
    rows = [(r["question"], r["options"], r["correct"], r["explanation"], r["chunk_id"], r["source"],
             r["review_of"] or r["id"]) for r in reviews]
    rows += [(q.question, list(q.options), q.correct, q.explanation, q.chunk_id, q.citation, None) for q in fresh]
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("INSERT INTO quizzes (id, user_id, topic, language, request_id) VALUES (%s, %s, %s, %s, %s)",
                           (quiz_id, user_id, topic, language, request_id))
        for ordinal, (question, options, correct, explanation, chunk_id, source, review_of) in enumerate(rows):
            await conn.execute(
                """INSERT INTO quiz_questions (id, quiz_id, ordinal, question, options, correct_option, explanation,
                                               chunk_id, source, review_of, user_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s,
                           (SELECT id FROM chunks WHERE id = %s), %s, %s, %s)""",
                (uuid.uuid4(), quiz_id, ordinal, question, Jsonb(options), correct, explanation, chunk_id, source,
                 review_of, user_id))
        stored = await (await conn.execute(f"SELECT {_COLUMNS} FROM quiz_questions WHERE quiz_id = %s ORDER BY ordinal",
                                           (quiz_id,))).fetchall()
    return [_question(r) for r in stored]


async def attach_poll(pool: AsyncConnectionPool, question_id: str, poll_id: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE quiz_questions SET poll_id = %s WHERE id = %s AND poll_id IS NULL",
                           (poll_id, question_id))


async def question_by_poll(pool: AsyncConnectionPool, poll_id: str) -> dict[str, Any] | None:
    """The question a poll carried, None for a poll that carried none of ours."""
    async with pool.connection() as conn:
        row = await (await conn.execute(f"SELECT {_COLUMNS} FROM quiz_questions WHERE poll_id = %s",
                                        (poll_id,))).fetchone()
    return None if row is None else _question(row)


async def question_of(pool: AsyncConnectionPool, user_id: int, quiz_id: str, question_id: str
                      ) -> dict[str, Any] | None:
    """A question of one of this learner's quizzes, None when the quiz is another's or has no such question."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"SELECT {_COLUMNS} FROM quiz_questions WHERE id = %s AND quiz_id = %s AND user_id = %s",
            (question_id, quiz_id, user_id))).fetchone()
    return None if row is None else _question(row)


async def attempt(pool: AsyncConnectionPool, question_id: str, user_id: int, chosen: int, correct: bool
                  ) -> tuple[int, bool, bool]:
    """Record a learner's answer unless one is already recorded: (chosen, correct, first) of the one that counts."""
    async with pool.connection() as conn:
        added = await (await conn.execute(
            """INSERT INTO quiz_attempts (question_id, user_id, chosen_option, correct) VALUES (%s, %s, %s, %s)
               ON CONFLICT (question_id, user_id) DO NOTHING RETURNING chosen_option, correct""",
            (question_id, user_id, chosen, correct))).fetchone()
        if added is not None:
            return added["chosen_option"], added["correct"], True
        kept = await (await conn.execute(
            "SELECT chosen_option, correct FROM quiz_attempts WHERE question_id = %s AND user_id = %s",
            (question_id, user_id))).fetchone()
    return kept["chosen_option"], kept["correct"], False


async def score(pool: AsyncConnectionPool, user_id: int) -> dict[str, int]:
    """Answers given and right, in all and over the last 7 days, and questions due for review."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """SELECT count(*) AS answered, count(*) FILTER (WHERE correct) AS correct,
                      count(*) FILTER (WHERE answered_at > now() - interval '7 days') AS answered_week,
                      count(*) FILTER (WHERE correct AND answered_at > now() - interval '7 days') AS correct_week
               FROM quiz_attempts WHERE user_id = %s""", (user_id,))).fetchone()
    due = await due_reviews(pool, user_id, 1000)
    return {**row, "due": len(due)}


def _question(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "quiz_id": row["quiz_id"], "question": row["question"], "options": list(row["options"]),
            "correct": row["correct_option"], "explanation": row["explanation"], "chunk_id": row["chunk_id"],
            "source": row["source"], "review_of": row["review_of"]}
