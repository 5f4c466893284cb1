"""Ingestor: the single owner of ingestion jobs, from a submitted file or URL to indexed chunks.

`submit_file` / `submit_url` persist a job (`core.ingest.jobs`) and wake the worker loop, which
runs up to INGEST_WORKERS jobs at once (never two of the same document). Each job walks the
states queued → extracting → normalising → chunking → embedding → indexed; each stage's output is
saved in the job's directory before the state moves on, so a job interrupted by a crash (the
actor is restarted by Ray) resumes at the stage it was in. The last step writes the document,
its chunks, the embedding records and the move to `indexed` in one transaction: that commit
happens once, and it is what makes the new chunks visible to readers. Vectors are upserted into
Milvus by chunk id beforehand (a re-run replaces, never duplicates); stale vectors are deleted
after the commit, and vectors of a job that fails are deleted unless a committed chunk owns them.

A URL is fetched through the system's guarded fetcher (`core.web.fetch`): an address that is not
public (loopback, private, link-local, cloud metadata), directly or by redirect, fails the job with
reason `blocked` before any request is sent to it; SCRAPE_ALLOW exempts named hosts.

`start_reindex` runs the reindex job (`core.ingest.reindex`): every chunk the current embedding
model has no vector for is embedded into that model's collection, which then becomes the one
readers use; `reindex_status` follows it. One runs at a time.

Transient failures (a URL that times out or answers 5xx, the embedding endpoint, Milvus, the
database connection) retry with exponential backoff up to INGEST_MAX_ATTEMPTS; bad input (corrupt
or encrypted PDF, empty or binary text, too large, unsupported type, low quality, a near-duplicate
of another document) fails the job at once with a reason code and message.

Metrics (Ray's, `ray_`-prefixed on `/metrics`): `ustadh_ingestion_jobs_total` by how a job ended
(`outcome`: indexed, or failed) and `reason` (the failure's code; "-" for indexed), and
`ustadh_ingestion_chunks_total`, the chunks indexed (its rate is chunks per second).
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
import redis.asyncio as aioredis
from loguru import logger
from ray.exceptions import RayActorError, RayTaskError

from actors import registry
from actors.tracing import call, traced
from core.config import Settings
from core.corpus import store
from core.corpus.cache import ChunkCache, bump_generation
from core.db.pool import open_pool
from core.db.roles import Role
from core.embeddings import EmbeddingError
from core.ingest import jobs
from core.ingest.extract import ExtractionError, extract
from core.ingest.fetch import FetchError, download, ingestion_fetcher
from core.ingest.jobs import Job, NewJob
from core.ingest.prepare import (
    PreparedChunk,
    Profile,
    Rejected,
    chunking_signature,
    content_sha256,
    cut,
    load_models,
    profile,
)
from core.ingest.reindex import REINDEX_STALLED_STEPS, REINDEX_STEP, Reindex
from core.ingest.workdir import JobFiles
from core.logs import setup_logging
from core.request_id import bound, current_request_id, new_request_id
from core.text.chunking import ChunkSettings

OPTIONS = {"num_cpus": 0.1, "max_restarts": -1, "max_task_retries": 0}
_POLL_S = 1.0
_EMBED_IN_FLIGHT = 4
_BAD_INPUT = (ExtractionError, Rejected)


class _Transient(Exception):
    """A failure worth retrying later (network, endpoint, actor restart, database connection)."""


class Ingestor:
    async def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "ingestor")
        self.settings = settings
        self.chunking = ChunkSettings(settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS)
        await asyncio.to_thread(load_models, self.chunking)
        self.pool = await open_pool(settings.DATABASE_URL or "", Role.INGESTOR, max_size=10, name="ingestor")
        redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=2, socket_timeout=5)
        self.cache = ChunkCache(redis, self.pool, settings.CHUNK_CACHE_TTL_S)
        self.fetcher = ingestion_fetcher(settings)
        self.running: dict[UUID, str] = {}  # job id -> input uri
        self.ended, self.chunks_indexed = _metrics()
        self.handles: dict[str, Any] = {}
        self.collection: store.Collection | None = None
        self.collection_lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self.reindexing: Reindex | None = None
        self.reindex_task: asyncio.Task[None] | None = None
        self.loop = asyncio.create_task(self._work_loop())
        logger.info("ingestor started", workers=settings.INGEST_WORKERS, chunking=chunking_signature(self.chunking))

    # ----------------------------------------------------------------- API

    @traced
    async def submit_file(self, data: bytes, filename: str | None, *, media_type: str | None = None,
                          uri: str | None = None, requested_by: int | None = None,
                          visibility: str = "public", source_id: int | None = None) -> dict[str, Any]:
        """Queue a file; `uri` names the document (default `upload:<filename>`, or its digest)."""
        job_id = uuid.uuid4()
        files = JobFiles(self.settings.ingest_dir, job_id)
        too_large = len(data) > self.settings.ingest_max_bytes
        if not too_large:
            await asyncio.to_thread(files.write_input, data)
        document = uri or f"upload:{filename or content_sha256(data)}"
        refusal = ("too_large", f"the file is larger than the {self.settings.INGEST_MAX_MB:g} MB limit"
                   ) if too_large else None
        job = await self._create(NewJob(job_id, document, _request_id(), filename, media_type,
                                        None if too_large else str(files.input), requested_by, source_id, visibility),
                                 refusal)
        return job.public()

    @traced
    async def submit_url(self, url: str, *, requested_by: int | None = None, visibility: str = "public",
                         source_id: int | None = None) -> dict[str, Any]:
        job = await self._create(NewJob(uuid.uuid4(), url, _request_id(), requested_by=requested_by,
                                        source_id=source_id, visibility=visibility))
        return job.public()

    @traced
    async def job(self, job_id: str) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            found = await jobs.get(conn, UUID(job_id))
        return found.public() if found else None

    @traced
    async def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        """The jobs with these ids that exist, in no particular order (one query, for pollers)."""
        async with self.pool.connection() as conn:
            return [job.public() for job in await jobs.many(conn, [UUID(i) for i in job_ids])]

    @traced
    async def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return [job.public() for job in await jobs.recent(conn, limit)]

    @traced
    async def start_reindex(self) -> dict[str, Any]:
        """Start the reindex job (or find the one that runs): embed, `REINDEX_STEP` chunks at a time, every
        chunk the current model has no vector for, then make that collection the one readers use.
        The job's status as `reindex_status` shows it, `already_running` said."""
        running = self.reindexing is not None and self.reindexing.state == "running"
        if not running:
            self.reindexing = Reindex(uuid.uuid4().hex)
            self.reindex_task = asyncio.create_task(self._reindex(self.reindexing))
        return {**self.reindexing.public(), "already_running": running}

    @traced
    async def reindex_status(self) -> dict[str, Any] | None:
        """The running or latest reindex job of this actor's life, None before the first."""
        return None if self.reindexing is None else self.reindexing.public()

    async def _reindex(self, job: Reindex) -> None:
        stalled = 0
        try:
            step = await self._reindex_step(0)  # counts what is left, embeds nothing
            job.collection, job.total = step["collection"], step["remaining"]
            while step["remaining"]:
                step = await self._reindex_step(REINDEX_STEP)
                job.done += step["done"]
                job.total = job.done + step["remaining"]
                stalled = 0 if step["done"] else stalled + 1
                if stalled >= REINDEX_STALLED_STEPS:
                    raise RuntimeError(f"{step['remaining']} chunks left but none could be embedded")
            job.finish("done")
            logger.info("reindex finished", chunks=job.done, collection=job.collection)
        except Exception as exc:
            logger.exception("reindex stopped", done=job.done)
            job.finish("failed", f"{type(exc).__name__}: {exc}"[:300])

    async def _reindex_step(self, limit: int) -> dict[str, Any]:
        """Embed up to `limit` chunks that lack a vector from the current model, in its collection;
        when none is left, make that collection the one readers use. Readers keep the old one until
        then. Returns {"collection", "done", "remaining", "active"}."""
        collection = await self._collection(fresh=True)
        async with self.pool.connection() as conn:
            rows = await store.chunks_missing_embeddings(conn, collection, "", limit)
        if rows:
            vectors = await call(self._actor(registry.EMBEDDING_BATCHER).embed, [r.text for r in rows], "passage")
            await call(self._actor(registry.VECTOR_STORE).upsert, collection.name, [r.id for r in rows], vectors,
                       [{"document_id": r.document_id, "source_id": r.source_id or 0, "language": r.language or "",
                         "visibility": r.visibility} for r in rows])
            async with self.pool.connection() as conn:
                await store.record_embeddings(conn, [r.id for r in rows], collection)
        async with self.pool.connection() as conn:
            remaining = await store.count_missing_embeddings(conn, collection)
            if remaining == 0 and collection.state != "active":
                await store.activate(conn, collection.name)
                await bump_generation(self.cache.redis)
                logger.info("collection activated", collection=collection.name)
        return {"collection": collection.name, "done": len(rows), "remaining": remaining,
                "active": remaining == 0}

    @traced
    async def ping(self) -> dict[str, Any]:
        alive = not self.loop.done()
        return {"running": len(self.running), "worker": "up" if alive else "down"}

    # ----------------------------------------------------------------- the worker loop

    async def _create(self, new: NewJob, refusal: tuple[str, str] | None = None) -> Job:
        """The new job, queued for the workers; or, with `refusal`, failed at once (never queued)."""
        async with self.pool.connection() as conn:
            job = await jobs.create(conn, new, refusal)
        if refusal is not None:
            logger.warning("ingestion job refused", job=str(job.id), input=job.input_uri, reason=refusal[0],
                           error=refusal[1])
            return job
        logger.info("ingestion job queued", job=str(job.id), input=job.input_uri)
        self.wakeup.set()
        return job

    async def _work_loop(self) -> None:
        while True:
            try:
                await self._start_due_jobs()
            except Exception as exc:
                logger.warning("ingestion loop could not read jobs", error=str(exc))
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), _POLL_S)
            except TimeoutError:
                pass

    async def _start_due_jobs(self) -> None:
        free = self.settings.INGEST_WORKERS - len(self.running)
        if free <= 0:
            return
        async with self.pool.connection() as conn:
            due = await jobs.runnable(conn, list(self.running), free * 4)
        for job in due:
            if len(self.running) >= self.settings.INGEST_WORKERS:
                break
            if job.input_uri in self.running.values():
                continue  # one job per document at a time
            self.running[job.id] = job.input_uri
            task = asyncio.create_task(self._run(job))
            task.add_done_callback(lambda _, job_id=job.id: self._finished(job_id))

    def _finished(self, job_id: UUID) -> None:
        self.running.pop(job_id, None)
        self.wakeup.set()

    async def _run(self, job: Job) -> None:
        with bound(job.request_id):
            logger.info("ingestion job running", job=str(job.id), state=job.state)
            current: Job | None = job
            while current is not None and not current.finished:
                current = await self._step(current)

    async def _step(self, job: Job) -> Job | None:
        """Run the job's current stage; the job after it, or None to stop here for now."""
        try:
            return await _STAGES[job.state](self, job)
        except _BAD_INPUT as exc:
            return await self._fail(job, exc.reason, str(exc))
        except EmbeddingError as exc:
            return await self._fail(job, "embedding", f"the embedding model refused the text: {exc}")
        except FetchError as exc:
            if exc.retryable:
                return await self._retry(job, str(exc))
            return await self._fail(job, exc.reason, str(exc))
        except _Transient as exc:
            return await self._retry(job, str(exc))
        except (psycopg.OperationalError, RayActorError, OSError) as exc:
            return await self._retry(job, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            logger.opt(exception=exc).error("ingestion job crashed", job=str(job.id))
            return await self._fail(job, "internal", f"internal error: {type(exc).__name__}")

    async def _retry(self, job: Job, message: str) -> None:
        if job.attempts + 1 >= self.settings.INGEST_MAX_ATTEMPTS:
            await self._fail(job, "gave_up", f"gave up after {job.attempts + 1} attempts: {message}")
            return None
        delay = timedelta(seconds=self.settings.INGEST_RETRY_BASE_S * 2 ** job.attempts)
        logger.warning("ingestion stage failed; will retry", job=str(job.id), state=job.state, error=message,
                       delay_s=delay.total_seconds())
        async with self.pool.connection() as conn:
            await jobs.retry_later(conn, job, delay, message)
        return None

    async def _fail(self, job: Job, code: str, message: str) -> Job | None:
        logger.warning("ingestion job failed", job=str(job.id), state=job.state, reason=code, error=message)
        self.ended.inc(tags={"outcome": "failed", "reason": code})
        if job.state == "embedding":
            await self._drop_uncommitted_vectors(job)
        async with self.pool.connection() as conn:
            failed = await jobs.fail(conn, job, code, message)
        JobFiles(self.settings.ingest_dir, job.id).remove()
        return failed

    async def _advance(self, job: Job, detail: str = "", **fields: Any) -> Job | None:
        async with self.pool.connection() as conn:
            return await jobs.advance(conn, job, detail=detail, **fields)

    # ----------------------------------------------------------------- stages

    async def _queued(self, job: Job) -> Job | None:
        return await self._advance(job)

    async def _extracting(self, job: Job) -> Job | None:
        files = JobFiles(self.settings.ingest_dir, job.id)
        data, filename, media_type = await self._input(job, files)
        extracted = await asyncio.to_thread(extract, data, filename=filename, media_type=media_type,
                                            max_bytes=self.settings.ingest_max_bytes)
        await asyncio.to_thread(files.save, "extracted", {  # fsynced: off the event loop
            "title": extracted.title, "text": extracted.text, "media_type": extracted.media_type,
            "page_starts": [page.start for page in extracted.pages]})
        return await self._advance(job, f"{extracted.media_type}, {len(extracted.text)} characters",
                                   title=extracted.title[:300], media_type=extracted.media_type,
                                   content_sha256=content_sha256(data))

    async def _input(self, job: Job, files: JobFiles) -> tuple[bytes, str | None, str | None]:
        if job.payload_path or files.input.exists():  # uploaded, or downloaded by an earlier attempt
            return await asyncio.to_thread(files.read_input), job.filename, job.media_type
        fetched = await download(self.fetcher, job.input_uri, max_bytes=self.settings.ingest_max_bytes)
        await asyncio.to_thread(files.write_input, fetched.data)
        return fetched.data, fetched.filename, fetched.media_type

    async def _normalising(self, job: Job) -> Job | None:
        files = JobFiles(self.settings.ingest_dir, job.id)
        text = files.load("extracted")["text"]
        async with self.pool.connection() as conn:
            existing = await store.document_by_uri(conn, job.input_uri)
            if existing and existing.content_sha256 == job.content_sha256 \
                    and existing.chunking == chunking_signature(self.chunking):
                return await self._finish_unchanged(job, existing.id)
            found = await asyncio.to_thread(profile, text)
            twin = await store.near_duplicate(conn, job.input_uri, found.simhash)
        if twin is not None:
            raise Rejected("duplicate", f"a near-duplicate of document #{twin.id} “{twin.title}” ({twin.uri})")
        await asyncio.to_thread(files.save, "profile", {"language": found.language,
                                                        "is_hassaniya": found.is_hassaniya, "simhash": found.simhash})
        detail = f"language {found.language}" + (" (Hassaniya)" if found.is_hassaniya else "")
        return await self._advance(job, detail)

    async def _finish_unchanged(self, job: Job, document_id: int) -> Job | None:
        async with self.pool.connection() as conn:
            done = await jobs.move(conn, job, "indexed", detail="unchanged: already indexed",
                                   document_id=document_id, result={"unchanged": True})
        JobFiles(self.settings.ingest_dir, job.id).remove()
        return done

    async def _chunking(self, job: Job) -> Job | None:
        files = JobFiles(self.settings.ingest_dir, job.id)
        extracted, found = files.load("extracted"), files.load("profile")
        chunks = await asyncio.to_thread(cut, extracted["text"], job.input_uri, self.chunking,
                                         extracted["page_starts"], found["language"])
        if not chunks:
            raise Rejected("empty", "the document has no text to index")
        async with self.pool.connection() as conn:
            existing = await store.document_by_uri(conn, job.input_uri)
            document_id = existing.id if existing else (await (await conn.execute(
                "SELECT nextval('documents_id_seq') AS id")).fetchone() or {})["id"]
        await asyncio.to_thread(files.save, "chunks", {"document_id": document_id,
                                                       "chunks": [c.to_json() for c in chunks]})
        return await self._advance(job, f"{len(chunks)} chunks", progress_done=0, progress_total=len(chunks))

    async def _embedding(self, job: Job) -> Job | None:
        files = JobFiles(self.settings.ingest_dir, job.id)
        saved = files.load("chunks")
        chunks = [PreparedChunk(**c) for c in saved["chunks"]]
        async with self.pool.connection() as conn:
            existing = await store.document_by_uri(conn, job.input_uri)
        document_id = existing.id if existing else saved["document_id"]
        collection = await self._collection()
        await self._embed_and_upsert(job, chunks, document_id, collection)
        return await self._commit(job, files, chunks, document_id, collection)

    async def _collection(self, *, fresh: bool = False) -> store.Collection:
        """The current embedding model's collection, created in PostgreSQL and Milvus on first use."""
        async with self.collection_lock:
            if self.collection is not None and not fresh:
                return self.collection
            return await self._load_collection()

    async def _load_collection(self) -> store.Collection:
        try:
            info = await call(self._actor(registry.EMBEDDING_BATCHER).info)
            async with self.pool.connection() as conn:
                collection = await store.ensure_collection(conn, info["name"], info["version"], info["dimension"])
            if self.collection is None:
                await call(self._actor(registry.VECTOR_STORE).ensure_collection, collection.name, collection.dimension)
        except RayTaskError as exc:
            raise _Transient(f"vector store or embedder unavailable: {exc}") from None
        if collection.state != "active":
            logger.warning("indexing into a collection readers do not use yet; run `ustadh reindex`",
                           collection=collection.name)
        self.collection = collection
        return collection

    async def _embed_and_upsert(self, job: Job, chunks: list[PreparedChunk], document_id: int,
                                collection: store.Collection) -> None:
        batcher, vectors_actor = self._actor(registry.EMBEDDING_BATCHER), self._actor(registry.VECTOR_STORE)
        size = self.settings.EMBED_BATCH_MAX
        groups = [chunks[i:i + size] for i in range(0, len(chunks), size)]
        gate = asyncio.Semaphore(_EMBED_IN_FLIGHT)
        done = 0

        async def one(group: list[PreparedChunk]) -> None:
            nonlocal done
            async with gate:
                try:
                    vectors: np.ndarray = await call(batcher.embed, [c.text for c in group], "passage")
                    await call(vectors_actor.upsert, collection.name, [c.id for c in group], vectors,
                               [_metadata(job, c, document_id) for c in group])
                except RayTaskError as exc:
                    raise _as_transient(exc) from None
            done += len(group)
            async with self.pool.connection() as conn:
                await jobs.progress(conn, job.id, done, len(chunks))

        await asyncio.gather(*(one(group) for group in groups))

    async def _commit(self, job: Job, files: JobFiles, chunks: list[PreparedChunk], document_id: int,
                      collection: store.Collection) -> Job | None:
        extracted, found = files.load("extracted"), files.load("profile")
        draft = store.DocumentDraft(
            uri=job.input_uri, title=job.title or extracted["title"], media_type=extracted["media_type"],
            content_sha256=job.content_sha256 or "", chunking=chunking_signature(self.chunking),
            profile=_profile(found), visibility=job.visibility, source_id=job.source_id,
            created_by=job.requested_by, pages=len(extracted["page_starts"]) or None)
        async with self.pool.connection() as conn, conn.transaction():
            await store.lock_uri(conn, job.input_uri)
            await conn.execute("INSERT INTO documents (id, uri, title, media_type, content_sha256) "
                               "VALUES (%s, %s, '', '', '') ON CONFLICT DO NOTHING", (document_id, job.input_uri))
            if await store.upsert_document(conn, draft) != document_id:
                raise _Transient("the document was created by another job meanwhile")
            removed = await store.replace_chunks(conn, document_id, chunks)
            await store.record_embeddings(conn, [c.id for c in chunks], collection)
            result = {"chunks": len(chunks), "removed": len(removed), "language": found["language"],
                      "collection": collection.name}
            done = await jobs.move(conn, job, "indexed", detail=f"{len(chunks)} chunks indexed",
                                   document_id=document_id, result=result)
        await bump_generation(self.cache.redis)
        if removed:
            await call(self._actor(registry.VECTOR_STORE).delete, collection.name, removed)
            await self.cache.forget(removed)
        files.remove()
        logger.info("document indexed", job=str(job.id), document=document_id, chunks=len(chunks),
                    removed=len(removed))
        self.ended.inc(tags={"outcome": "indexed", "reason": "-"})
        if chunks:
            self.chunks_indexed.inc(len(chunks))
        return done

    async def _drop_uncommitted_vectors(self, job: Job) -> None:
        """Delete the vectors a failed job wrote that no committed chunk owns."""
        files = JobFiles(self.settings.ingest_dir, job.id)
        try:
            ids = [c["id"] for c in files.load("chunks")["chunks"]]
            async with self.pool.connection() as conn:
                owned = {row["id"] for row in await (await conn.execute(
                    "SELECT id FROM chunks WHERE id = ANY(%s)", (ids,))).fetchall()}
                names = [row["name"] for row in await (await conn.execute(
                    "SELECT name FROM vector_collections")).fetchall()]
            for name in names:
                await call(self._actor(registry.VECTOR_STORE).delete, name, [i for i in ids if i not in owned])
        except Exception as exc:
            logger.warning("could not delete a failed job's vectors", job=str(job.id), error=str(exc))

    def _actor(self, name: str) -> Any:
        if name not in self.handles:
            try:
                self.handles[name] = registry.get(name)
            except ValueError:
                raise _Transient(f"the {name} actor is not running") from None
        return self.handles[name]


_STAGES = {"queued": Ingestor._queued, "extracting": Ingestor._extracting, "normalising": Ingestor._normalising,
           "chunking": Ingestor._chunking, "embedding": Ingestor._embedding}


def _request_id() -> str:
    return current_request_id() or new_request_id()


def _metadata(job: Job, chunk: PreparedChunk, document_id: int) -> dict[str, Any]:
    return {"document_id": document_id, "source_id": job.source_id or 0, "language": chunk.language,
            "visibility": job.visibility}


def _profile(saved: dict[str, Any]) -> Profile:
    return Profile(saved["language"], saved["is_hassaniya"], saved["simhash"])


def _as_transient(exc: RayTaskError) -> Exception:
    cause = exc.cause
    if isinstance(cause, EmbeddingError) and not cause.retryable:
        return cause
    return _Transient(f"{type(cause).__name__}: {cause}")


def _metrics() -> tuple[Any, Any]:
    """How jobs ended (by outcome and reason), and chunks indexed."""
    from ray.util.metrics import Counter

    return (Counter("ustadh_ingestion_jobs", "Ingestion jobs by how they ended", tag_keys=("outcome", "reason")),
            Counter("ustadh_ingestion_chunks", "Chunks indexed by ingestion jobs"))
