"""The HTTP API against hostile and sloppy input, over the real gateway and retrieval application:
non-standard JSON and invalid Unicode are 422s (never a 500), money takes strict integers, a body
over its limit is refused before it is read, idempotency keys answer replays and conflicts
truthfully, and a stalled Redis makes an ask a clean refusal that charges nothing."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from actors.clients.ingestion import Ingestion
from actors.clients.wallet import Wallet
from ops.embedded import EmbeddedRedis
from serve_app.tutor import Tutor as TutorDeployment
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import admin_and_learner_tokens, bearer, tg  # noqa: F401 - tg is a fixture
from tests.test_ingestion import wait_job

QUESTION = "How do green plants use sunlight in photosynthesis?"
# A lesson of its own: the corpus is shared by the session, and tests.corpus_texts.ENGLISH would make
# the ingestion tests' copy of it a near-duplicate.
LESSON = ("Green plants use sunlight in photosynthesis to make their own food. Inside every leaf, chloroplasts "
          "hold chlorophyll, the pigment that catches red and blue sunlight. The leaf splits water drawn up "
          "from the roots, releases its oxygen through tiny pores called stomata, and uses the captured "
          "energy to build glucose from carbon dioxide. "
          "Gardeners notice the result: plants kept in deep shade grow pale and slow, while those in bright "
          "light grow sturdy, because more light means more sugar for new cells, roots and fruit.")
_ids = iter(range(7_100_000, 7_200_000))


@pytest_asyncio.fixture(scope="module")
async def corpus(ray_system: RaySystem) -> None:
    client = Ingestion()
    job = await client.submit_file(LESSON.encode(), "leaves.txt", uri=f"hardening:{uuid.uuid4().hex}")
    done = await wait_job(client, job["id"])
    assert done["state"] == "indexed" or done["error_code"] == "duplicate", done


@pytest_asyncio.fixture
async def tokens(tg: FakeTelegram) -> tuple[str, str]:
    """(admin token, a fresh learner's token)."""
    return await admin_and_learner_tokens(tg, next(_ids))


@pytest_asyncio.fixture
async def http(ray_system: RaySystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as client:
        yield client


async def whoami(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await http.get("/wallet/balance", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def raw_json(text: str, token: str, **headers: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {**bearer(token), "Content-Type": "application/json", **headers}}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_numbers_are_a_422_on_every_json_route(http: httpx.AsyncClient, tokens: tuple[str, str],
                                                                value: str) -> None:
    admin, learner = tokens
    me = await whoami(http, learner)
    bodies = [("/wallet/topup", f'{{"user_id": {me["user_id"]}, "amount": {value}, "request_id": "nan-1"}}', admin),
              ("/wallet/topup", f'{{"user_id": {value}, "amount": 5, "request_id": "nan-2"}}', admin),
              ("/retrieve", f'{{"query": "photosynthesis", "k": {value}}}', learner),
              ("/chat/ask", f'{{"question": {value}}}', learner),
              ("/quizzes/generate", f'{{"topic": "plants", "n": {value}}}', learner)]
    for path, body, token in bodies:
        response = await http.post(path, **raw_json(body, token))
        assert response.status_code == 422, (path, body, response.status_code, response.text)
        assert "not a JSON number" in response.text or "too large" in response.text, response.text
    assert (await whoami(http, learner))["available"] == me["available"]


@pytest.mark.parametrize("text", ['"\\ud800 photosynthesis"', '"plants \\udfff"'])
async def test_a_lone_surrogate_is_a_422(http: httpx.AsyncClient, tokens: tuple[str, str], text: str) -> None:
    _, learner = tokens
    for path, field in (("/retrieve", "query"), ("/chat/ask", "question"), ("/quizzes/generate", "topic")):
        response = await http.post(path, **raw_json(f'{{"{field}": {text}}}', learner))
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert "surrogate" in response.text
    fine = await http.post("/retrieve", **raw_json('{"query": "photosynthesis \\ud83c\\udf3f"}', learner))
    assert fine.status_code == 200, fine.text  # a real surrogate pair (an emoji) is text like any other


async def test_the_retrieval_application_publishes_the_path_clients_call(http: httpx.AsyncClient) -> None:
    document = (await http.get("/retrieve/openapi.json")).json()
    assert list(document["paths"]) == ["/retrieve"]
    assert "post" in document["paths"]["/retrieve"]


@pytest.mark.parametrize("loose", [{"amount": "100"}, {"amount": True}, {"amount": 100.0}, {"user_id": "self"},
                                   {"user_id": True}])
async def test_top_up_takes_strict_integers_only(http: httpx.AsyncClient, tokens: tuple[str, str],
                                                 loose: dict[str, Any]) -> None:
    admin, learner = tokens
    me = await whoami(http, learner)
    body = {"user_id": me["user_id"], "amount": 100, "request_id": f"loose-{uuid.uuid4().hex}", **loose}
    if body["user_id"] == "self":
        body["user_id"] = str(me["user_id"])
    response = await http.post("/wallet/topup", json=body, headers=bearer(admin))
    assert response.status_code == 422, (body, response.text)
    assert (await whoami(http, learner))["credits"] == me["credits"]


async def test_a_top_up_replay_says_so_and_credits_once(http: httpx.AsyncClient, tokens: tuple[str, str]) -> None:
    admin, learner = tokens
    me = await whoami(http, learner)
    headers = {**bearer(admin), "Idempotency-Key": f"replay-{uuid.uuid4().hex}"}
    body = {"user_id": me["user_id"], "amount": 250}
    answers = [(await http.post("/wallet/topup", json=body, headers=headers)).json() for _ in range(3)]
    assert [a["replayed"] for a in answers] == [False, True, True]
    assert {a["credits"] for a in answers} == {me["credits"] + 250}
    conflict = await http.post("/wallet/topup", json={**body, "amount": 251}, headers=headers)
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    assert (await whoami(http, learner))["credits"] == me["credits"] + 250


async def ask(http: httpx.AsyncClient, token: str, question: str, key: str) -> dict[str, Any]:
    """The last event of one /chat/ask stream."""
    headers = {**bearer(token), "Idempotency-Key": key}
    async with http.stream("POST", "/chat/ask", json={"question": question}, headers=headers) as response:
        assert response.status_code == 200
        body = "".join([chunk async for chunk in response.aiter_text()])
    events = [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]
    assert events, body
    return events[-1]


async def test_an_ask_replay_is_marked_and_another_question_under_its_key_conflicts(
        corpus: None, http: httpx.AsyncClient, tokens: tuple[str, str]) -> None:
    _, learner = tokens
    key = f"ask-{uuid.uuid4().hex}"
    first = await ask(http, learner, QUESTION, key)
    assert first["type"] == "done" and first["replayed"] is False and first["charged"] > 0, first
    after_first = await whoami(http, learner)
    again = await ask(http, learner, QUESTION, key)
    assert again["type"] == "done" and again["replayed"] is True, again
    assert again["charged"] == first["charged"] and again["text"] == first["text"]
    other = await ask(http, learner, "What do roots take from the soil?", key)
    assert (other["type"], other["reason"]) == ("refused", "idempotency_conflict"), other
    assert await whoami(http, learner) == after_first  # neither the replay nor the conflict cost anything
    quiz_key = {**bearer(learner), "Idempotency-Key": f"quiz-{uuid.uuid4().hex}"}
    made = await http.post("/quizzes/generate", json={"topic": "photosynthesis", "n": 1}, headers=quiz_key)
    assert made.status_code == 200 and made.json()["replayed"] is False, made.text
    same = await http.post("/quizzes/generate", json={"topic": "photosynthesis", "n": 1}, headers=quiz_key)
    assert same.json()["replayed"] is True and same.json()["questions"] == made.json()["questions"]
    clash = await http.post("/quizzes/generate", json={"topic": "roots", "n": 1}, headers=quiz_key)
    assert clash.status_code == 409 and clash.json()["detail"]["reason"] == "idempotency_conflict"


def declared_only(base_url: str, path: str, token: str, length: int) -> bytes:
    """Send a request's headers declaring `length` body bytes and none of the body; the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


async def test_a_body_over_the_limit_is_refused_before_it_is_read(ray_system: RaySystem, http: httpx.AsyncClient,
                                                                  tokens: tuple[str, str], pool: Any) -> None:
    admin, _ = tokens
    limit_mb = ray_system.settings.INGEST_MAX_MB
    answer = await asyncio.to_thread(declared_only, ray_system.base_url, "/ingestion/jobs", admin, 120 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"120.0 MB" in answer and f"the limit is {limit_mb:g} MB".encode() in answer, answer
    async with pool.connection() as conn:
        before = (await (await conn.execute("SELECT count(*) AS n FROM ingestion_jobs")).fetchone())["n"]
    files = {"file": ("big.txt", b"x" * (ray_system.settings.ingest_max_bytes * 2), "text/plain")}
    refused = await http.post("/ingestion/jobs", files=files, headers=bearer(admin))
    assert refused.status_code == 413 and f"the limit is {limit_mb:g} MB" in refused.json()["detail"], refused.text
    async with pool.connection() as conn:
        assert (await (await conn.execute("SELECT count(*) AS n FROM ingestion_jobs")).fetchone())["n"] == before
    too_long = await http.post("/chat/ask", json={"question": "x" * 2_000_000}, headers=bearer(admin))
    assert too_long.status_code == 413


async def test_a_stalled_redis_makes_an_ask_a_clean_refusal(corpus: None, ray_system: RaySystem, pool: Any,
                                                            tokens: tuple[str, str], http: httpx.AsyncClient) -> None:
    """Admission counts live in Redis: hung (SIGSTOP), the ask is refused `unavailable`, nothing is
    held or charged, and the stream ends properly."""
    from ray import serve

    _, learner = tokens
    me = await whoami(http, learner)
    own_redis = EmbeddedRedis(ray_system.settings.DATA_DIR / "stalled-redis")
    stalled = ray_system.settings.model_copy(update={"REDIS_URL": own_redis.start()})
    handle = await asyncio.to_thread(serve.run, TutorDeployment.bind(stalled), name="tutor-stalled", route_prefix=None)
    try:
        assert own_redis.proc is not None
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        events = [e async for e in handle.options(stream=True).ask.remote(me["user_id"], QUESTION,
                                                                           f"stall-{uuid.uuid4().hex}")]
        assert [(e["type"], e.get("reason")) for e in events] == [("refused", "unavailable")], events
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    finally:
        own_redis.stop()
        await asyncio.to_thread(serve.delete, "tutor-stalled")
    assert await whoami(http, learner) == me
    assert await Wallet(ray_system.settings).reservations(me["user_id"], "pending") == []
