"""The Tutor deployment: a thin Serve shell over `core.app.tutoring.Tutoring`, which holds the whole
answer and quiz flow (validation, admission, billing, retrieval, the LLM or the extractive path).

This shell injects the ports — the wallet client, the Retriever's deployment handle, Ray's metrics —
and forwards each call, with the caller's request id bound for the logs. Its methods and events are
`Tutoring`'s (see there); `POST /chat/ask`, `POST /quizzes/generate`, the quiz answer routes and the
bot reach it through `actors.clients.tutor` or the gateway's handle.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ray import serve
from ray.util.metrics import Counter, Histogram

from actors.clients import retrieval as retrieval_client
from actors.clients.wallet import Wallet
from actors.held_gauge import HeldGauge
from core.app.tutoring import Tutoring
from core.config import Settings
from core.logs import setup_logging
from serve_app.loopback import keep_replica_grpc_on_loopback

keep_replica_grpc_on_loopback()


class RetrieverHandle:
    """`core.app.ports.Retriever` over the Retriever deployment's handle (found on first use: it is
    an application of its own), or over the handle a test composes."""

    def __init__(self, handle: Any = None) -> None:
        self.handle = handle

    async def retrieve(self, text: str, k: int, tier: str, source_ids: list[int] | None,
                       request_id: str) -> list[dict[str, Any]]:
        if self.handle is None:
            self.handle = await asyncio.to_thread(retrieval_client.deployment_handle)
        return await self.handle.retrieve.remote(text, k, None, tier, source_ids, request_id)


class RayMetrics:
    """`core.app.ports.TutorMetrics` as Ray metrics (on /metrics with a `ray_` prefix): answers and
    quizzes by kind and mode, the LLM breaker, tokens in and out, micro-credits charged, and the
    LLM's time to first token."""

    def __init__(self) -> None:
        self.answers = Counter("ustadh_answers", "Answers and quizzes by how they were made",
                               tag_keys=("kind", "mode"))
        self.breaker_open = HeldGauge("ustadh_breaker_open", "1 while the circuit breaker refuses calls",
                                      tag_keys=("endpoint",))
        self.tokens = Counter("ustadh_llm_tokens", "Tokens read (in) and written (out) for answers and quizzes",
                              tag_keys=("kind", "direction"))
        self.charged = Counter("ustadh_charged_microcredits", "Micro-credits charged for answers and quizzes",
                               tag_keys=("kind",))
        self.first = Histogram("ustadh_llm_first_token_seconds", "From asking the LLM to its answer's first piece",
                               boundaries=[0.25, 0.5, 1, 2, 4, 8, 15, 20, 30, 60, 120])

    def made(self, kind: str, mode: str, *, breaker_open: bool) -> None:
        self.answers.inc(tags={"kind": kind, "mode": mode})
        self.breaker_open.set(1 if breaker_open else 0, tags={"endpoint": "llm"})

    def billed(self, kind: str, tokens_in: int, tokens_out: int, charged: int) -> None:
        for direction, count in (("in", tokens_in), ("out", tokens_out)):
            if count > 0:
                self.tokens.inc(count, tags={"kind": kind, "direction": direction})
        if charged > 0:
            self.charged.inc(charged, tags={"kind": kind})

    def first_token(self, seconds: float) -> None:
        self.first.observe(seconds)


class TutorApp:
    def __init__(self, settings: Settings, retriever: Any = None) -> None:
        """`retriever`: the Retriever's handle; by default the retrieval application's."""
        setup_logging(settings, "tutor")
        self.tutoring = Tutoring(settings, Wallet(settings), RetrieverHandle(retriever), RayMetrics())

    async def ask(self, user_id: int, question: str, key: str, request_id: str | None = None,
                  source_ids: list[int] | None = None) -> AsyncIterator[dict[str, Any]]:
        async for event in self.tutoring.ask(user_id, question, key, request_id, source_ids):
            yield event

    async def quiz(self, user_id: int, topic: str, count: int, key: str,
                   request_id: str | None = None, source_ids: list[int] | None = None) -> dict[str, Any]:
        return await self.tutoring.quiz(user_id, topic, count, key, request_id, source_ids)

    async def poll_sent(self, question_id: str, poll_id: str) -> None:
        await self.tutoring.poll_sent(question_id, poll_id)

    async def poll_answer(self, poll_id: str, user_id: int, option_ids: list[int]) -> bool | None:
        return await self.tutoring.poll_answer(poll_id, user_id, option_ids)

    async def answer(self, user_id: int, quiz_id: str, question_id: str, option: int) -> dict[str, Any]:
        return await self.tutoring.answer(user_id, quiz_id, question_id, option)

    async def score(self, user_id: int) -> dict[str, int]:
        return await self.tutoring.score(user_id)

    async def questions(self, user_id: int, limit: int, before_id: int | None) -> list[dict[str, Any]]:
        return await self.tutoring.questions(user_id, limit, before_id)

    async def forget(self, user_id: int) -> None:
        await self.tutoring.forget(user_id)

    async def status(self) -> dict[str, Any]:
        return await self.tutoring.status()


# Wrapped here, not decorated in place, so the class pickles by reference (see ops.system_actors).
Tutor = serve.deployment(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=100)(TutorApp)
