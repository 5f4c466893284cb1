"""Tutoring: a learner's question becomes a grounded, cited answer; a topic, a quiz. The one home
of the billing flow every surface reaches through the Tutor deployment (`serve_app.tutor`, a thin
shell over `Tutoring`), with its ports injected: the wallet (`Ledger`), the Retriever
(`Retriever`) and the serving metrics (`TutorMetrics`).

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
import hashlib
import math
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from loguru import logger
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError

from core.answer.checks import checked_answer, is_refusal
from core.answer.extractive import extractive_answer
from core.answer.prompt import NOT_IN_MATERIAL, grounded_messages
from core.answer.sources import cited_numbers, number_sources
from core.app.ports import Ledger, Retriever, TutorMetrics
from core.app.quiz_answers import QuizAnswerError, QuizAnswers
from core.app.wallet_view import WalletView
from core.config import Settings
from core.db.pool import open_pool
from core.ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from core.ledger.model import Reservation, Status
from core.ledger.tiers import EXTRACTIVE, Tier, cost, reservation_amount
from core.ledger.tiers import tier as tier_named
from core.llm.chat import ChatModel, LLMUnavailable, Usage
from core.quiz.cloze import cloze_questions
from core.quiz.llm_quiz import parse_quiz, quiz_messages
from core.quiz.model import QuizQuestion
from core.request_id import bound
from core.retrieval.query import QueryError, parse
from core.text.tokens import count_tokens
from core.tutor import quiz_store
from core.tutor.admission import Admission
from core.tutor.memory import Memory
from core.tutor.records import Outcome, recent, record

_QUIZ_TOKENS_PER_QUESTION = 200


class Refused(Exception):
    """The request is turned down with a reason the caller translates for the learner."""

    def __init__(self, reason: str, detail: str = "", retry_after_s: int | None = None, *,
                 replayed: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.retry_after_s, self.replayed = reason, detail, retry_after_s, replayed

    def event(self) -> dict[str, Any]:
        return {"type": "refused", "reason": self.reason, "detail": self.detail,
                **({"retry_after_s": self.retry_after_s} if self.retry_after_s is not None else {}),
                **({"replayed": True} if self.replayed else {})}


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
            async for event in _Answer(self, user_id, question, key, rid, source_ids).run():
                yield event

    async def quiz(self, user_id: int, topic: str, count: int, key: str,
                   request_id: str | None = None, source_ids: list[int] | None = None) -> dict[str, Any]:
        """Make (and bill) a quiz of `count` questions: due reviews first, then new ones on `topic`
        (from the public material, or from the sources `source_ids` names)."""
        with bound(request_id) as rid:
            return await _Quiz(self, user_id, topic, count, key, rid, source_ids).run()

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
                    self._pool = await open_pool(self.settings.DATABASE_URL or "", max_size=8, name="tutor")
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

    def note(self, kind: str, mode: str) -> None:
        self.metrics.made(kind, mode, breaker_open=self.llm.breaker.state != "closed")


class _Hold:
    """A request's reservation while its answer or quiz is made: settled by `close` (what was used),
    kept as it is by `keep` (a replay, charged before), given back by `release`; whatever else ends
    the request (an error, a client gone mid-stream) gives back its credit and daily quota and
    records the failure. The one settle-or-void skeleton of answers and quizzes."""

    def __init__(self, app: Tutoring, reservation: Reservation, key: str, user_id: int,
                 failed: Callable[[], Awaitable[None]]) -> None:
        self.app, self.reservation, self.key, self.user_id, self.failed = app, reservation, key, user_id, failed
        self.resolved = False

    async def __aenter__(self) -> _Hold:
        return self

    async def __aexit__(self, *_: object) -> None:
        if not self.resolved:
            await self.app.abandon(self.reservation, self.key, self.user_id)
            await self.failed()

    async def close(self, actual: int) -> int:
        charged = await self.app.close(self.reservation, actual, self.key)
        self.resolved = True
        return charged

    def keep(self) -> None:
        self.resolved = True

    async def release(self) -> None:
        await self.app.abandon(self.reservation, self.key, self.user_id)
        self.resolved = True


class _Answer:
    """One question's way through the flow; `run` yields the events."""

    def __init__(self, app: Tutoring, user_id: int, question: str, key: str, request_id: str,
                 source_ids: list[int] | None) -> None:
        self.app, self.user_id, self.question, self.key, self.request_id = app, user_id, question, key, request_id
        self.source_ids = source_ids
        self.started = time.perf_counter()
        self.language: str | None = None

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        try:
            query = _parse(self.question)
            self.language = query.language
            tier, _ = await self.app.learner(self.user_id)
            await self.app.admit(self.user_id, tier)
            budget = self.app.settings.answer_context_tokens
            reservation = await self.app.reserve(
                self.user_id, tier, reservation_amount(self.app.model_for_billing(), budget, tier.name),
                self.key, f"answer:{digest(query.text)}")
            earlier = await self._earlier(reservation)
        except Refused as refusal:
            await self._record("refused", reason=refusal.reason)
            yield refusal.event()
            return
        async for event in self._answer(query.text, tier, reservation, earlier):
            yield event

    async def _earlier(self, reservation: Reservation) -> Reservation | None:
        """The posted reservation of an earlier request with this key (its answer is given again,
        free); Refused, with the quota given back, for one that failed."""
        try:
            return await self.app.replayed(reservation)
        except (Refused, LedgerError) as exc:
            await self.app.refund(self.user_id)
            raise exc if isinstance(exc, Refused) else Refused("unavailable") from None

    async def _answer(self, text: str, tier: Tier, reservation: Reservation,
                      earlier: Reservation | None) -> AsyncIterator[dict[str, Any]]:
        try:
            async with _Hold(self.app, reservation, self.key, self.user_id, self._failed) as hold:
                hits = await self.app.search(text, tier.retrieval_k, tier, self.request_id, self.source_ids)
                history = await self.app.history(self.user_id)
                made = _Made()
                async for event in self._compose(text, hits, history, tier, made):
                    yield event
                if earlier is not None:  # answered and charged before: say so, charge nothing more
                    hold.keep()
                    yield self._done(made, earlier.settled_amount or 0, replayed=True)
                    return
                charged = await hold.close(made.cost)
                await self._remember(text, made, charged)
                yield self._done(made, charged, replayed=False)
        except Exception:
            logger.exception("answer failed")
            yield Refused("unavailable").event()

    async def _failed(self) -> None:
        await self._record("failed", reason="error")

    def _done(self, made: _Made, charged: int, *, replayed: bool) -> dict[str, Any]:
        return {"type": "done", "text": made.text, "sources": made.sources, "mode": made.mode,
                "language": self.language, "charged": charged, "replayed": replayed}

    async def _remember(self, text: str, made: _Made, charged: int) -> None:
        """Memory and the record of an answer already paid for: their failure must not hide the answer."""
        try:
            await self.app.memory.remember(self.user_id, text, made.text)
            await self._record("answered", mode=made.mode, usage=made.usage, cost=charged)
        except Exception:
            logger.exception("could not remember or record an answer")
        self.app.note("answer", made.mode)

    async def _compose(self, text: str, hits: list[dict[str, Any]], history: list[tuple[str, str]], tier: Tier,
                       made: _Made) -> AsyncIterator[dict[str, Any]]:
        language = self.language or "en"
        if not hits:
            made.unsupported(language)
            return
        if self.app.llm.configured:
            messages, _ = grounded_messages(text, hits, language, history,
                                            max_context_tokens=self.app.settings.answer_context_tokens)
            completion = self.app.llm.stream(messages, tier.max_answer_tokens)
            streamed = False
            try:
                async for event in _with_wait_notice(completion, self.app.settings.LLM_WAIT_NOTICE_S):
                    streamed = streamed or event["type"] == "delta"
                    yield event
                made.from_llm(self.app.llm.name, checked_answer(completion.text, hits), completion.usage, hits)
                if made.refused() and made.quoted_instead(text, hits, language):
                    yield {"type": "reset"}
                return
            except LLMUnavailable:
                if streamed:
                    yield {"type": "reset"}
        made.extractive(text, hits, language, tier, self.app.settings.answer_context_tokens)

    async def _record(self, status: str, *, mode: str | None = None, reason: str | None = None,
                      usage: Usage | None = None, cost: int = 0) -> None:
        await self.app.record("answer", self.user_id, self.request_id, self.started, status, language=self.language,
                              mode=mode, reason=reason, usage=usage, cost=cost)


