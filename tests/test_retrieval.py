"""Retrieval as clients reach it: POST /retrieve, the Retriever deployment's own Serve application,
over chunks the Ingestor indexed; cross-lingual hits, tiers, caches and bad input; the LLM
reranker and its circuit breaker against the loopback OpenAI server."""
from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from actors.clients.ingestion import Ingestion
from actors.clients.sources import Crawls
from actors.reranker import Reranker
from bot.texts import CATALOG
from core.db import api_tokens
from tests.conftest import RaySystem, new_users
from tests.corpus_texts import ARABIC_2, ENGLISH, ENGLISH_2, FRENCH_2
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import Chat, bearer, tg  # noqa: F401 - tg is a fixture
from tests.test_gateway import wait_for_log
from tests.test_ingestion import wait_job


@pytest_asyncio.fixture(scope="module")
async def corpus(ray_system: RaySystem) -> None:
    """The texts indexed (or already indexed by another test: a near-duplicate is refused)."""
    client = Ingestion()
    for text in (ARABIC_2, FRENCH_2, ENGLISH, ENGLISH_2):
        job = await client.submit_file(text.encode(), "lesson.txt", uri=f"retrieval-test:{uuid.uuid4().hex}")
        done = await wait_job(client, job["id"])
        assert done["state"] == "indexed" or done["error_code"] == "duplicate", done


async def token(pool: Any, tier: str = "standard") -> str:
    [user] = await new_users(pool)
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET tier = %s WHERE id = %s", (tier, user))
    return await api_tokens.issue(pool, user, "learner")


