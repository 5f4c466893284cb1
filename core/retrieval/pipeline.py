"""The retrieval pipeline, independent of where its parts run (ports are injected).

    query → [dense: embed the query, search the vectors] + [lexical: BM25 over analysed text]
          (+ [lexical: BM25 over the query's translations], when an LLM translates it)
          → reciprocal rank fusion → (rerank the top candidates) → the k best chunks, with citations

When the dense side is unavailable (embedding endpoint down, breaker open) the lexical list alone
is used; when reranking is off or unavailable the fused order stands. The Serve deployment runs
this with actors as ports; `ustadh eval` and the benchmark run the same function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import numpy as np

from core.retrieval.fusion import fuse
from core.retrieval.query import Query

CANDIDATES = 50
RERANK_DEPTH = 20


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    text: str
    score: float
    title: str
    source: str
    url: str | None
    page: int | None
    language: str | None
    document_id: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Ports(Protocol):
    async def embed_query(self, query: Query) -> np.ndarray | None: ...
    async def dense(self, vector: np.ndarray, limit: int) -> list[str]: ...
    async def lexical(self, query: Query, limit: int) -> list[str]: ...
    async def translate(self, query: Query) -> list[str]: ...
    async def rerank(self, query: Query, candidates: list[dict[str, Any]]) -> list[str] | None: ...
    async def chunks(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class Trace:
    """What happened, for logs and tests: which sides ran and whether reranking applied."""
    dense: bool
    lexical: int
    reranked: bool
    translations: int = 0


async def retrieve(query: Query, ports: Ports, *, rerank: bool,
                   on_trace: Callable[[Trace], None] | None = None) -> list[Hit]:
    vector = await ports.embed_query(query)
    dense = await ports.dense(vector, CANDIDATES) if vector is not None else []
    lexical = await ports.lexical(query, CANDIDATES)
    translations = await ports.translate(query)
    translated = [await ports.lexical(replace(query, text=text), CANDIDATES) for text in translations]
    fused = fuse([ranking for ranking in (dense, lexical, *translated) if ranking])
    top = [chunk_id for chunk_id, _ in fused[:max(RERANK_DEPTH, query.k)]]
    scores = dict(fused)
    rows = await ports.chunks(top)
    top = [chunk_id for chunk_id in top if chunk_id in rows]  # vectors of removed chunks are not answers
    order = await ports.rerank(query, [rows[i] for i in top]) if rerank and len(top) > 1 else None
    if on_trace is not None:
        on_trace(Trace(vector is not None, len(lexical), order is not None, len(translations)))
    ranked = [i for i in order if i in rows] if order else top
    return [_hit(rows[i], scores[i]) for i in ranked[:query.k]]


def _hit(row: dict[str, Any], score: float) -> Hit:
    uri = row["uri"]
    return Hit(chunk_id=row["id"], text=row["text"], score=round(score, 6), title=row["title"],
               source=uri, url=uri if uri.startswith(("http://", "https://")) else None, page=row.get("page"),
               language=row.get("language"), document_id=row["document_id"])
