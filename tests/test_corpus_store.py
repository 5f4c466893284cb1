"""The corpus tables and the job state machine in PostgreSQL, and the chunk cache in Redis, without Ray."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest_asyncio
import redis.asyncio as aioredis

from core.config import Settings
from core.corpus import store
from core.corpus.cache import ChunkCache
from core.ingest import jobs
from core.ingest.jobs import NewJob
from core.ingest.prepare import Profile, content_sha256, cut
from core.text.chunking import ChunkSettings
from core.text.simhash import to_signed
from tests.corpus_texts import ARABIC, FRENCH


@pytest_asyncio.fixture
async def redis_client(settings: Settings) -> Any:
    client = aioredis.Redis.from_url(settings.REDIS_URL or "")
    yield client
    await client.aclose()


async def new_document(pool: Any, text: str, fingerprint: int | None = None) -> tuple[int, list[Any]]:
    uri = f"store-test:{uuid.uuid4().hex}"
    chunks = cut(text, uri, ChunkSettings(64, 8), [], "ar")
    draft = store.DocumentDraft(uri, "title", "text/plain", content_sha256(text.encode()), "v1",
                                Profile("ar", False, fingerprint if fingerprint is not None else chunks[0].simhash),
                                "public", None, None, None)
    async with pool.connection() as conn, conn.transaction():
        document_id = await store.upsert_document(conn, draft)
        await store.replace_chunks(conn, document_id, chunks)
    return document_id, chunks


async def test_replacing_chunks_reports_the_removed_ones(pool: Any) -> None:
    document_id, chunks = await new_document(pool, ARABIC)
    assert len(chunks) > 2
    kept = chunks[:2]
    async with pool.connection() as conn, conn.transaction():
        removed = await store.replace_chunks(conn, document_id, kept)
    assert sorted(removed) == sorted(c.id for c in chunks[2:])
    async with pool.connection() as conn:
        rows = await store.chunk_rows(conn, [c.id for c in chunks])
    assert sorted(r["id"] for r in rows) == sorted(c.id for c in kept)
    assert {r["text"] for r in rows} == {c.text for c in kept}


async def test_near_duplicates_are_found_within_three_bits_only(pool: Any) -> None:
    base = to_signed(0x5A5A_F00D_1234_8421)
    await new_document(pool, FRENCH, base)
    async with pool.connection() as conn:
        near = await store.near_duplicate(conn, "other:uri", to_signed(0x5A5A_F00D_1234_8421 ^ 0b10101))
        far = await store.near_duplicate(conn, "other:uri", to_signed(0x5A5A_F00D_1234_8421 ^ 0b1111))
    assert near is not None and near.content_sha256 == content_sha256(FRENCH.encode())
    assert far is None


@pytest_asyncio.fixture
async def collections_restored(pool: Any) -> Any:
    """The session's collections as they were: the running system's readers use the active one."""
    async with pool.connection() as conn:
        before = await store.active_collection(conn)
        names = [r["name"] for r in await (await conn.execute("SELECT name FROM vector_collections")).fetchall()]
    yield
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM vector_collections WHERE NOT (name = ANY(%s))", (names,))
        if before is not None:
            await store.activate(conn, before.name)


async def test_a_new_model_builds_beside_the_active_collection_until_it_is_complete(
        pool: Any, collections_restored: None) -> None:
    model = f"model-{uuid.uuid4().hex[:6]}"
    async with pool.connection() as conn:
        first = await store.ensure_collection(conn, model, "1", 8)
        second = await store.ensure_collection(conn, model, "2", 8)
        active_before = await store.active_collection(conn)
    assert second.state == "building" and active_before is not None and active_before.name != second.name
    await new_document(pool, ARABIC)
    async with pool.connection() as conn:
        missing = await store.count_missing_embeddings(conn, second)
        rows = await store.chunks_missing_embeddings(conn, second, "", 100_000)
        assert missing == len(rows) > 0
        await store.record_embeddings(conn, [r.id for r in rows], second)
        assert await store.count_missing_embeddings(conn, second) == 0
        await store.activate(conn, second.name)
        states = {r["name"]: r["state"] for r in await (await conn.execute(
            "SELECT name, state FROM vector_collections")).fetchall()}
    assert states[second.name] == "active"
    assert list(states.values()).count("active") == 1
    assert first.name in states


async def test_job_moves_are_compare_and_set_with_an_audit_row_each(pool: Any) -> None:
    async with pool.connection() as conn:
        job = await jobs.create(conn, NewJob(uuid.uuid4(), "test:job", "rid-1"))
        moved = await jobs.advance(conn, job)
        again = await jobs.advance(conn, job)  # the same move from a stale copy
        assert moved is not None and moved.state == "extracting" and again is None
        retried = await jobs.retry_later(conn, moved, timedelta(seconds=30), "site down")
        assert retried is not None and retried.attempts == 1 and retried.error == "site down"
        assert job.id not in [j.id for j in await jobs.runnable(conn, [], 100)]  # held back for 30 s
        failed = await jobs.fail(conn, retried, "http_status", "404")
        assert failed is not None and failed.state == "failed" and failed.finished
        assert await jobs.advance(conn, retried) is None
        trail = await jobs.audit_trail(conn, job.id)
    assert [(r["from_state"], r["to_state"]) for r in trail] == [
        (None, "queued"), ("queued", "extracting"), ("extracting", "extracting"), ("extracting", "failed")]
    assert all(r["request_id"] == "rid-1" for r in trail)


async def test_chunk_text_is_read_through_redis_and_forgotten_on_removal(pool: Any, settings: Settings,
                                                                          redis_client: Any) -> None:
    _, chunks = await new_document(pool, FRENCH)
    cache = ChunkCache(redis_client, pool, 60)
    ids = [c.id for c in chunks]
    first = await cache.get(ids)
    assert {i: first[i]["text"] for i in ids} == {c.id: c.text for c in chunks}
    assert await redis_client.exists(*(f"chunk:{i}" for i in ids)) == len(ids)
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM chunks WHERE id = ANY(%s)", (ids,))
    assert (await cache.get(ids))[ids[0]]["text"] == chunks[0].text  # served by Redis
    await cache.forget(ids)
    assert await redis_client.exists(*(f"chunk:{i}" for i in ids)) == 0
    assert await cache.get(ids) == {}
