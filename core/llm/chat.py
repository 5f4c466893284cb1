"""The chat model: an OpenAI-compatible endpoint reached with the `openai` client, behind a breaker.

`ChatModel.stream` yields the answer's text as it arrives and then knows the call's token usage
(asked for with `stream_options.include_usage`; counted with tiktoken when the endpoint does not say).
Every failure — refused by the open breaker, connection error, timeout, an error status, a stream
cut short — surfaces as `LLMUnavailable`, so callers take their offline path; the client makes no
retries of its own, so each failure counts once against the breaker.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import openai
from loguru import logger

from core.config import Settings
from core.resilience.breaker import CircuitBreaker
from core.text.tokens import count_tokens


class LLMUnavailable(RuntimeError):
    """No answer from the LLM now (not configured, breaker open, or the call failed)."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Completion:
    """One streamed answer: iterate for text pieces; `usage` and `text` are complete afterwards."""

    def __init__(self, model: ChatModel, messages: Sequence[dict[str, str]], max_tokens: int) -> None:
        self._model, self._messages, self._max_tokens = model, messages, max_tokens
        self.usage = Usage()
        self.text = ""

    async def __aiter__(self) -> AsyncIterator[str]:
        client = self._model.admit()
        try:
            stream = await client.chat.completions.create(
                model=self._model.name, messages=list(self._messages), max_tokens=self._max_tokens,
                temperature=0.2, stream=True, stream_options={"include_usage": True})
            async for chunk in stream:
                if chunk.usage is not None:
                    self.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    self.text += piece
                    yield piece
        except openai.OpenAIError as exc:
            raise self._model.failed(exc) from None
        self._model.breaker.succeeded()
        if self.usage.prompt_tokens == 0:
            self.usage = Usage(sum(count_tokens(m["content"]) for m in self._messages), count_tokens(self.text))


class ChatModel:
    def __init__(self, settings: Settings, breaker: CircuitBreaker | None = None) -> None:
        self.name = settings.LLM_MODEL
        self.breaker = breaker or CircuitBreaker("llm", failure_threshold=settings.LLM_BREAKER_FAILURES,
                                                 cooldown_s=settings.LLM_BREAKER_COOLDOWN_S)
        self._client = _client(settings) if settings.llm_configured else None

    @property
    def configured(self) -> bool:
        return self._client is not None

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int) -> Completion:
        return Completion(self, messages, max_tokens)

    async def complete(self, messages: Sequence[dict[str, str]], max_tokens: int) -> tuple[str, Usage]:
        """The whole answer at once (quizzes), with its usage."""
        completion = self.stream(messages, max_tokens)
        async for _ in completion:
            pass
        return completion.text, completion.usage

    def admit(self) -> openai.AsyncOpenAI:
        if self._client is None:
            raise LLMUnavailable("no LLM endpoint is configured")
        if not self.breaker.allow():
            raise LLMUnavailable(f"the LLM circuit breaker is {self.breaker.state}")
        return self._client

    def failed(self, exc: Exception) -> LLMUnavailable:
        self.breaker.failed()
        logger.warning("llm call failed", error=f"{type(exc).__name__}: {exc}"[:300], breaker=self.breaker.state)
        return LLMUnavailable(str(exc)[:300])


def _client(settings: Settings) -> openai.AsyncOpenAI:
    key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else "unset"
    return openai.AsyncOpenAI(base_url=settings.OPENAI_BASE_URL, api_key=key, timeout=settings.LLM_TIMEOUT_S,
                              max_retries=0)
