"""The chat model: an OpenAI-compatible endpoint reached with the `openai` client, behind a breaker.

`ChatModel.stream` yields the answer's text as it arrives and then knows the call's token usage,
asked for with `stream_options.include_usage`. An endpoint that sends none on a stream (the local
llama-cpp-python server never does) is counted another way: the local model by its own tokenizer
(`core.llm.local_tokens`), anything else with tiktoken.
The endpoint is LLM_BASE_URL or OPENAI_BASE_URL, or the local model server `ustadh up` started
(LOCAL_LLM_URL, with its key): one client and one breaker for all of them.
Every failure — refused by the open breaker, connection error, timeout, an error status, a stream
cut short — surfaces as `LLMUnavailable`, so callers take their offline path; the client makes no
retries of its own, so each failure counts once against the breaker.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import openai
from loguru import logger

from core.config import Settings
from core.llm import local_tokens
from core.llm.local_models import MODELS
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

    def __init__(self, model: ChatModel, messages: Sequence[dict[str, str]], max_tokens: int, json_mode: bool) -> None:
        self._model, self._messages, self._max_tokens, self._json = model, messages, max_tokens, json_mode
        self.usage = Usage()
        self.text = ""

    async def __aiter__(self) -> AsyncIterator[str]:
        client = self._model.admit()
        try:
            stream = await client.chat.completions.create(
                model=self._model.name, messages=list(self._messages), max_tokens=self._max_tokens,
                temperature=0, stream=True, stream_options={"include_usage": True},
                **({"response_format": {"type": "json_object"}} if self._json else {}))
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
            self.usage = await self._model.count(self._messages, self.text)


class ChatModel:
    def __init__(self, settings: Settings, breaker: CircuitBreaker | None = None) -> None:
        local = settings.llm_local
        self.name = settings.LOCAL_LLM_MODEL if local else settings.LLM_MODEL
        self.model_path = settings.models_dir / MODELS[self.name].file_name if local else None
        self.breaker = breaker or CircuitBreaker("llm", failure_threshold=settings.LLM_BREAKER_FAILURES,
                                                 cooldown_s=settings.LLM_BREAKER_COOLDOWN_S)
        self._client = _client(settings) if settings.llm_configured else None

    @property
    def configured(self) -> bool:
        return self._client is not None

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int, *, json_mode: bool = False) -> Completion:
        """One streamed call; `json_mode` asks the endpoint for a JSON object (response_format)."""
        return Completion(self, messages, max_tokens, json_mode)

    async def complete(self, messages: Sequence[dict[str, str]], max_tokens: int, *,
                       json_mode: bool = False) -> tuple[str, Usage]:
        """The whole answer at once (quizzes, translations), with its usage."""
        completion = self.stream(messages, max_tokens, json_mode=json_mode)
        async for _ in completion:
            pass
        return completion.text, completion.usage

    async def count(self, messages: Sequence[dict[str, str]], answer: str) -> Usage:
        """Prompt and answer tokens of a call whose endpoint did not say: the local model's own
        tokenizer (`core.llm.local_tokens`), else tiktoken's."""
        if self.model_path is not None:
            path = self.model_path
            return Usage(*await asyncio.to_thread(lambda: (local_tokens.prompt_tokens(path, messages),
                                                             local_tokens.text_tokens(path, answer))))
        return Usage(sum(count_tokens(m["content"]) for m in messages), count_tokens(answer))

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
    secret = settings.LOCAL_LLM_KEY if settings.llm_local else settings.OPENAI_API_KEY
    key = secret.get_secret_value() if secret else "unset"
    return openai.AsyncOpenAI(base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_s,
                              max_retries=0)
