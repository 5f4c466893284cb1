"""EmbeddingBatcher: one process holds the embedding model and batches every caller's texts.

Callers (ingestion, retrieval, the bot) send `embed(texts, kind)`; requests of the same kind
queue up and are taken together, up to EMBED_BATCH_MAX texts per model call. After the first
request of a batch arrives the actor waits at most EMBED_BATCH_WINDOW_MS for more (none when the
batch is already full); requests that arrive while the model runs simply wait for the next batch.
A back end that can run several batches at once (`parallelism`: the offline model has one engine
per core) gets up to that many, each formed as above, so no core waits for another's batch.
Each caller gets exactly its own vectors back, in the order of its texts. A request larger than
EMBED_BATCH_MAX is split across batches and reassembled. The model runs off the event loop (the
offline back end uses `asyncio.to_thread`, the OpenAI one is plain async I/O), so `ping`, `info`
and `stats` answer while a batch is being embedded.
Metrics (Ray's, `ray_`-prefixed on `/metrics`), by kind (query, passage): `ustadh_embedding_batch_texts`
(texts per model call) and `ustadh_embedding_batch_seconds` (a batch's model call), of the batches
embedded; `ustadh_embedding_queue_depth`, the texts waiting for a batch, sampled every second (Ray
drops a gauge that is not set again within two export intervals).
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from loguru import logger

from actors.tracing import traced
from core.config import Settings
from core.embeddings import KINDS, EmbeddingError, make_embedder
from core.logs import setup_logging

OPTIONS = {"num_cpus": 0.1, "max_restarts": -1, "max_task_retries": 3}
_DEPTH_SAMPLE_S = 1.0


class _Metrics:
    """The batcher's Ray metrics: every embedded batch's size and model time, and the queue's depth."""

    def __init__(self, batch_max: int) -> None:
        from ray.util import metrics

        sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        self.texts = metrics.Histogram("ustadh_embedding_batch_texts", "Texts per embedding model call",
                                       boundaries=[b for b in sizes if b < batch_max] + [batch_max],
                                       tag_keys=("kind",))
        self.seconds = metrics.Histogram("ustadh_embedding_batch_seconds", "An embedding batch's model call",
                                         boundaries=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
                                         tag_keys=("kind",))
        self.depth = metrics.Gauge("ustadh_embedding_queue_depth", "Texts waiting for an embedding batch")

    def embedded(self, kind: str, texts: int, seconds: float) -> None:
        self.texts.observe(texts, tags={"kind": kind})
        self.seconds.observe(seconds, tags={"kind": kind})


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future[np.ndarray]
    queued_at: float = field(default_factory=time.monotonic)


