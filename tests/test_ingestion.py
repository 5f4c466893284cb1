"""Ingestion end to end through the Ingestor actor: real text in, chunks in PostgreSQL, vectors in
Milvus, every job state audited; bad input fails with a reason and indexes nothing; a job whose
worker is killed mid-way finishes once, without duplicates."""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import ray
from aiohttp import web

from actors import registry
from actors.clients.ingestion import Ingestion, IngestionUnavailable
from actors.tracing import call
from core.ingest.prepare import chunking_signature
from core.text.chunking import ChunkSettings, chunk_text
from tests.conftest import ALLOWED_SITE_PORT, RaySystem, free_port
from tests.corpus_texts import ARABIC, ARABIC_2, ENGLISH, ENGLISH_2, FRENCH, FRENCH_2, HASSANIYA, long_document
from tests.documents import core_font_pdf, docx_bytes

STAGES = ["queued", "extracting", "normalising", "chunking", "embedding", "indexed"]


async def wait_job(client: Ingestion, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        try:
            job = await client.job(job_id)
        except IngestionUnavailable:  # the actor is restarting
            await asyncio.sleep(0.2)
            continue
        assert job is not None
        if job["state"] in ("indexed", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def ingest_text(client: Ingestion, text: str, name: str, uri: str | None = None) -> dict[str, Any]:
    job = await client.submit_file(text.encode("utf-8"), name, uri=uri or f"test:{uuid.uuid4().hex}")
    return await wait_job(client, job["id"])


async def trail(pool: Any, job_id: str) -> list[tuple[str | None, str]]:
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT from_state, to_state FROM ingestion_audit WHERE job_id = %s "
                                         "ORDER BY id", (job_id,))).fetchall()
    return [(r["from_state"], r["to_state"]) for r in rows]


async def chunks_of(pool: Any, document_id: int) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        return await (await conn.execute("SELECT id, ordinal, text, language, page FROM chunks WHERE document_id = %s "
                                         "ORDER BY ordinal", (document_id,))).fetchall()


async def milvus_ids(document_id: int, collection: str) -> list[str]:
    return await call(registry.get(registry.VECTOR_STORE).ids, collection, f"document_id == {document_id}")


@pytest.fixture
def client(ray_system: RaySystem) -> Ingestion:
    return Ingestion()


@pytest.mark.parametrize(("text", "language"), [(ARABIC, "ar"), (FRENCH, "fr"), (ENGLISH, "en")])
async def test_text_becomes_chunks_with_vectors(client: Ingestion, pool: Any, ray_system: RaySystem, text: str,
                                                language: str) -> None:
    uri = f"test:{language}:{uuid.uuid4().hex}"
    job = await ingest_text(client, text, f"lesson-{language}.txt", uri)
    assert job["state"] == "indexed", job
    assert await trail(pool, job["id"]) == list(zip([None, *STAGES], STAGES))
    rows = await chunks_of(pool, job["document_id"])
    settings = ray_system.settings
    expected = chunk_text(text, uri, ChunkSettings(settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS))
    assert [r["id"] for r in rows] == [c.id for c in expected]
    assert {r["language"] for r in rows} == {language}
    assert "".join(r["text"] for r in rows if r["ordinal"] == 0) in text  # the original text, unmangled
    assert sorted(await milvus_ids(job["document_id"], job["result"]["collection"])) == sorted(r["id"] for r in rows)
    async with pool.connection() as conn:
        doc = await (await conn.execute("SELECT language, chunking FROM documents WHERE id = %s",
                                        (job["document_id"],))).fetchone()
    assert doc["language"] == language
    assert doc["chunking"] == chunking_signature(ChunkSettings(settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS))


async def test_generated_pdf_keeps_its_pages_and_docx_its_paragraphs(client: Ingestion, pool: Any) -> None:
    pdf = core_font_pdf([FRENCH_2, ENGLISH], title="Deux pages")
    job = await wait_job(client, (await client.submit_file(pdf, "deux-pages.pdf"))["id"])
    assert job["state"] == "indexed" and job["title"] == "Deux pages", job
    rows = await chunks_of(pool, job["document_id"])
    assert {r["page"] for r in rows} == {1, 2}
    assert any("prise de la Bastille" in r["text"] and r["page"] == 1 for r in rows)
    assert any("chlorophyll" in r["text"] and r["page"] == 2 for r in rows)

    docx = docx_bytes([ARABIC, FRENCH_2], title="درس")
    job = await wait_job(client, (await client.submit_file(docx, "lesson.docx"))["id"])
    assert job["state"] == "indexed", job
    texts = " ".join(r["text"] for r in await chunks_of(pool, job["document_id"]))
    assert "مفتاح المعرفة" in texts and "Assemblée nationale" in texts


