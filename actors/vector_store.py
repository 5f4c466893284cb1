"""VectorStore: the single owner of the Milvus connection (Milvus Lite allows one process per data dir).

Every read and write of vectors goes through this actor, so a Milvus Lite file under DATA_DIR has
exactly one opener; with MILVUS_URI naming a Milvus server the same actor talks to it over gRPC.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from loguru import logger

from actors.tracing import traced
from core.config import Settings
from core.logs import setup_logging


OPTIONS = {"num_cpus": 0.1, "max_restarts": -1, "max_task_retries": 3}


class VectorStore:
    def __init__(self, settings: Settings) -> None:
        from pymilvus import MilvusClient

        setup_logging(settings, "vector_store")
        self.settings = settings
        self.client = MilvusClient(settings.milvus_uri)
        logger.info("vector store opened", uri=settings.milvus_uri)

    @traced
    async def ping(self) -> dict[str, Any]:
        """Health: the actor answers and Milvus lists its collections."""
        started = time.perf_counter()
        collections = await asyncio.to_thread(self.client.list_collections)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        logger.info("ping", collections=len(collections), milvus_ms=latency_ms)
        return {"milvus": "up", "collections": len(collections), "milvus_ms": latency_ms}
