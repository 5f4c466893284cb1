"""Text embeddings behind one interface: an OpenAI-compatible endpoint, or a model shipped on PyPI.

    embedder = make_embedder(settings)
    P = await embedder.embed_passages(["chunk one", "chunk two"])   # (2, embedder.dimension) float32
    q = await embedder.embed_queries(["a question"])                 # (1, embedder.dimension)

Vectors are L2-normalised, so a dot product is the cosine similarity. Inside the running system,
go through the `embedding_batcher` actor (`actors/embedding_batcher.py`) rather than loading a
model in every process.
"""
from __future__ import annotations

from core.config import Settings
from core.embeddings.base import KINDS, Embedder, EmbeddingError, Kind
from core.embeddings.offline import OfflineEmbedder
from core.embeddings.openai_backend import OpenAIEmbedder

__all__ = ["KINDS", "Embedder", "EmbeddingError", "Kind", "OfflineEmbedder", "OpenAIEmbedder", "make_embedder",
           "uses_openai"]


def uses_openai(settings: Settings) -> bool:
    return bool(settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY)


def make_embedder(settings: Settings) -> Embedder:
    """OpenAI-compatible embeddings when OPENAI_BASE_URL or OPENAI_API_KEY is set, else the offline model."""
    if uses_openai(settings):
        key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else None
        return OpenAIEmbedder(model=settings.EMBEDDING_MODEL, base_url=settings.OPENAI_BASE_URL, api_key=key)
    return OfflineEmbedder()
