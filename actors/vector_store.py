"""VectorStore: the single owner of the Milvus connection (Milvus Lite allows one process per data dir).

Every read and write of vectors goes through this actor, so a Milvus Lite file under DATA_DIR has
exactly one opener; with MILVUS_URI naming a Milvus server the same actor talks to it over gRPC.

A collection holds, per chunk: its id (the primary key), its vector (inner product on normalised
vectors = cosine) and the metadata retrieval filters on (document, source, language, visibility).
Chunk text is not here: it stays in PostgreSQL. Writes are upserts by id, so running a stage again
after a crash adds nothing twice. Written collections are flushed in the background at most every
FLUSH_EVERY_S (rows are searchable at once; flushing makes searching them fast), not per write:
a flush costs far more than a small document's upsert.

Milvus Lite reopens a file's collections 'released' after its opener ended without closing it (as
Ray ends an actor), and a released collection refuses searches and queries: so the actor loads a
collection before its first read or write, once per life (`_ready`).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from loguru import logger

from actors.tracing import traced
from core.config import Settings
from core.logs import setup_logging

OPTIONS = {"num_cpus": 0.1, "max_restarts": -1, "max_task_retries": 3}
FLUSH_EVERY_S = 2.0


class VectorStore:
    def __init__(self, settings: Settings) -> None:
        from pymilvus import MilvusClient

        setup_logging(settings, "vector_store")
        self.settings = settings
        self.client = MilvusClient(settings.milvus_uri)
        self.dirty: set[str] = set()
        self.loaded: set[str] = set()
        self.creating = asyncio.Lock()
        self.flusher: asyncio.Task[None] | None = None
        logger.info("vector store opened", uri=settings.milvus_uri)

    @traced
    async def ping(self) -> dict[str, Any]:
        """Health: the actor answers and Milvus lists its collections."""
        started = time.perf_counter()
        collections = await asyncio.to_thread(self.client.list_collections)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        logger.info("ping", collections=len(collections), milvus_ms=latency_ms)
        return {"milvus": "up", "collections": len(collections), "milvus_ms": latency_ms}

    @traced
    async def ensure_collection(self, name: str, dimension: int) -> bool:
        """Create the collection if missing; True if it was created."""
        async with self.creating:  # concurrent callers would both see it missing
            return await asyncio.to_thread(self._ensure_collection, name, dimension)

    @traced
    async def upsert(self, name: str, ids: list[str], vectors: np.ndarray, metadata: list[dict[str, Any]]) -> int:
        """Insert or replace one row per id (metadata: document_id, source_id, language, visibility)."""
        rows = [{"id": i, "vector": v.tolist(), **m} for i, v, m in zip(ids, np.asarray(vectors, np.float32), metadata)]
        await self._ready(name)
        result = await asyncio.to_thread(self.client.upsert, name, rows)
        self.dirty.add(name)
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush_later())
        return int(result["upsert_count"])

    @traced
    async def flush(self, name: str) -> None:
        """Seal what was written now (Milvus is slow to search unflushed rows)."""
        self.dirty.discard(name)
        await asyncio.to_thread(self.client.flush, name)

    async def _flush_later(self) -> None:
        while self.dirty:
            await asyncio.sleep(FLUSH_EVERY_S)
            for name in list(self.dirty):
                self.dirty.discard(name)
                try:
                    await asyncio.to_thread(self.client.flush, name)
                except Exception as exc:
                    logger.warning("flush failed", collection=name, error=str(exc))

    @traced
    async def delete(self, name: str, ids: list[str]) -> None:
        if ids and await asyncio.to_thread(self.client.has_collection, name):
            await asyncio.to_thread(self.client.delete, name, ids=ids)

    @traced
    async def ids(self, name: str, filter: str) -> list[str]:
        """Ids of the rows matching a Milvus boolean expression (e.g. 'document_id == 3')."""
        await self._ready(name)
        rows = await asyncio.to_thread(self.client.query, name, filter=filter, output_fields=["id"])
        return [row["id"] for row in rows]

    @traced
    async def count(self, name: str) -> int:
        if not await asyncio.to_thread(self.client.has_collection, name):
            return 0
        await self._ready(name)
        rows = await asyncio.to_thread(self.client.query, name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    @traced
    async def rows(self, name: str, ids: list[str]) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
        """The stored rows of these ids (those that exist, in no set order): ids, vectors, metadata."""
        await self._ready(name)
        found = await asyncio.to_thread(self.client.get, name, ids=ids, output_fields=["vector", *_METADATA])
        vectors = np.asarray([row["vector"] for row in found], np.float32)
        return [row["id"] for row in found], vectors, [{k: row[k] for k in _METADATA} for row in found]

    @traced
    async def collections(self) -> dict[str, int]:
        """Every collection and how many rows it holds."""
        names = await asyncio.to_thread(self.client.list_collections)
        return {name: await self.count(name) for name in names}

    @traced
    async def search(self, name: str, vectors: np.ndarray, limit: int, filter: str = "") -> list[list[dict[str, Any]]]:
        """For each query vector, up to `limit` hits: id, score and metadata, best first."""
        await self._ready(name)
        hits = await asyncio.to_thread(
            self.client.search, name, data=np.asarray(vectors, np.float32).tolist(), limit=limit, filter=filter,
            output_fields=list(_METADATA))
        return [[{"id": h["id"], "score": float(h["distance"]), **h["entity"]} for h in row] for row in hits]

    @traced
    async def drop(self, name: str) -> None:
        self.loaded.discard(name)
        await asyncio.to_thread(self.client.drop_collection, name)

    async def _ready(self, name: str) -> None:
        """The collection loaded (see the module docstring); a missing one is left to fail in the caller."""
        if name not in self.loaded and await asyncio.to_thread(self.client.has_collection, name):
            await asyncio.to_thread(self.client.load_collection, name)
            self.loaded.add(name)

    def _ensure_collection(self, name: str, dimension: int) -> bool:
        from pymilvus import DataType, MilvusClient

        if self.client.has_collection(name):
            self.client.load_collection(name)
            self.loaded.add(name)
            return False
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        for field, (kind, length) in _METADATA.items():
            schema.add_field(field, kind, **({"max_length": length} if length else {}))
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="IP")
        self.client.create_collection(name, schema=schema, index_params=index)
        self.loaded.add(name)
        logger.info("collection created", collection=name, dimension=dimension)
        return True


def _metadata_fields() -> dict[str, tuple[Any, int]]:
    from pymilvus import DataType

    return {"document_id": (DataType.INT64, 0), "source_id": (DataType.INT64, 0),
            "language": (DataType.VARCHAR, 8), "visibility": (DataType.VARCHAR, 16)}


_METADATA = _metadata_fields()