async def ask(ray_system: RaySystem, key: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        return await http.post("/retrieve", json=body, headers=bearer(key))


async def test_questions_find_their_passages_in_every_language(corpus: None, ray_system: RaySystem,
                                                               pool: Any) -> None:
    key = await token(pool)
    # Words only the right passage has (other tests index pieces of the same passages, cut elsewhere).
    water, revolution = ("الترشيح", "الغليان", "دورة لا تنقطع"), ("Assemblée nationale", "Bastille")
    photosynthesis = ("chlorophyll", "chloroplasts", "Photosynthesis", "sugar produced")
    cases = [("كيف يمكن تنقية الماء قبل شربه؟", water, "ar"),
             ("Qu'a proclamé l'Assemblée nationale en 1789 ?", revolution, "fr"),
             ("Which pigment do chloroplasts contain?", photosynthesis, "en"),
             ("ما اسم الصبغة الخضراء التي تستعملها النباتات لصنع السكر من ضوء الشمس؟", photosynthesis, None)]
    for question, expected, language in cases:
        answer = await ask(ray_system, key, {"query": question, "k": 3})
        assert answer.status_code == 200, answer.text
        hits = answer.json()["hits"]
        assert any(word in hit["text"] for hit in hits for word in expected), \
            (question, [h["text"][:60] for h in hits])
        first = hits[0]
        assert {"text", "score", "title", "source", "page", "language", "url"} <= set(first)
        if language:
            assert any(hit["language"] == language for hit in hits)


async def test_tier_sets_the_default_depth(corpus: None, ray_system: RaySystem, pool: Any) -> None:
    async with pool.connection() as conn:
        chunks = (await (await conn.execute(  # public chunks with a vector: dense search returns them all
            """SELECT count(DISTINCT c.id) AS n FROM chunks c JOIN documents d ON d.id = c.document_id
               JOIN embedding_refs r ON r.chunk_id = c.id
               JOIN vector_collections v ON v.name = r.collection AND v.state = 'active'
               WHERE d.visibility = 'public'""")).fetchone())["n"]
    free = await ask(ray_system, await token(pool, "free"), {"query": "water in the desert"})
    premium = await ask(ray_system, await token(pool, "premium"), {"query": "water in the desert"})
    assert free.json()["tier"] == "free" and len(free.json()["hits"]) == min(4, chunks)
    assert premium.json()["tier"] == "premium" and len(premium.json()["hits"]) == min(12, chunks)


async def test_query_embeddings_are_cached_per_collection(corpus: None, ray_system: RaySystem, pool: Any) -> None:
    key = await token(pool)
    question = f"Comment les caravanes traversaient-elles le Sahara ? {uuid.uuid4().hex[:6]}"
    client = aioredis.Redis.from_url(ray_system.settings.REDIS_URL or "")
    try:
        before = set(await client.keys("qemb:*"))
        first = await ask(ray_system, key, {"query": question, "k": 2})
        added = set(await client.keys("qemb:*")) - before
        assert len(added) == 1 and b"chunks_" in next(iter(added))  # keyed by the collection: reindex invalidates
        second = await ask(ray_system, key, {"query": question, "k": 2})
        assert second.json() == first.json()
        assert set(await client.keys("qemb:*")) - before == added
    finally:
        await client.aclose()


@pytest.mark.parametrize(("body", "reason"), [
    ({"query": ""}, "empty"), ({"query": "   "}, "empty"), ({"query": "😀🎉🔥"}, "no letters"),
    ({"query": "\u0000\u0007"}, "empty"), ({"query": "مرحبا " * 20_000}, "limit"),
    ({"query": "water", "k": 0}, "k must"), ({"query": "water", "k": 500}, "k must"),
    ({"query": "water", "k": "many"}, "k must"), ({"query": "water", "lang": "de"}, "lang"), ({}, "text"),
])
async def test_bad_input_is_a_422_with_the_reason(ray_system: RaySystem, pool: Any, body: dict[str, Any],
                                                  reason: str) -> None:
    answer = await ask(ray_system, await token(pool), body)
    assert answer.status_code == 422 and reason in answer.json()["detail"], answer.text


async def test_retrieve_needs_a_token(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        assert (await http.post("/retrieve", json={"query": "water"})).status_code == 401


async def test_request_id_follows_a_retrieval_into_the_retriever_replica(corpus: None, ray_system: RaySystem,
                                                                          pool: Any) -> None:
    """POST /retrieve goes from the proxy straight to a Retriever replica (its own application), which
    logs the request under the caller's X-Request-ID and returns it."""
    rid = f"test-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        answer = await http.post("/retrieve", json={"query": "Quel pigment contiennent les chloroplastes ?"},
                                 headers={**bearer(await token(pool)), "X-Request-ID": rid})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == rid, answer.text
    assert answer.json()["hits"]
    for message in ("retrieved", "http POST /retrieve -> 200"):
        line = await wait_for_log(ray_system.settings, lambda entry, message=message: entry["request_id"] == rid and entry["msg"] == message)
        assert line["component"] == "retriever" and line["pid"] != os.getpid(), line


async def test_healthz_reports_the_retrieval_application(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        body = (await http.get("/healthz")).json()
    assert body["retrieval"]["breaker"] == {"state": "closed", "failures": 0}, body


async def test_llm_reranker_breaker_opens_and_recovers(settings: Any) -> None:
    async with FakeOpenAI() as ai:
        ai.responder = lambda request: "3, 1"
        reranker = Reranker(settings.model_copy(update={"OPENAI_BASE_URL": ai.base_url + "/v1"}))
        passages = ["un", "deux", "trois"]
        assert await reranker.rerank("question ?", passages) == [2, 0, 1]
        ai.fail_next(3, status=503)
        for _ in range(3):
            assert await reranker.rerank("question ?", passages) is None
        assert reranker.breaker.state == "open"
        calls = len(ai.requests)
        assert await reranker.rerank("question ?", passages) is None and len(ai.requests) == calls  # not sent
        reranker.breaker.cooldown_s = 0.2
        await asyncio.sleep(0.3)
        assert reranker.breaker.state == "half_open"
        assert await reranker.rerank("question ?", passages) == [2, 0, 1]
        assert reranker.breaker.state == "closed"


async def test_with_an_llm_the_query_is_translated_once_and_searched_in_every_language(
        corpus: None, ray_system: RaySystem) -> None:
    from serve_app.retriever import RetrieverApp

    question = "Pourquoi les caravanes traversaient-elles le Sahara ?"
    translations = {"ar": "لماذا كانت القوافل تعبر الصحراء الكبرى؟", "en": "Why did caravans cross the Sahara?"}
    async with FakeOpenAI() as ai:
        ai.responder = lambda request: json.dumps(translations, ensure_ascii=False)
        app = RetrieverApp(ray_system.settings.model_copy(update={"OPENAI_BASE_URL": ai.base_url + "/v1"}))
        first = await app.retrieve(question, 3, None, "free", None, "translation-test")
        asked = [body for path, body in ai.requests if path.endswith("/chat/completions")]
        assert len(asked) == 1 and asked[0]["messages"][-1]["content"] == question
        again = await app.retrieve(question, 3, None, "free", None, "translation-test-2")
        assert len([p for p, _ in ai.requests if p.endswith("/chat/completions")]) == 1  # cached in Redis
        assert [h["chunk_id"] for h in again] == [h["chunk_id"] for h in first]
        assert any(h["language"] == "en" for h in first)  # the English lesson on caravans answers it
        ai.down = True
        offline = await app.retrieve("Pourquoi les caravanes traversaient-elles le désert ?", 3, None, "free")
        assert offline  # translation failing leaves retrieval working


TIDES = ("Tides are the regular rise and fall of the sea. They are caused mostly by the pull of the Moon's "
         "gravity on the oceans, with a smaller pull from the Sun. Because the Earth turns under two bulges of "
         "water, one facing the Moon and one on the far side, most coasts see two high tides and two low tides "
         "every lunar day. When the Sun and the Moon line up, at new and full moon, the tides are strongest.")


async def test_a_question_is_translated_only_into_the_languages_of_the_material_it_searches(
        ray_system: RaySystem) -> None:
    from serve_app.retriever import RetrieverApp

    client = Ingestion()
    source = await Crawls().collection(f"translation-test:{uuid.uuid4().hex}", "admin")
    job = await client.submit_file(TIDES.encode(), "tides.txt", uri=f"translation-test:{uuid.uuid4().hex}",
                                   visibility="admin", source_id=source)
    assert (await wait_job(client, job["id"]))["state"] == "indexed"
    async with FakeOpenAI() as ai:
        ai.responder = lambda request: json.dumps({"en": "Why does the sea rise twice a day?"})
        app = RetrieverApp(ray_system.settings.model_copy(update={"OPENAI_BASE_URL": ai.base_url + "/v1"}))

        def asked() -> list[dict[str, Any]]:
            return [body for path, body in ai.requests if path.endswith("/chat/completions")]

        assert await app.retrieve("Why does the sea rise twice a day?", 3, None, "free", [source], "tr-en")
        assert asked() == []  # English material, English question: nothing to translate, no wait for the model
        hits = await app.retrieve("Pourquoi la mer monte-t-elle deux fois par jour ?", 3, None, "free", [source],
                                  "tr-fr")
        [request] = asked()
        instructions = request["messages"][0]["content"]
        assert '"en" (English)' in instructions and "Arabic" not in instructions  # the material holds no Arabic
        assert hits and "Moon" in hits[0]["text"]


async def test_llm_rerank_results_are_cached_by_query_candidates_and_model(corpus: None,
                                                                         ray_system: RaySystem) -> None:
    import ray

    from actors import registry
    from actors.reranker import OPTIONS, Reranker
    from serve_app.retriever import RetrieverApp

    async with FakeOpenAI() as ai:
        ai.responder = lambda request: "2, 1"
        reranker = ray.remote(**OPTIONS)(Reranker).remote(
            ray_system.settings.model_copy(update={"OPENAI_BASE_URL": ai.base_url + "/v1"}))
        app = RetrieverApp(ray_system.settings)  # offline itself: no query translation
        app.handles[registry.RERANKER] = reranker  # a real Reranker actor whose LLM is the loopback server
        question = f"How did the caravans cross the Sahara desert? {uuid.uuid4().hex[:6]}"
        first = await app.retrieve(question, 3, None, "standard")
        reranks = len([p for p, _ in ai.requests if p.endswith("/chat/completions")])
        assert reranks == 1
        again = await app.retrieve(question, 3, None, "standard")
        assert [h["chunk_id"] for h in again] == [h["chunk_id"] for h in first]
        assert len([p for p, _ in ai.requests if p.endswith("/chat/completions")]) == reranks  # a cache hit
        await app.retrieve(question, 3, None, "free")  # the free tier does not rerank
        assert len([p for p, _ in ai.requests if p.endswith("/chat/completions")]) == reranks
        ray.kill(reranker)


async def test_bot_search_goes_through_the_deployment_handle(corpus: None, tg: FakeTelegram) -> None:
    learner = Chat(tg, 780_001, "ar")
    answer = await learner.say("/search كيف يمكن تنقية الماء قبل شربه؟")
    assert answer.startswith(CATALOG["search_header"]["ar"]) and "الماء أساس الحياة" in answer.split("\n\n2. ")[0]
    assert len(answer) <= 4096
    assert await learner.say("/search 😀🎉") == CATALOG["search_bad_query"]["ar"]
    assert await learner.say("/search") == CATALOG["search_usage"]["ar"]
