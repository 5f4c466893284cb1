"""The embedding interface every back end implements, and its one error type."""
from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np

Kind = Literal["passage", "query"]
KINDS: tuple[Kind, ...] = ("passage", "query")


class EmbeddingError(RuntimeError):
    """Embedding failed (endpoint error, timeout, bad answer); `status` is the HTTP status if any."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable

    def __reduce__(self):  # keep the fields when Ray pickles the error across processes
        return (_rebuild, (str(self), self.status, self.retryable))


def _rebuild(message: str, status: int | None, retryable: bool) -> EmbeddingError:
    return EmbeddingError(message, status=status, retryable=retryable)


@runtime_checkable
class Embedder(Protocol):
    """Texts -> L2-normalised float32 vectors, one row per text, in input order.

    Passages (documents, chunks) and queries (questions) may be embedded differently (e5 prefixes),
    so retrieval must embed each side with its own method. Both return an array of shape
    (len(texts), dimension); an empty input gives shape (0, dimension).
    """

    name: str
    version: str

    @property
    def dimension(self) -> int: ...

    async def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    async def embed_queries(self, texts: list[str]) -> np.ndarray: ...


def normalised(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)