class EmbeddingBatcher:
    def __init__(self, settings: Settings, embedder: Any = None) -> None:
        setup_logging(settings, "embedding_batcher")
        self.settings = settings
        self.embedder = embedder if embedder is not None else make_embedder(settings)
        self.batch_max = settings.EMBED_BATCH_MAX
        self.window_s = settings.EMBED_BATCH_WINDOW_MS / 1000
        self._queues: dict[str, deque[_Request]] = {kind: deque() for kind in KINDS}
        self._queued = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._sampler: asyncio.Task[None] | None = None
        self.parallelism: int = getattr(self.embedder, "parallelism", 1)
        self._slots = asyncio.Semaphore(self.parallelism)
        self._running: set[asyncio.Task[None]] = set()
        self._batches = 0
        self._texts = 0
        self._largest = 0
        self._model_s = 0.0
        self._most_at_once = 0
        self._sizes: deque[int] = deque(maxlen=1024)
        self._metrics = _Metrics(self.batch_max)
        logger.info("embedding batcher ready", model=self.embedder.name, dimension=self.embedder.dimension,
                    batch_max=self.batch_max, window_ms=settings.EMBED_BATCH_WINDOW_MS)

    # ----------------------------------------------------------------- API

    @traced
    async def embed(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        """Vectors for `texts` (float32, shape (len(texts), dimension)), in order."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        self._ensure_tasks()
        loop = asyncio.get_running_loop()
        parts = [_Request(texts[i:i + self.batch_max], loop.create_future())
                 for i in range(0, len(texts), self.batch_max)]
        for part in parts:
            self._queues[kind].append(part)
            self._queued += len(part.texts)
        assert self._wakeup is not None
        self._wakeup.set()
        results = await asyncio.gather(*(part.future for part in parts))
        return results[0] if len(results) == 1 else np.vstack(results)

    @traced
    async def ping(self) -> dict[str, Any]:
        """Health: the actor answers (even mid-batch) and names its model."""
        self._ensure_tasks()  # the queue depth is sampled from the first probe on, not the first request
        return {"model": self.embedder.name, "dimension": self.embedder.dimension, "queued": self._queued}

    @traced
    async def info(self) -> dict[str, Any]:
        return {"name": self.embedder.name, "version": self.embedder.version, "dimension": self.embedder.dimension}

    @traced
    async def stats(self) -> dict[str, Any]:
        """Counters since start; `recent_sizes` lists the sizes of the last (up to 1024) batches;
        `model_s` adds up the time of every batch (batches run at once overlap); `most_at_once` is the
        most batches that ran at the same time (up to the back end's `parallelism`)."""
        return {"batches": self._batches, "texts": self._texts, "largest": self._largest,
                "parallelism": self.parallelism, "most_at_once": self._most_at_once,
                "mean": round(self._texts / self._batches, 2) if self._batches else 0.0,
                "model_s": round(self._model_s, 3), "queued": self._queued, "recent_sizes": list(self._sizes),
                "batch_max": self.batch_max, "window_ms": self.settings.EMBED_BATCH_WINDOW_MS}

    # ----------------------------------------------------------------- batching

    def _ensure_tasks(self) -> None:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="embedding-batcher")
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.get_running_loop().create_task(self._sample_depth(), name="queue-depth")

    async def _sample_depth(self) -> None:
        while True:
            self._metrics.depth.set(self._queued)
            await asyncio.sleep(_DEPTH_SAMPLE_S)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queued:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._slots.acquire()
            kind = min((k for k in KINDS if self._queues[k]), key=lambda k: self._queues[k][0].queued_at)
            if self.window_s > 0 and self._queued_of(kind) < self.batch_max:
                deadline = self._queues[kind][0].queued_at + self.window_s
                while (remaining := deadline - time.monotonic()) > 0 and self._queued_of(kind) < self.batch_max:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
                    except TimeoutError:
                        break
            task = asyncio.get_running_loop().create_task(self._embed_batch(kind, self._take(kind)))
            self._running.add(task)
            self._most_at_once = max(self._most_at_once, len(self._running))
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:  # a failed batch must never stop the worker
            logger.opt(exception=task.exception()).error("embedding batch failed unexpectedly")

    def _queued_of(self, kind: str) -> int:
        return sum(len(request.texts) for request in self._queues[kind])

    def _take(self, kind: str) -> list[_Request]:
        queue, batch, size = self._queues[kind], [], 0
        while queue and size + len(queue[0].texts) <= self.batch_max:
            request = queue.popleft()
            batch.append(request)
            size += len(request.texts)
        self._queued -= size
        return batch

    async def _embed_batch(self, kind: str, batch: list[_Request]) -> None:
        live = [request for request in batch if not request.future.done()]  # callers may have gone
        if not live:
            return
        texts = [text for request in live for text in request.texts]
        started = time.perf_counter()
        try:
            if kind == "query":
                vectors = await self.embedder.embed_queries(texts)
            else:
                vectors = await self.embedder.embed_passages(texts)
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.shape[0] != len(texts):
                raise EmbeddingError(f"model returned {vectors.shape[0]} vectors for {len(texts)} texts")
        except Exception as exc:
            logger.warning("embedding batch failed", kind=kind, size=len(texts), error=repr(exc))
            for request in live:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        elapsed = time.perf_counter() - started
        self._batches += 1
        self._texts += len(texts)
        self._largest = max(self._largest, len(texts))
        self._model_s += elapsed
        self._sizes.append(len(texts))
        self._metrics.embedded(kind, len(texts), elapsed)
        offset = 0
        for request in live:
            count = len(request.texts)
            if not request.future.done():
                request.future.set_result(vectors[offset:offset + count].copy())
            offset += count
        logger.debug("embedded batch", kind=kind, size=len(texts), callers=len(live), model_ms=round(elapsed * 1000, 1))