class _Made:
    """What an answer turned out to be: its text, sources, how it was made and what it costs."""

    def __init__(self) -> None:
        self.text, self.mode, self.cost, self.usage = "", "unsupported", 0, Usage()
        self.sources: list[dict[str, Any]] = []

    def unsupported(self, language: str) -> None:
        self.text, self.mode = NOT_IN_MATERIAL[language], "unsupported"

    def from_llm(self, model: str, text: str, usage: Usage, hits: list[dict[str, Any]]) -> None:
        """The model's checked answer (`core.answer.checks`); a refusal in it cites nothing."""
        self.text, self.mode, self.usage = text, "llm", usage
        self.cost = cost(model, usage.prompt_tokens, usage.completion_tokens)
        self.sources = [] if is_refusal(text) else _cited(text, hits)

    def refused(self) -> bool:
        return self.mode == "llm" and is_refusal(self.text)

    def quoted_instead(self, question: str, hits: list[dict[str, Any]], language: str) -> bool:
        """After the model refused: the extractive answer instead, when the passages support one
        (a small local model refuses answerable questions; the extractive check is strict). Billed
        as the model's answer was: for the tokens the model read and wrote."""
        answer = extractive_answer(question, hits, language)
        if answer is None:
            return False
        self.text, self.mode, self.sources = answer.text, "extractive", _cited(answer.text, hits)
        return True

    def extractive(self, question: str, hits: list[dict[str, Any]], language: str, tier: Tier,
                   budget: int) -> None:
        answer = extractive_answer(question, hits, language)
        if answer is None:
            self.unsupported(language)
            return
        read = count_tokens(question) + sum(count_tokens(h["text"]) for h in hits)
        self.usage = Usage(min(read, budget), min(count_tokens(answer.text), tier.max_answer_tokens))
        self.text, self.mode = answer.text, "extractive"
        self.cost = cost(EXTRACTIVE, self.usage.prompt_tokens, self.usage.completion_tokens)
        self.sources = _cited(answer.text, hits)


