"""The retrieval pipeline, independent of where its parts run (ports are injected).

    query → [dense: embed the query, search the vectors] + [lexical: BM25 over analysed text]
          (+ [lexical: BM25 over the query's translations], when an LLM translates it)
          → reciprocal rank fusion → (rerank the top candidates) → the k best chunks, with citations

When the dense side is unavailable (embedding endpoint down, breaker open) the lexical list alone
is used; when reranking is off or unavailable the fused order stands. The Serve deployment runs
this with actors as ports; `ustadh eval` and the benchmark run the same function. The `Trace` it
reports says how long each stage that ran took (the Retriever exports it as a metric).
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from core.retrieval.fusion import fuse
from core.retrieval.query import Query

CANDIDATES = 50
RERANK_DEPTH = 20
# The stages a Trace times, in pipeline order: embed the query (its cache included), search the
# vectors, BM25 (the query and its translations), translate the query, fuse, read the chunks' text,
# rerank. A stage that did not run is absent.
STAGES = ("embed", "dense", "lexical", "translate", "fuse", "chunks", "rerank")
T = TypeVar("T")


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
    """What happened, for logs, metrics and tests: which sides ran, whether reranking applied, and
    the seconds each stage that ran took (`STAGES`)."""
    dense: bool
    lexical: int
    reranked: bool
    translations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class _Stopwatch:
    """Seconds per stage of one request; a stage run more than once (lexical) adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    async def timed(self, stage: str, step: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await step
        finally:
            self.add(stage, started)

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


async def retrieve(query: Query, ports: Ports, *, rerank: bool,
                   on_trace: Callable[[Trace], None] | None = None) -> list[Hit]:
    watch = _Stopwatch()
    vector = await watch.timed("embed", ports.embed_query(query))
    dense = await watch.timed("dense", ports.dense(vector, CANDIDATES)) if vector is not None else []
    lexical = await watch.timed("lexical", ports.lexical(query, CANDIDATES))
    translations = await watch.timed("translate", ports.translate(query))
    translated = [await watch.timed("lexical", ports.lexical(replace(query, text=text), CANDIDATES))
                  for text in translations]
    started = time.perf_counter()
    fused = fuse([ranking for ranking in (dense, lexical, *translated) if ranking])
    top = [chunk_id for chunk_id, _ in fused[:max(RERANK_DEPTH, query.k)]]
    scores = dict(fused)
    watch.add("fuse", started)
    rows = await watch.timed("chunks", ports.chunks(top))
    top = [chunk_id for chunk_id in top if chunk_id in rows]  # vectors of removed chunks are not answers
    wants_rerank = rerank and len(top) > 1
    order = await watch.timed("rerank", ports.rerank(query, [rows[i] for i in top])) if wants_rerank else None
    if on_trace is not None:
        on_trace(Trace(vector is not None, len(lexical), order is not None, len(translations), watch.seconds))
    ranked = [i for i in order if i in rows] if order else top
    return [_hit(rows[i], scores[i]) for i in ranked[:query.k]]


def _hit(row: dict[str, Any], score: float) -> Hit:
    uri = row["uri"]
    return Hit(chunk_id=row["id"], text=row["text"], score=round(score, 6), title=row["title"],
               source=uri, url=uri if uri.startswith(("http://", "https://")) else None, page=row.get("page"),
               language=row.get("language"), document_id=row["document_id"])
