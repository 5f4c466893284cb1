"""Answering quiz questions, from a Telegram quiz poll or over HTTP, and the learner's score.

The one home of the answer rules, whichever surface the answer came from: one option per answer
(a poll answer with none is a retracted vote, with several is not a quiz answer), the option within
the question's options, a learner answers only the questions of their own quizzes over HTTP (a
poll is answered by whoever Telegram says voted), and the first answer to a question is the one that
counts; a later one changes nothing and is told which answer counted. `core.tutor.quiz_store`
writes the rows (the Tutor deployment is their one writer); `/score` and `GET /quizzes/score` read
the same attempts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from core.app.errors import Refusal
from core.tutor import quiz_store


class QuizAnswerError(Refusal):
    """An answer the rules refuse; `code` names it for the surfaces' messages."""


@dataclass(frozen=True)
class Answered:
    question_id: str
    chosen: int  # the option that counts: this answer's, or an earlier one's when `first` is False
    correct: bool
    correct_option: int
    explanation: str
    first: bool


class QuizAnswers:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def by_poll(self, poll_id: str, user_id: int, option_ids: list[int]) -> Answered | None:
        """A vote on one of our quiz polls; None for a retracted vote or a poll that is not ours."""
        if len(option_ids) != 1:
            return None
        question = await quiz_store.question_by_poll(self.pool, poll_id)
        if question is None or not 0 <= option_ids[0] < len(question["options"]):
            return None
        return await self._record(question, user_id, option_ids[0])

    async def by_question(self, user_id: int, quiz_id: str, question_id: str, option: int) -> Answered:
        """A learner's answer to a question of one of their quizzes (HTTP clients present the quiz)."""
        question = await quiz_store.question_of(self.pool, user_id, quiz_id, question_id)
        if question is None:
            raise QuizAnswerError("unknown_question", "no such question in a quiz of yours")
        if not 0 <= option < len(question["options"]):
            raise QuizAnswerError("bad_option", f"option must be 0 to {len(question['options']) - 1}")
        return await self._record(question, user_id, option)

    async def score(self, user_id: int) -> dict[str, int]:
        """Answers given and right, in all and over the last 7 days, and questions due for review."""
        return await quiz_store.score(self.pool, user_id)

    async def _record(self, question: dict[str, Any], user_id: int, option: int) -> Answered:
        chosen, correct, first = await quiz_store.attempt(self.pool, question["id"], user_id, option,
                                                          option == question["correct"])
        return Answered(question["id"], chosen, correct, question["correct"], question["explanation"], first)
