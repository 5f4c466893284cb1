"""One question's way through the Tutor's flow (`core.app.tutoring` has the whole flow and its
events): parsed, admitted, reserved, answered from the retrieved passages by the LLM (streamed, with
a waiting notice when the model is busy) or extractively, checked, settled and remembered."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

from loguru import logger

from core.answer.checks import checked_answer, is_refusal
from core.answer.extractive import extractive_answer
from core.answer.prompt import NOT_IN_MATERIAL, grounded_messages
from core.answer.sources import cited_numbers, number_sources
from core.app.holds import Hold, Refused, digest, parse_query
from core.ledger.errors import LedgerError
from core.ledger.model import Reservation
from core.ledger.tiers import EXTRACTIVE, Tier, cost, reservation_amount
from core.llm.chat import LLMUnavailable, Usage
from core.text.tokens import count_tokens

if TYPE_CHECKING:
    from core.app.tutoring import Tutoring


class Answer:
    """One question's way through the flow; `run` yields the events."""

    def __init__(self, app: Tutoring, user_id: int, question: str, key: str, request_id: str,
                 source_ids: list[int] | None) -> None:
        self.app, self.user_id, self.question, self.key, self.request_id = app, user_id, question, key, request_id
        self.source_ids = source_ids
        self.started = time.perf_counter()
        self.language: str | None = None

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        try:
            query = parse_query(self.question)
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
            async with Hold(self.app, reservation, self.key, self.user_id, self._failed) as hold:
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
        self.app.note("answer", made.mode, made.usage, charged)

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
            streamed, asked = False, time.perf_counter()
            try:
                async for event in _with_wait_notice(completion, self.app.settings.LLM_WAIT_NOTICE_S,
                                                     self.app.settings.STREAM_COALESCE_MS / 1000):
                    if event["type"] == "delta" and not streamed:
                        self.app.metrics.first_token(time.perf_counter() - asked)
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


async def _with_wait_notice(completion: AsyncIterable[str], notice_s: float,
                            coalesce_s: float) -> AsyncIterator[dict[str, Any]]:
    """The completion's pieces as delta events, with one waiting event first when the first piece
    takes longer than `notice_s` (the model is answering earlier questions). The first piece goes at
    once; later ones are joined into one delta per `coalesce_s` (and the rest at the end): each event
    crosses Ray, the HTTP stream or a Telegram edit, and on a CPU the model shares, fewer events
    leave it more of the cores."""
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
    async for joined in _coalesced(pieces, coalesce_s):
        yield {"type": "delta", "text": joined}


async def _coalesced(pieces: AsyncIterator[str], window_s: float) -> AsyncIterator[str]:
    """The pieces joined: what arrived within `window_s` after the last one sent goes as one."""
    loop, buffer = asyncio.get_running_loop(), ""
    sent_at = loop.time()
    async for piece in pieces:
        buffer += piece
        if loop.time() - sent_at >= window_s:
            yield buffer
            buffer, sent_at = "", loop.time()
    if buffer:
        yield buffer


def _cited(text: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sources = number_sources(hits)
    wanted = set(cited_numbers(text, len(sources)))
    return [source.__dict__ for source in sources if source.number in wanted]
