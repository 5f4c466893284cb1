"""The Retriever deployment: the retrieval pipeline (`core.retrieval.pipeline`) served by Ray Serve.

Deployed as the ingress of the retrieval application (`serve_app.retrieval_api`, which adds
`POST /retrieve`); the Tutor, the bot and evaluation reach it through a deployment handle. Each
replica keeps the BM25 index of the chunks in memory and rebuilds it when the corpus generation
(a Redis counter the Ingestor bumps on every commit) changes; the dense side goes to the
EmbeddingBatcher (query embeddings, cached in Redis per collection) and the VectorStore; reranking
goes to the Reranker actor (results cached in Redis by query, candidate ids and model); chunk
text comes through the Redis chunk cache. A circuit breaker guards the embedding endpoint when it
is an external one: while open, retrieval answers from BM25 alone. With an LLM the query is also
translated into the searched material's other languages (cached in Redis) for cross-lingual BM25.
Metrics (Ray's, `ray_`-prefixed on `/metrics`): `ustadh_retrieval_stage_seconds` by pipeline stage
(the pipeline's `Trace`), `ustadh_retrieval_cache_total` lookups by cache (query-embedding,
translation, rerank, chunk) and outcome (hit, miss), and the embeddings breaker `ustadh_breaker_open`.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from loguru import logger
from psycopg_pool import AsyncConnectionPool
from ray.exceptions import RayActorError, RayTaskError
from ray.util.metrics import Counter, Histogram
from redis.exceptions import RedisError

from actors import registry
from actors.held_gauge import HeldGauge
from actors.tracing import call
from core.config import Settings
from core.corpus import store
from core.corpus.cache import ChunkCache, generation
from core.db.pool import open_pool
from core.db.roles import Role
from core.embeddings import uses_openai
from core.ledger.tiers import tier as tier_of
from core.llm.chat import ChatModel, LLMUnavailable
from core.logs import setup_logging
from core.request_id import bound
from core.resilience.breaker import CircuitBreaker
from core.retrieval.bm25 import LexicalIndex
from core.retrieval.pipeline import STAGES, Trace, retrieve
from core.retrieval.query import Query, parse
from core.retrieval.translation import parse_translations, translation_messages, wanted
from core.text import language
from serve_app.loopback import keep_replica_grpc_on_loopback

keep_replica_grpc_on_loopback()  # this module is what a Retriever replica imports
_REFRESH_S = 0.5
_CACHE_TTL_S = 3600
_RERANK_MODEL_TTL_S = 60.0


class Corpus:
    """What one replica knows of the corpus: the BM25 index, the active collection, chunk sources."""

    def __init__(self) -> None:
        self.generation = -1
        self.checked = 0.0
        self.index = LexicalIndex([], [])
        self.meta: dict[str, tuple[int | None, str]] = {}  # chunk id -> (source id, visibility)
        self.languages: dict[tuple[int | None, str], frozenset[str]] = {}  # (source, visibility) -> chunk languages
        self.collection: store.Collection | None = None


class RetrievalMetrics:
    """A replica's retrieval metrics: seconds per pipeline stage, cache lookups by cache and outcome."""

    def __init__(self) -> None:
        self.stage = Histogram("ustadh_retrieval_stage_seconds", "Retrieval time by pipeline stage",
                               boundaries=[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
                               tag_keys=("stage",))
        self.cache = Counter("ustadh_retrieval_cache", "Retrieval cache lookups by cache and outcome",
                             tag_keys=("cache", "outcome"))

    def traced(self, trace: Trace) -> None:
        for stage in STAGES:
            if stage in trace.seconds:
                self.stage.observe(trace.seconds[stage], tags={"stage": stage})

    def looked_up(self, cache: str, hit: bool) -> None:
        self.cache.inc(tags={"cache": cache, "outcome": "hit" if hit else "miss"})

    def chunks_looked_up(self, hits: int, misses: int) -> None:
        for outcome, count in (("hit", hits), ("miss", misses)):
            if count:
                self.cache.inc(count, tags={"cache": "chunk", "outcome": outcome})


class RetrieverApp:
    def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "retriever")
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=1, socket_timeout=2)
        self.pool: AsyncConnectionPool | None = None
        self.cache: ChunkCache | None = None
        self.corpus = Corpus()
        self.refreshing = asyncio.Lock()
        self.breaker = CircuitBreaker("embeddings", failure_threshold=3, cooldown_s=30.0)
        self.llm = ChatModel(settings)  # query translation; its own breaker
        self.breaker_open = HeldGauge("ustadh_breaker_open", "1 while the circuit breaker refuses calls",
                                      tag_keys=("endpoint",))
        self.breaker_reported: int | None = None
        self.metrics = RetrievalMetrics()
        self.handles: dict[str, Any] = {}
        self.reranker_model, self.reranker_asked = "none", float("-inf")
        language.preload()  # not inside the first question

    async def retrieve(self, text: str, k: int = 5, lang: str | None = None, tier: str = "standard",
                       source_ids: list[int] | None = None, request_id: str | None = None) -> list[dict[str, Any]]:
        """Ranked chunks for a question; QueryError for bad input (the gateway answers 422).
        Public chunks only, unless `source_ids` names the sources to search (evaluation, admins)."""
        with bound(request_id):
            query = parse(text, k, lang)
            await self._refresh()
            ports = _Ports(self, source_ids)
            hits = await retrieve(query, ports, rerank=tier_of(tier).rerank, on_trace=ports.note)
            self._report_breaker()
            self.metrics.traced(ports.trace)
            logger.info("retrieved", k=k, hits=len(hits), language=query.language, dense=ports.trace.dense,
                        reranked=ports.trace.reranked, translations=ports.trace.translations)
            return [hit.to_json() for hit in hits]

    def _report_breaker(self) -> None:
        """The breaker gauge, set when its value changes (set on every request, the Ray metric write
        took 2% of a replica's CPU under load); `HeldGauge` keeps it on /metrics in between."""
        open_now = 0 if self.breaker.state == "closed" else 1
        if open_now != self.breaker_reported:
            self.breaker_open.set(open_now, tags={"endpoint": self.breaker.name})
            self.breaker_reported = open_now

    async def status(self) -> dict[str, Any]:
        """For /healthz: the embedding breaker and the size of this replica's lexical index."""
        return {"breaker": self.breaker.snapshot(), "llm_breaker": self.llm.breaker.snapshot(),
                "chunks": len(self.corpus.index),
                "collection": self.corpus.collection.name if self.corpus.collection else None}

    async def _refresh(self) -> None:
        if time.monotonic() - self.corpus.checked < _REFRESH_S:
            return
        async with self.refreshing:
            if time.monotonic() - self.corpus.checked < _REFRESH_S:
                return
            try:
                current = await generation(self.redis)
            except RedisError:
                current = self.corpus.generation + 1  # cannot tell: rebuild to be safe
            if current != self.corpus.generation:
                self.corpus = await self._load(current)
            self.corpus.checked = time.monotonic()

    async def _load(self, current: int) -> Corpus:
        pool = await self.connect()
        async with pool.connection() as conn:
            rows = await (await conn.execute(
                """SELECT c.id, c.text, c.language, d.source_id, d.visibility FROM chunks c
                   JOIN documents d ON d.id = c.document_id""")).fetchall()
            collection = await store.active_collection(conn)
        corpus = Corpus()
        corpus.generation = current
        corpus.index = await asyncio.to_thread(LexicalIndex, [r["id"] for r in rows], [r["text"] for r in rows])
        corpus.meta = {r["id"]: (r["source_id"], r["visibility"]) for r in rows}
        languages: dict[tuple[int | None, str], set[str]] = {}
        for r in rows:
            languages.setdefault((r["source_id"], r["visibility"]), set()).add(r["language"] or "en")
        corpus.languages = {scope: frozenset(found) for scope, found in languages.items()}
        corpus.collection = collection
        logger.info("lexical index rebuilt", chunks=len(rows), generation=current)
        return corpus

    async def connect(self) -> AsyncConnectionPool:
        if self.pool is None:
            self.pool = await open_pool(self.settings.DATABASE_URL or "", Role.RETRIEVER, max_size=4,
                                        name="retriever")
            self.cache = ChunkCache(self.redis, self.pool, self.settings.CHUNK_CACHE_TTL_S)
        return self.pool

    async def rerank_model(self, reranker: Any) -> str:
        """The Reranker's model ("none" offline), asked once a minute rather than on every request."""
        if time.monotonic() - self.reranker_asked > _RERANK_MODEL_TTL_S:
            self.reranker_model = await call(reranker.model)
            self.reranker_asked = time.monotonic()
        return self.reranker_model

    def actor(self, name: str) -> Any:
        if name not in self.handles:
            self.handles[name] = registry.get(name)
        return self.handles[name]