class _Quiz:
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
            amount = cost(self.app.model_for_billing(), tokens, self.count * _QUIZ_TOKENS_PER_QUESTION)
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
        return _parse(self.topic)

    async def _make(self, topic: str, language: str, tier: Tier, reservation: Reservation) -> dict[str, Any]:
        try:
            async with _Hold(self.app, reservation, self.key, self.user_id, self._failed) as hold:
                return await self._made(topic, language, tier, hold)
        except Exception:
            logger.exception("quiz failed")
            return Refused("unavailable").event()

    async def _made(self, topic: str, language: str, tier: Tier, hold: _Hold) -> dict[str, Any]:
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
        self.app.note("quiz", mode)
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
                text, usage = await self.app.llm.complete(messages, wanted * _QUIZ_TOKENS_PER_QUESTION,
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
                      wanted * _QUIZ_TOKENS_PER_QUESTION)
        return questions, Usage(read, written), EXTRACTIVE

    async def _record(self, status: str, mode: str | None, *, reason: str | None = None,
                      usage: Usage | None = None, cost: int = 0) -> None:
        await self.app.record("quiz", self.user_id, self.request_id, self.started, status, mode=mode, reason=reason,
                              usage=usage, cost=cost)


async def _with_wait_notice(completion: AsyncIterable[str], notice_s: float) -> AsyncIterator[dict[str, Any]]:
    """The completion's pieces as delta events, with one waiting event first when the first piece
    takes longer than `notice_s` (the model is answering earlier questions)."""
    pieces = aiter(completion)
    first = asyncio.ensure_future(anext(pieces))
    try:
        done, _ = await asyncio.wait({first}, timeout=notice_s)
        if not done:
            yield {"type": "waiting"}
        piece = await first
    except StopAsyncIteration:
        return
    finally:
        first.cancel()
    yield {"type": "delta", "text": piece}
    async for piece in pieces:
        yield {"type": "delta", "text": piece}


def digest(*parts: str) -> str:
    """A short fingerprint of what a request asks, kept in its reservation's purpose: the same
    idempotency key with other content then conflicts instead of replaying."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _parse(text: str) -> Any:
    try:
        return parse(text, 1, None)
    except QueryError as exc:
        raise Refused("bad_query", str(exc)) from None


def _cited(text: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sources = number_sources(hits)
    wanted = set(cited_numbers(text, len(sources)))
    return [source.__dict__ for source in sources if source.number in wanted]
