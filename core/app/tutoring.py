"""Tutoring: a learner's question becomes a grounded, cited answer; a topic, a quiz. The one home
of the billing flow every surface reaches through the Tutor deployment (`serve_app.tutor`, a thin
shell over `Tutoring`), with its ports injected: the wallet (`Ledger`), the Retriever
(`Retriever`) and the serving metrics (`TutorMetrics`). `Tutoring` holds the ports and the steps both
flows share; a question's way is `core.app.answering`, a quiz's `core.app.quizzing`, and the
refusal and the reservation held meanwhile are `core.app.holds`.

Both are billed the same way: validate → admission (rate limits, daily quota; `core.tutor.admission`)
→ wallet reserve (the prompt budget plus the tier's answer cap, priced) → retrieval (the Retriever
port) → the LLM (streamed) or, offline or with the LLM's breaker open, the extractive
answer / cloze quiz → settle what was used (the rest returns); any failure voids the reservation.
When the model refuses but the passages support an extractive answer, that answer replaces the
refusal (a `reset`, then mode "extractive"), billed for the model's tokens.
Wallet request ids derive from the caller's key (a Telegram message, an HTTP request id), so a
redelivered request is charged once. The reservation's purpose carries a digest of the question
(or quiz topic), so the same key with another question is refused (`idempotency_conflict`) and
charges nothing; a replay of a request already answered is answered again with `"replayed": true`
and what the first one was charged, and charged nothing more; a replay of one that failed says so.
Admission counts live in Redis: when Redis does not answer, the request is refused `unavailable`
before anything is reserved.

`ask` streams events to the bot and to `POST /chat/ask`:
  {"type": "waiting"}                          no first token yet after LLM_WAIT_NOTICE_S: the model is busy
                                               with earlier questions (they are served in order)
  {"type": "delta", "text"}                    a piece of the LLM's answer
  {"type": "reset"}                            drop the pieces so far (the LLM failed mid-answer, or refused
                                               where the material supports a quoted answer)
  {"type": "done", "text", "sources", "mode", "language", "charged", "replayed"}
  {"type": "refused", "reason", "detail", "retry_after_s"?, "replayed"?}
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from loguru import logger
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError

from core.app.answering import Answer
from core.app.holds import Refused
from core.app.ports import Ledger, Retriever, TutorMetrics
from core.app.quiz_answers import QuizAnswerError, QuizAnswers
from core.app.quizzing import Quiz
from core.app.wallet_view import WalletView
from core.config import Settings
from core.db.pool import open_pool
from core.db.roles import Role
from core.ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from core.ledger.model import Reservation, Status
from core.ledger.tiers import EXTRACTIVE, Tier
from core.ledger.tiers import tier as tier_named
from core.llm.chat import ChatModel, Usage
from core.request_id import bound
from core.tutor import quiz_store
from core.tutor.admission import Admission
from core.tutor.memory import Memory
from core.tutor.records import Outcome, recent, record


class Tutoring:
    def __init__(self, settings: Settings, ledger: Ledger, retriever: Retriever, metrics: TutorMetrics) -> None:
        self.settings, self.wallet, self.retriever, self.metrics = settings, ledger, retriever, metrics
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=1, socket_timeout=2)
        self.admission = Admission(self.redis, settings.RATE_LIMIT_GLOBAL_PER_S)
        self.memory = Memory(self.redis, settings.MEMORY_TURNS, settings.MEMORY_TTL_S)
        self.llm = ChatModel(settings)
        self.wallets = WalletView(ledger)
        self._pool: AsyncConnectionPool | None = None
        self._pool_lock = asyncio.Lock()

    async def ask(self, user_id: int, question: str, key: str, request_id: str | None = None,
                  source_ids: list[int] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Stream the answer to one question (see the module docstring for the events), from the
        public material, or from the sources `source_ids` names (evaluation, admins)."""
        with bound(request_id) as rid:
            async for event in Answer(self, user_id, question, key, rid, source_ids).run():
                yield event

    async def quiz(self, user_id: int, topic: str, count: int, key: str,
                   request_id: str | None = None, source_ids: list[int] | None = None) -> dict[str, Any]:
        """Make (and bill) a quiz of `count` questions: due reviews first, then new ones on `topic`
        (from the public material, or from the sources `source_ids` names)."""
        with bound(request_id) as rid:
            return await Quiz(self, user_id, topic, count, key, rid, source_ids).run()

    async def poll_sent(self, question_id: str, poll_id: str) -> None:
        await quiz_store.attach_poll(await self.pool(), question_id, poll_id)

    async def poll_answer(self, poll_id: str, user_id: int, option_ids: list[int]) -> bool | None:
        """Whether a vote on one of our polls was right (the first vote counts); None for none of ours."""
        answered = await (await self.quizzes()).by_poll(poll_id, user_id, option_ids)
        return None if answered is None else answered.correct

    async def answer(self, user_id: int, quiz_id: str, question_id: str, option: int) -> dict[str, Any]:
        """An HTTP client's answer to a question of the learner's quiz: {"type": "answered", ...} or a refusal."""
        try:
            answered = await (await self.quizzes()).by_question(user_id, quiz_id, question_id, option)
        except QuizAnswerError as refusal:
            return {"type": "refused", "reason": refusal.code, "detail": str(refusal)}
        return {"type": "answered", **dataclasses.asdict(answered)}

    async def score(self, user_id: int) -> dict[str, int]:
        return await (await self.quizzes()).score(user_id)

    async def questions(self, user_id: int, limit: int, before_id: int | None) -> list[dict[str, Any]]:
        """The learner's own requests, newest first (see `core.tutor.records.recent`)."""
        return [dataclasses.asdict(r) for r in await recent(await self.pool(), user_id, limit, before_id)]

    async def forget(self, user_id: int) -> None:
        await self.memory.forget(user_id)

    async def status(self) -> dict[str, Any]:
        return {"llm": "configured" if self.llm.configured else "offline", "breaker": self.llm.breaker.snapshot()}

    async def quizzes(self) -> QuizAnswers:
        return QuizAnswers(await self.pool())

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await open_pool(self.settings.DATABASE_URL or "", Role.TUTOR, max_size=8, name="tutor")
        return self._pool

    async def learner(self, user_id: int) -> tuple[Tier, str]:
        """The learner's tier and interface language; Refused for an unknown user."""
        async with (await self.pool()).connection() as conn:
            row = await (await conn.execute("SELECT tier, language FROM users WHERE id = %s", (user_id,))).fetchone()
        if row is None:
            raise Refused("unknown_user")
        return tier_named(row["tier"]), row["language"]

    async def admit(self, user_id: int, tier: Tier) -> None:
        try:
            refusal = await self.admission.admit(user_id, tier)
        except RedisError as exc:  # limits cannot be counted: refuse before anything is held
            logger.warning("admission store did not answer", error=repr(exc))
            raise Refused("unavailable", "the rate-limit store did not answer") from None
        if refusal is not None:
            raise Refused(refusal.reason, retry_after_s=refusal.retry_after_s)

    async def refund(self, user_id: int) -> None:
        """Give back the quota of a request that came to nothing; a lost refund is only logged."""
        try:
            await self.admission.refund(user_id)
        except RedisError as exc:
            logger.warning("could not give back a daily quota unit", error=repr(exc))

    async def history(self, user_id: int) -> list[tuple[str, str]]:
        """The learner's recent turns; none when Redis does not answer (the question still is)."""
        try:
            return await self.memory.recent(user_id)
        except RedisError as exc:
            logger.warning("conversation memory did not answer; answering without it", error=repr(exc))
            return []

    async def reserve(self, user_id: int, tier: Tier, amount: int, key: str, purpose: str) -> Reservation:
        """Hold `amount` after this month's tier grant is in place; Refused when credit is short or
        the key was used for another request. `purpose` names what the request asks (its digest)."""
        await self.wallets.claim_grant(user_id, tier.name)
        try:
            return await self.wallet.reserve(user_id, amount, f"{key}:reserve", purpose=purpose)
        except InsufficientFunds as exc:
            await self.refund(user_id)
            raise Refused("insufficient_credit", str(exc)) from None
        except IdempotencyConflict:
            await self.refund(user_id)
            raise Refused("idempotency_conflict", "this key was already used for another request") from None

    async def replayed(self, reservation: Reservation) -> Reservation | None:
        """For a reservation an earlier request with the same key made: how it ended (posted: answered
        and charged; Refused for one that ended without an answer), or None while still pending."""
        if not reservation.replayed:
            return None
        current = await self.wallet.reservation(reservation.id)
        if current.status is Status.PENDING:
            return None  # our own retried reserve, or a twin still running: carry on, settle is keyed too
        if current.status is not Status.POSTED:
            raise Refused("unavailable", "this request failed earlier; send it again with a new key",
                          replayed=True)
        return current

    async def close(self, reservation: Reservation, actual: int, key: str) -> int:
        """Settle `actual` (at most what was held) or void when nothing was used; what was charged."""
        charged = min(actual, reservation.amount)
        if charged < actual:
            logger.warning("usage above the reservation; charging the reservation", actual=actual,
                           reserved=reservation.amount)
        if charged == 0:
            await self.wallet.void(reservation, f"{key}:void")
        else:
            await self.wallet.settle(reservation, charged, f"{key}:settle")
        return charged

    async def abandon(self, reservation: Reservation, key: str, user_id: int) -> None:
        """Nothing came of the request: its credit and its daily quota go back."""
        await self.void(reservation, key)
        await self.refund(user_id)

    async def void(self, reservation: Reservation, key: str) -> None:
        try:
            await asyncio.shield(self.wallet.void(reservation, f"{key}:void"))
        except LedgerError as exc:  # already resolved (e.g. expired): nothing is held any more
            logger.info("void after failure found the reservation resolved", error=str(exc))

    async def search(self, text: str, k: int, tier: Tier, request_id: str,
                     source_ids: list[int] | None = None) -> list[dict[str, Any]]:
        return await self.retriever.retrieve(text, k, tier.name, source_ids, request_id)

    def model_for_billing(self) -> str:
        return self.llm.name if self.llm.configured else EXTRACTIVE

    async def record(self, kind: str, user_id: int, request_id: str, started: float, status: str, *,
                     language: str | None = None, mode: str | None = None, reason: str | None = None,
                     usage: Usage | None = None, cost: int = 0) -> None:
        """One row in `questions` for /stats: how the request ended, its usage, cost and latency."""
        usage = usage or Usage()
        latency = round((time.perf_counter() - started) * 1000)
        await record(await self.pool(), Outcome(user_id, request_id, kind, status, language, mode, reason,
                                                usage.prompt_tokens, usage.completion_tokens, cost, latency))

    def note(self, kind: str, mode: str, usage: Usage, charged: int) -> None:
        """An answer or quiz made: how, the tokens the model read and wrote, the micro-credits charged."""
        self.metrics.made(kind, mode, breaker_open=self.llm.breaker.state != "closed")
        self.metrics.billed(kind, usage.prompt_tokens, usage.completion_tokens, charged)