class _Ports:
    """The pipeline's ports for one request, backed by the replica's state and the actors."""

    def __init__(self, app: RetrieverApp, source_ids: list[int] | None) -> None:
        self.app, self.source_ids = app, source_ids
        self.trace = Trace(False, 0, False)

    def note(self, trace: Trace) -> None:
        self.trace = trace

    async def embed_query(self, query: Query) -> np.ndarray | None:
        collection = self.app.corpus.collection
        if collection is None:
            return None
        key = f"qemb:{collection.name}:{_digest(query.matching)}"
        cached = await _cache_get(self.app.redis, key)
        self.app.metrics.looked_up("query-embedding", cached is not None)
        if cached is not None:
            return np.frombuffer(cached, dtype=np.float32)
        guarded = uses_openai(self.app.settings)
        if guarded and not self.app.breaker.allow():
            return None
        try:
            vectors = await call(self.app.actor(registry.EMBEDDING_BATCHER).embed, [query.text], "query")
        except (RayTaskError, RayActorError) as exc:
            if guarded:
                self.app.breaker.failed()
            logger.warning("query embedding failed; answering from BM25 alone", error=str(exc)[:300],
                           breaker=self.app.breaker.state)
            return None
        if guarded:
            self.app.breaker.succeeded()
        vector = np.asarray(vectors[0], dtype=np.float32)
        await _cache_set(self.app.redis, key, vector.tobytes())
        return vector

    async def dense(self, vector: np.ndarray, limit: int) -> list[str]:
        collection = self.app.corpus.collection
        assert collection is not None
        condition = 'visibility == "public"'
        if self.source_ids is not None:
            condition = f"source_id in {[int(s) for s in self.source_ids]}"
        try:
            [hits] = await call(self.app.actor(registry.VECTOR_STORE).search, collection.name, vector[None, :], limit,
                                condition)
        except (RayTaskError, RayActorError) as exc:
            logger.warning("vector search failed; answering from BM25 alone", error=str(exc)[:300])
            return []
        return [hit["id"] for hit in hits]

    async def lexical(self, query: Query, limit: int) -> list[str]:
        meta = self.app.corpus.meta
        found = self.app.corpus.index.search(query.text, limit * 20)
        if self.source_ids is None:
            return [i for i, _ in found if meta[i][1] == "public"][:limit]
        wanted = set(self.source_ids)
        return [i for i, _ in found if meta[i][0] in wanted][:limit]

    def material_languages(self) -> set[str]:
        """The languages of the chunks this request searches."""
        scopes = self.app.corpus.languages
        if self.source_ids is None:
            return {lang for (_, visibility), found in scopes.items() if visibility == "public" for lang in found}
        wanted_sources = set(self.source_ids)
        return {lang for (source, _), found in scopes.items() if source in wanted_sources for lang in found}

    async def translate(self, query: Query) -> list[str]:
        """The query in the searched material's other languages (LLM, cached in Redis); [] when the
        material is all in the question's language, offline or on failure."""
        llm = self.app.llm
        targets = wanted(query.language, self.material_languages())
        if not self.app.settings.llm_translates_queries or not targets:
            return []
        key = f"qtr:{llm.name}:{_digest(query.language + '>' + ','.join(targets) + '|' + query.text)}"
        cached = await _cache_get(self.app.redis, key)
        self.app.metrics.looked_up("translation", cached is not None)
        if cached is not None:
            return json.loads(cached)
        try:
            reply, _ = await llm.complete(translation_messages(query.text, targets), 200, json_mode=True)
        except LLMUnavailable:
            return []
        texts = list(parse_translations(reply, query.text, targets).values())
        await _cache_set(self.app.redis, key, json.dumps(texts, ensure_ascii=False).encode())
        return texts

    async def rerank(self, query: Query, candidates: list[dict[str, Any]]) -> list[str] | None:
        reranker = self.app.actor(registry.RERANKER)
        model = await self.app.rerank_model(reranker)
        if model == "none":
            return None
        ids = [c["id"] for c in candidates]
        key = f"rerank:{model}:{_digest(query.matching + '|' + ','.join(ids))}"
        cached = await _cache_get(self.app.redis, key)
        self.app.metrics.looked_up("rerank", cached is not None)
        if cached is not None:
            return json.loads(cached)
        order = await call(reranker.rerank, query.text, [c["text"] for c in candidates])
        if order is None:
            return None
        ranked = [ids[i] for i in order]
        await _cache_set(self.app.redis, key, json.dumps(ranked).encode())
        return ranked

    async def chunks(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        await self.app.connect()
        assert self.app.cache is not None
        return await self.app.cache.get(ids, on_lookup=self.app.metrics.chunks_looked_up)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


async def _cache_get(redis: aioredis.Redis, key: str) -> bytes | None:
    try:
        return await redis.get(key)
    except RedisError:
        return None


async def _cache_set(redis: aioredis.Redis, key: str, value: bytes) -> None:
    try:
        await redis.set(key, value, ex=_CACHE_TTL_S)
    except RedisError as exc:
        logger.warning("retrieval cache unavailable", error=str(exc))

