"""Embeddings from an OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_API_KEY / EMBEDDING_MODEL)."""
from __future__ import annotations

import asyncio

import numpy as np
import openai

from core.embeddings.base import EmbeddingError, normalised

# Output sizes of OpenAI's own models; other models learn theirs from the first answer.
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """`openai.AsyncOpenAI` embeddings, split into requests of at most `batch_size` inputs.

    Sub-requests run at most `concurrency` at a time; rows come back in input order whatever
    order the endpoint lists them. Every failure (HTTP status, connection, timeout after the
    client's own retries, malformed answer) is raised as `EmbeddingError`.
    """

    version = "api"

    def __init__(self, *, model: str = "text-embedding-3-small", base_url: str | None = None,
                 api_key: str | None = None, dimensions: int | None = None, batch_size: int = 256,
                 timeout_s: float = 30.0, max_retries: int = 2, concurrency: int = 4) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = model
        self.batch_size = batch_size
        self._requested_dimensions = dimensions
        self._dimension = dimensions or KNOWN_DIMENSIONS.get(model, 0)
        self._limit = asyncio.Semaphore(concurrency)
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "unset", timeout=timeout_s,
                                         max_retries=max_retries)

    @property
    def dimension(self) -> int:
        """Vector size; 0 for a model of unknown size until its first answer."""
        return self._dimension

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await self._embed(texts)

    async def embed_queries(self, texts: list[str]) -> np.ndarray:
        return await self._embed(texts)

    async def aclose(self) -> None:
        await self.client.close()

    async def _embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        parts = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        results = await asyncio.gather(*(self._request(part) for part in parts))
        return np.vstack(results)

    async def _request(self, texts: list[str]) -> np.ndarray:
        extra = {"dimensions": self._requested_dimensions} if self._requested_dimensions else {}
        # The API rejects empty strings; a lone space embeds as "nothing" just as well.
        inputs = [text if text.strip() else " " for text in texts]
        async with self._limit:
            try:
                response = await self.client.embeddings.create(model=self.name, input=inputs, **extra)
            except openai.APIStatusError as exc:
                raise EmbeddingError(f"embedding endpoint answered {exc.status_code}: {exc.message}",
                                     status=exc.status_code,
                                     retryable=exc.status_code in (408, 409, 429) or exc.status_code >= 500) from exc
            except openai.APITimeoutError as exc:
                raise EmbeddingError("embedding endpoint timed out", retryable=True) from exc
            except openai.APIConnectionError as exc:
                raise EmbeddingError(f"embedding endpoint unreachable: {exc}", retryable=True) from exc
            except openai.OpenAIError as exc:
                raise EmbeddingError(f"embedding request failed: {exc}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts) or [r.index for r in rows] != list(range(len(texts))):
            raise EmbeddingError(f"embedding endpoint returned {len(rows)} vectors for {len(texts)} inputs")
        matrix = np.asarray([r.embedding for r in rows], dtype=np.float32)
        if self._dimension and matrix.shape[1] != self._dimension:
            raise EmbeddingError(f"model {self.name} returned dimension {matrix.shape[1]}, expected {self._dimension}")
        self._dimension = matrix.shape[1]
        return normalised(matrix)
