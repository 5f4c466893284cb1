"""Fake OpenAI-compatible HTTP server: the LLM/embedding network edge, for tests only.

Owns ``/v1/embeddings``, ``/v1/chat/completions`` (plain and SSE streaming) and
``/v1/models``.  The real ``openai.AsyncOpenAI`` client talks to it over loopback HTTP, so
request building, SSE parsing, base64 embedding decoding, retries and timeouts all run for
real; only the remote model is replaced by deterministic stand-ins::

    async with FakeOpenAI() as ai:
        client = AsyncOpenAI(base_url=ai.base_url + "/v1", api_key="x", max_retries=0)
        ai.responder = lambda request: "Salam!"

Determinism:
* embeddings are a bag of hashed words (NFKD, combining marks such as Arabic harakat
  dropped, casefolded, ``\\w+`` tokens), L2-normalised and rounded to float32, so texts that
  share words are similar and the ``float`` and ``base64`` encodings decode to identical
  values (see :func:`fake_embedding`);
* token usage is whitespace word counts: ``prompt_tokens`` over all message / input texts,
  ``completion_tokens`` over the reply.

Failure modes (``fail_next``, ``stall``, ``down``) apply before the endpoint runs; every
request is recorded in ``requests`` first, including the ones that fail.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import re
import struct
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Responder = Callable[[dict[str, Any]], str]

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}


def fake_embedding(text: str, dimensions: int = 64) -> list[float]:
    """Deterministic unit vector: hashed word counts, L2-normalised, float32-exact."""
    vector = [0.0] * dimensions
    for word in _words(text):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        vector[0], norm = 1.0, 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in vector))
    return list(struct.unpack(f"<{dimensions}f", packed))


def default_responder(request: dict[str, Any]) -> str:
    """``"Answer: <first 50 chars of the last user message>"``."""
    user_texts = [_content_text(m) for m in request.get("messages", []) if m.get("role") == "user"]
    return f"Answer: {(user_texts or [''])[-1][:50]}"


@dataclass
class _Rule:
    """``remaining`` upcoming requests under ``path`` get ``value`` (status or seconds)."""

    remaining: int
    path: str | None
    value: float

    def matches(self, request_path: str) -> bool:
        return self.path is None or request_path.startswith((self.path, "/v1" + self.path))


class FakeOpenAI:
    """Loopback OpenAI-compatible server (aiohttp) with recording and failure modes."""

    def __init__(
        self,
        dimensions: int = 64,
        models: Sequence[str] = ("gpt-4o-mini", "text-embedding-3-small"),
    ) -> None:
        self.dimensions = dimensions
        self.models = list(models)
        self.base_url = ""
        self.responder: Responder = default_responder
        self.chunk_delay = 0.0
        self.down = False
        self.requests: list[tuple[str, Any]] = []
        self._failures: list[_Rule] = []
        self._stalls: list[_Rule] = []
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._edge], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- failure modes

    def fail_next(self, n: int, status: int = 500, path: str | None = None) -> None:
        """The next ``n`` requests (optionally only under ``path``) answer ``status``."""
        self._failures.append(_Rule(n, path, status))

    def stall(self, seconds: float, n: int = 1, path: str | None = None) -> None:
        """The next ``n`` requests (optionally only under ``path``) hang ``seconds`` first."""
        self._stalls.append(_Rule(n, path, seconds))

    def reset(self) -> None:
        """Back to the initial state: no failure modes, default responder, nothing recorded."""
        self._failures.clear()
        self._stalls.clear()
        self.down = False
        self.responder = default_responder
        self.chunk_delay = 0.0
        self.requests.clear()

    def embed(self, text: str, dimensions: int | None = None) -> list[float]:
        """The vector this server returns for ``text``."""
        return fake_embedding(text, dimensions or self.dimensions)

    @web.middleware
    async def _edge(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.json() if request.body_exists else None
        self.requests.append((request.path, body))
        if self.down:
            return _error(503, "The server is temporarily unavailable (fake: down)")
        if stall := _take(self._stalls, request.path):
            await self._sleep(stall.value)
        if failure := _take(self._failures, request.path):
            return _error(int(failure.value), "Injected failure (fake: fail_next)")
        return await handler(request)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server stops."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ----------------------------------------------------------------- endpoints

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        texts = _embedding_inputs(body.get("input"))
        dimensions = body.get("dimensions") or self.dimensions
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(fake_embedding(t, dimensions), as_base64)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(_count_tokens(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = self.responder(body)
        prompt_tokens = sum(_count_tokens(_content_text(m)) for m in body.get("messages", []))
        completion_tokens = _count_tokens(reply)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        head = {"id": f"chatcmpl-fake{next(self._ids)}", "created": int(time.time()), "model": body.get("model")}
        if body.get("stream"):
            return await self._stream(request, body, head, reply, usage)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
        return web.json_response({**head, "object": "chat.completion", "choices": [choice], "usage": usage})

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        head: dict[str, Any],
        reply: str,
        usage: dict[str, int],
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunk = {**head, "object": "chat.completion.chunk", **({"usage": None} if include_usage else {})}
        deltas = [{"role": "assistant", "content": ""}, *({"content": p} for p in _split_reply(reply))]
        events = [{**chunk, "choices": [_delta(d)]} for d in deltas]
        events.append({**chunk, "choices": [_delta({}, "stop")]})
        if include_usage:
            events.append({**chunk, "choices": [], "usage": usage})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            for event in events:
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
                await asyncio.sleep(self.chunk_delay)
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading mid-stream; nothing left to answer
        return response


def _take(rules: list[_Rule], path: str) -> _Rule | None:
    """Consume one use of the first rule matching ``path``."""
    rule = next((r for r in rules if r.matches(path)), None)
    if rule is not None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            rules.remove(rule)
    return rule


def _error(status: int, message: str) -> web.Response:
    error = {"message": message, "type": _ERROR_TYPES.get(status, "server_error"), "param": None, "code": None}
    return web.json_response({"error": error}, status=status)


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def _split_reply(reply: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly ``reply``."""
    return re.findall(r"\s*\S+|\s+$", reply)


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _embedding_inputs(value: Any) -> list[str]:
    """``input`` may be a string, a list of strings, token ids or lists of token ids."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))]
    return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value or []]


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if isinstance(part, dict))


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return re.findall(r"\w+", stripped.casefold())


def _count_tokens(text: str) -> int:
    return len(text.split())
