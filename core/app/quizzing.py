"""One quiz request's way through the Tutor's flow (`core.app.tutoring`): validated, admitted,
billed, made from the learner's due reviews and new questions on the topic, written by the LLM and
kept when grounded (`core.quiz.grounding`), or cloze questions offline."""
from __future__ import annotations

import math
import random
import time
from typing import TYPE_CHECKING, Any

from loguru import logger

from core.app.holds import Hold, Refused, digest, parse_query
from core.ledger.model import Reservation
from core.ledger.tiers import EXTRACTIVE, Tier, cost
from core.llm.chat import LLMUnavailable, Usage
from core.quiz.cloze import cloze_questions
from core.quiz.llm_quiz import parse_quiz, quiz_messages
from core.quiz.model import QuizQuestion
from core.text.tokens import count_tokens
from core.tutor import quiz_store

if TYPE_CHECKING:
    from core.app.tutoring import Tutoring

QUIZ_TOKENS_PER_QUESTION = 200


class Quiz:
    """One quiz request: validated, admitted, billed, made from reviews and retrieved passages."""

    def __init__(self, app: Tutoring, user_id: int, topic: str, count: int, key: str, request_id: str,
                 source_ids: list[int] | None) -> None:
        self.app, self.user_id, self.topic, self.count, self.key = app, user_id, topic, count, key
        self.request_id, self.source_ids = request_id, source_ids
        self.started = time.perf_counter()
        self.drafted = 0  # items the model wrote, before parse_quiz kept the grounded ones

    async def run(self) -> dict[str, Any]:
        try:
            query = self._validate()
            pool = await self.app.pool()
            made = await quiz_store.existing(pool, self.user_id, self.key)
            if made is not None:
                return self._again(*made, query)
            tier, _ = await self.app.learner(self.user_id)
            await self.app.admit(self.user_id, tier)
            tokens = self.app.settings.answer_context_tokens
            amount = cost(self.app.model_for_billing(), tokens, self.count * QUIZ_TOKENS_PER_QUESTION)
            reservation = await self.app.reserve(self.user_id, tier, amount, self.key,
                                                 f"quiz:{digest(query.text, str(self.count))}")
        except Refused as refusal:
            await self._record("refused", None, reason=refusal.reason)
            return refusal.event()
        return await self._make(query.text, query.language, tier, reservation)

    def _again(self, topic: str, questions: list[dict[str, Any]], query: Any) -> dict[str, Any]:
        """A replay: the quiz this key already made, at no charge; another topic under it is refused."""
        if topic != query.text:
            raise Refused("idempotency_conflict", "this key was already used for a quiz on another topic")
        return {"type": "quiz", "quiz_id": questions[0]["quiz_id"], "questions": questions, "charged": 0,
                "language": query.language, "replayed": True}

    def _validate(self) -> Any:
        if type(self.count) is not int or not 1 <= self.count <= self.app.settings.QUIZ_MAX_QUESTIONS:
            raise Refused("bad_count", str(self.app.settings.QUIZ_MAX_QUESTIONS))
        return parse_query(self.topic)

    async def _make(self, topic: str, language: str, tier: Tier, reservation: Reservation) -> dict[str, Any]:
        try:
            async with Hold(self.app, reservation, self.key, self.user_id, self._failed) as hold:
                return await self._made(topic, language, tier, hold)
        except Exception:
            logger.exception("quiz failed")
            return Refused("unavailable").event()

    async def _made(self, topic: str, language: str, tier: Tier, hold: Hold) -> dict[str, Any]:
        pool = await self.app.pool()
        reviews = await quiz_store.due_reviews(pool, self.user_id, math.ceil(self.count / 2))
        hits = await self.app.search(topic, max(tier.retrieval_k, 2 * self.count), tier, self.request_id,
                                     self.source_ids)
        fresh, usage, model = await self._fresh(topic, hits, language, self.count - len(reviews))
        if not fresh and not reviews:
            await hold.release()
            await self._record("refused", None, reason="no_material")
            return Refused("no_material").event()
        stored = await quiz_store.create(pool, self.user_id, topic, language, self.key, reviews, fresh)
        charged = await hold.close(cost(model, usage.prompt_tokens, usage.completion_tokens))
        mode = "llm" if model != EXTRACTIVE else "extractive"
        await self._record("answered", mode, usage=usage, cost=charged)
        self.app.note("quiz", mode, usage, charged)
        return {"type": "quiz", "quiz_id": stored[0]["quiz_id"], "questions": stored, "charged": charged,
                "language": language, "replayed": False, "drafted": self.drafted}

    async def _failed(self) -> None:
        await self._record("failed", None, reason="error")

    async def _fresh(self, topic: str, hits: list[dict[str, Any]], language: str,
                     wanted: int) -> tuple[list[QuizQuestion], Usage, str]:
        if wanted <= 0 or not hits:
            return [], Usage(), EXTRACTIVE
        if self.app.llm.configured:
            messages = quiz_messages(topic, hits, wanted, language, self.app.settings.answer_context_tokens)
            try:
                text, usage = await self.app.llm.complete(messages, wanted * QUIZ_TOKENS_PER_QUESTION,
                                                          json_mode=True)
                parsed = parse_quiz(text, hits, wanted)
                self.drafted = parsed.drafted
                logger.info("model quiz: {} of {} items grounded", len(parsed.questions), parsed.drafted)
                if parsed.questions:
                    return parsed.questions, usage, self.app.llm.name
            except LLMUnavailable:
                pass
        questions = cloze_questions(hits, wanted, language, [h["text"] for h in hits], random.Random(self.key))
        read = min(sum(count_tokens(h["text"]) for h in hits), self.app.settings.answer_context_tokens)
        written = min(sum(count_tokens(q.question + " ".join(q.options)) for q in questions),
                      wanted * QUIZ_TOKENS_PER_QUESTION)
        return questions, Usage(read, written), EXTRACTIVE

    async def _record(self, status: str, mode: str | None, *, reason: str | None = None,
                      usage: Usage | None = None, cost: int = 0) -> None:
        await self.app.record("quiz", self.user_id, self.request_id, self.started, status, mode=mode, reason=reason,
                              usage=usage, cost=cost)


