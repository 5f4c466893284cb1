"""Reranker: orders retrieval candidates by relevance to the question, with an LLM when one is set.

With an OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_API_KEY) the LLM_MODEL reads the
question and the numbered candidates and answers the numbers, most relevant first (listwise
reranking). On the local model (`ustadh up` without an endpoint) it is off unless LLM_RERANK=on:
on 2 cores it costs seconds per question (README, "Local model"). A circuit breaker guards the endpoint: while it is open, and offline, `rerank` answers
None and retrieval keeps its fused order. No PyPI package ships cross-encoder weights that load
offline (see ../shared/notes/stack-facts.md), and on the eval sets the fused dense+BM25 order
already meets the recall targets (README, "Retrieval"), so offline there is no reranking step.
"""
from __future__ import annotations

import re
from typing import Any

from actors.tracing import traced
from core.config import Settings
from core.llm.chat import ChatModel, LLMUnavailable
from core.logs import setup_logging

OPTIONS = {"num_cpus": 0.05, "max_restarts": -1, "max_task_retries": 1}
_PASSAGE_CHARS = 700
_PROMPT = ("You rank passages for a tutoring assistant. Given a question and numbered passages (in any of "
           "Arabic, French or English), answer only the passage numbers, most relevant first, comma separated.")


class Reranker:
    def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "reranker")
        self.settings = settings
        self.llm = ChatModel(settings)
        self.breaker = self.llm.breaker

    @traced
    async def rerank(self, question: str, passages: list[str]) -> list[int] | None:
        """Indexes of `passages`, best first; None when no reranking is available right now."""
        numbered = "\n\n".join(f"[{i + 1}] {p[:_PASSAGE_CHARS]}" for i, p in enumerate(passages))
        try:
            reply, _ = await self.llm.complete([{"role": "system", "content": _PROMPT},
                                                {"role": "user", "content": f"Question: {question}\n\n{numbered}"}],
                                               max_tokens=100)
        except LLMUnavailable:
            return None
        return _order(reply, len(passages))

    @traced
    async def ping(self) -> dict[str, Any]:
        return {"mode": "llm" if self.settings.llm_reranks else "off", "breaker": self.breaker.snapshot()}

    @traced
    async def model(self) -> str:
        return self.llm.name if self.settings.llm_reranks else "none"


def _order(reply: str, count: int) -> list[int]:
    """The passage numbers the model named (valid, first mention), then the ones it left out."""
    named = [int(n) - 1 for n in re.findall(r"\d+", reply) if 1 <= int(n) <= count]
    seen = list(dict.fromkeys(named))
    return seen + [i for i in range(count) if i not in seen]
