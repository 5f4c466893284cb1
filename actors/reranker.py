"""Reranker: orders retrieval candidates by relevance to the question, with an LLM when one is set.

With an OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_API_KEY) the LLM_MODEL reads the
question and the numbered candidates and answers the numbers, most relevant first (listwise
reranking). A circuit breaker guards the endpoint: while it is open, and offline, `rerank` answers
None and retrieval keeps its fused order. No PyPI package ships cross-encoder weights that load
offline (see ../shared/notes/stack-facts.md), and on the eval sets the fused dense+BM25 order
already meets the recall targets (README, "Retrieval"), so offline there is no reranking step.
"""
from __future__ import annotations

import re
from typing import Any

from loguru import logger

from actors.tracing import traced
from core.config import Settings
from core.logs import setup_logging
from core.resilience.breaker import CircuitBreaker

OPTIONS = {"num_cpus": 0.05, "max_restarts": -1, "max_task_retries": 1}
_PASSAGE_CHARS = 700
_PROMPT = ("You rank passages for a tutoring assistant. Given a question and numbered passages (in any of "
           "Arabic, French or English), answer only the passage numbers, most relevant first, comma separated.")


class Reranker:
    def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "reranker")
        self.settings = settings
        self.breaker = CircuitBreaker("llm-rerank", failure_threshold=3, cooldown_s=30.0)
        self.client = _client(settings) if settings.llm_configured else None

    @traced
    async def rerank(self, question: str, passages: list[str]) -> list[int] | None:
        """Indexes of `passages`, best first; None when no reranking is available right now."""
        if self.client is None or not self.breaker.allow():
            return None
        numbered = "\n\n".join(f"[{i + 1}] {p[:_PASSAGE_CHARS]}" for i, p in enumerate(passages))
        try:
            reply = await self.client.chat.completions.create(
                model=self.settings.LLM_MODEL, temperature=0, max_tokens=100,
                messages=[{"role": "system", "content": _PROMPT},
                          {"role": "user", "content": f"Question: {question}\n\n{numbered}"}])
        except Exception as exc:  # noqa: BLE001 - any endpoint failure counts against the breaker
            self.breaker.failed()
            logger.warning("llm rerank failed", error=str(exc), breaker=self.breaker.state)
            return None
        self.breaker.succeeded()
        return _order(reply.choices[0].message.content or "", len(passages))

    @traced
    async def ping(self) -> dict[str, Any]:
        return {"mode": "llm" if self.client else "off", "breaker": self.breaker.snapshot()}

    @traced
    async def model(self) -> str:
        return self.settings.LLM_MODEL if self.client else "none"


def _client(settings: Settings) -> Any:
    from openai import AsyncOpenAI

    key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else "none"
    return AsyncOpenAI(base_url=settings.OPENAI_BASE_URL, api_key=key, max_retries=0, timeout=10.0)


def _order(reply: str, count: int) -> list[int]:
    """The passage numbers the model named (valid, first mention), then the ones it left out."""
    named = [int(n) - 1 for n in re.findall(r"\d+", reply) if 1 <= int(n) <= count]
    seen = list(dict.fromkeys(named))
    return seen + [i for i in range(count) if i not in seen]