async def test_hassaniya_document_is_recognised(client: Ingestion, pool: Any) -> None:
    job = await ingest_text(client, HASSANIYA, "hassaniya.txt")
    assert job["state"] == "indexed", job
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT language, is_hassaniya FROM documents WHERE id = %s",
                                        (job["document_id"],))).fetchone()
    assert row == {"language": "ar", "is_hassaniya": True}


async def test_unchanged_document_is_a_no_op_and_a_changed_one_replaces_its_chunks(
        client: Ingestion, pool: Any) -> None:
    uri = f"test:replace:{uuid.uuid4().hex}"
    first = await ingest_text(client, FRENCH_2, "cours.md", uri)
    before = await chunks_of(pool, first["document_id"])
    again = await ingest_text(client, FRENCH_2, "cours.md", uri)
    assert again["state"] == "indexed" and again["result"] == {"unchanged": True}
    assert again["document_id"] == first["document_id"]
    assert await chunks_of(pool, first["document_id"]) == before

    changed = FRENCH_2.replace("en 1789", "au printemps de 1789") + "\n\n" + FRENCH
    third = await ingest_text(client, changed, "cours.md", uri)
    assert third["state"] == "indexed" and third["document_id"] == first["document_id"]
    after = await chunks_of(pool, first["document_id"])
    assert {r["id"] for r in after}.isdisjoint({r["id"] for r in before})
    assert any("printemps" in r["text"] for r in after)
    # The old vectors go right after the commit that made the job `indexed` (readers skip vectors
    # whose chunk is gone meanwhile), so they may outlive the job's state by a moment.
    wanted, deadline = sorted(r["id"] for r in after), time.monotonic() + 15
    while (vectors := sorted(await milvus_ids(first["document_id"], third["result"]["collection"]))) != wanted:
        assert time.monotonic() < deadline, (vectors, wanted)  # the old vectors are gone
        await asyncio.sleep(0.2)


async def test_near_duplicate_under_another_name_is_refused(client: Ingestion, pool: Any) -> None:
    original = await ingest_text(client, ENGLISH_2, "sahara.txt")
    assert original["state"] == "indexed"
    copy = await ingest_text(client, ENGLISH_2.replace(". ", ".\n").replace("travellers.", "travellers!"), "sahara-copy.txt")
    assert copy["state"] == "failed" and copy["error_code"] == "duplicate", copy
    assert str(original["document_id"]) in copy["error"]
    assert copy["document_id"] is None


async def _document_count(pool: Any) -> int:
    async with pool.connection() as conn:
        return (await (await conn.execute("SELECT count(*) AS n FROM documents")).fetchone())["n"]


@pytest.mark.parametrize(("data", "name", "reason"), [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref", "broken.pdf", "corrupt"),
    (b"", "empty.txt", "empty"),
    (b"   \n\n\t  ", "blank.md", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "notes.txt", "binary"),
    (bytes(range(256)) * 4, "archive.bin", "unsupported_type"),
    ("٣٤٥ ٦٧٨ ٩٠١ — ١٢٣ ٤٥٦".encode(), "numbers.txt", "too_short"),
])
async def test_bad_input_fails_with_a_reason_and_indexes_nothing(client: Ingestion, pool: Any, data: bytes,
                                                                 name: str, reason: str) -> None:
    documents = await _document_count(pool)
    job = await wait_job(client, (await client.submit_file(data, name))["id"])
    assert job["state"] == "failed" and job["error_code"] == reason, job
    assert job["error"] and job["document_id"] is None
    assert await _document_count(pool) == documents
    assert (await trail(pool, job["id"]))[-1][1] == "failed"


async def test_file_over_the_limit_fails_at_once(client: Ingestion, ray_system: RaySystem, pool: Any) -> None:
    job = await client.submit_file(b"a" * (ray_system.settings.ingest_max_bytes + 1), "huge.txt")
    assert job["state"] == "failed" and job["error_code"] == "too_large"
    assert f"{ray_system.settings.INGEST_MAX_MB:g} MB" in job["error"]
    # Refused in the transaction that created it: no worker could have picked it up meanwhile.
    assert [step[:2] for step in await trail(pool, job["id"])] == [(None, "queued"), ("queued", "failed")]


async def test_urls_are_fetched_and_failures_explained(client: Ingestion, pool: Any) -> None:
    calls = {"flaky": 0}

    async def page(_: web.Request) -> web.Response:
        body = f"<html><head><title>الدرس الأول</title><script>var x = 1;</script></head><body><nav>القائمة</nav>" \
               f"<p>{ARABIC_2}</p></body></html>"
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def flaky(_: web.Request) -> web.Response:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            return web.Response(status=503)
        return web.Response(text=f"<p>{FRENCH}</p><p>{ENGLISH_2}</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/lesson", page)
    app.router.add_get("/flaky", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", ALLOWED_SITE_PORT).start()
    base = f"http://127.0.0.1:{ALLOWED_SITE_PORT}"
    try:
        lesson = await wait_job(client, (await client.submit_url(f"{base}/lesson"))["id"])
        assert lesson["state"] == "indexed", lesson
        assert lesson["title"] == "الدرس الأول" and lesson["result"]["language"] == "ar"
        rows = await chunks_of(pool, lesson["document_id"])
        assert all("var x" not in r["text"] and "القائمة" not in r["text"] for r in rows)

        missing = await wait_job(client, (await client.submit_url(f"{base}/missing"))["id"])
        assert missing["state"] == "failed" and missing["error_code"] == "http_status"

        retried = await wait_job(client, (await client.submit_url(f"{base}/flaky"))["id"])
        assert retried["state"] == "indexed" and calls["flaky"] == 2
        assert any(src == dst == "extracting" for src, dst in await trail(pool, retried["id"]))  # the retry

        invalid = await wait_job(client, (await client.submit_url("ftp://example.org/file.pdf"))["id"])
        assert invalid["state"] == "failed" and invalid["error_code"] == "url_invalid"
    finally:
        await runner.cleanup()


async def test_url_jobs_to_private_addresses_fail_blocked_and_send_nothing(client: Ingestion, pool: Any) -> None:
    """SSRF: loopback, private, link-local and metadata addresses, directly or by a redirect from an
    allowed site, end `failed` with reason `blocked`; the private site records no request."""
    asked: list[str] = []

    async def private(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(text=f"<p>{ENGLISH_2}</p>", content_type="text/html")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    internal, public = web.Application(), web.Application()
    internal.router.add_get("/{tail:.*}", private)
    public.router.add_get("/go", redirect)
    runners = [web.AppRunner(internal), web.AppRunner(public)]
    for runner in runners:
        await runner.setup()
    internal_port = free_port()
    await web.TCPSite(runners[0], "127.0.0.1", internal_port).start()
    await web.TCPSite(runners[1], "127.0.0.1", ALLOWED_SITE_PORT).start()
    inside = f"http://127.0.0.1:{internal_port}"
    targets = [f"{inside}/healthz", f"http://localhost:{internal_port}/metrics", "http://169.254.169.254/latest/",
               "http://10.1.2.3/", "http://[::1]:8000/healthz"]
    targets += [f"http://127.0.0.1:{ALLOWED_SITE_PORT}/go?to={target}" for target in (f"{inside}/stats", targets[2])]
    documents = await _document_count(pool)
    try:
        for target in targets:
            job = await wait_job(client, (await client.submit_url(target))["id"])
            assert (job["state"], job["error_code"]) == ("failed", "blocked"), (target, job)
            assert job["attempts"] == 0, job  # refused outright, not retried
    finally:
        for runner in runners:
            await runner.cleanup()
    assert asked == []
    assert await _document_count(pool) == documents


async def test_killed_worker_resumes_and_finishes_exactly_once(client: Ingestion, pool: Any) -> None:
    text = long_document("en", 80)
    job = await client.submit_file(text.encode(), "long.txt", uri=f"test:crash:{uuid.uuid4().hex}")
    seen = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = await client.job(job["id"])
        if current["state"] == "embedding":  # mid-way: some batches may be embedded, none committed
            seen = current
            break
        assert current["state"] not in ("indexed", "failed"), "the job ended before it could be interrupted"
        await asyncio.sleep(0.02)
    assert seen is not None
    ray.kill(registry.get(registry.INGESTOR), no_restart=False)
    finished = await wait_job(client, job["id"])
    assert finished["state"] == "indexed", finished
    steps = await trail(pool, job["id"])
    assert [dst for _, dst in steps].count("indexed") == 1
    rows = await chunks_of(pool, finished["document_id"])
    assert len(rows) == finished["result"]["chunks"] == len({r["id"] for r in rows}) > 5
    vectors = await milvus_ids(finished["document_id"], finished["result"]["collection"])
    assert sorted(vectors) == sorted(r["id"] for r in rows)
