"""Embedding back ends: OpenAI-compatible (against the loopback FakeOpenAI) and the offline model."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import numpy as np
import pytest

from core.config import load_settings
from core.embeddings import EmbeddingError, OfflineEmbedder, OpenAIEmbedder, make_embedder
from tests.fakes.openai import FakeOpenAI

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


# ----------------------------------------------------------------- OpenAI back end


@pytest.fixture
async def fake_ai():
    async with FakeOpenAI(dimensions=64) as ai:
        yield ai


def openai_embedder(ai: FakeOpenAI, **kwargs) -> OpenAIEmbedder:
    options = {"model": "text-embedding-3-small", "dimensions": 64, "max_retries": 0, "timeout_s": 5.0, **kwargs}
    return OpenAIEmbedder(base_url=ai.base_url + "/v1", api_key="x", **options)


async def test_openai_dimension_and_order(fake_ai: FakeOpenAI) -> None:
    embedder = openai_embedder(fake_ai)
    texts = ["مرحبا بالعالم", "bonjour le monde", "hello world", "the derivative of x squared"]
    vectors = await embedder.embed_passages(texts)
    assert embedder.dimension == 64 and vectors.shape == (4, 64) and vectors.dtype == np.float32
    expected = np.asarray([fake_ai.embed(t) for t in texts], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    assert (await embedder.embed_queries([])).shape == (0, 64)
    await embedder.aclose()


async def test_openai_splits_large_inputs_into_batches(fake_ai: FakeOpenAI) -> None:
    embedder = openai_embedder(fake_ai, batch_size=10)
    texts = [f"text number {i} about topic {i % 7}" for i in range(35)]
    vectors = await embedder.embed_queries(texts)
    sizes = sorted(len(body["input"]) for path, body in fake_ai.requests if path == "/v1/embeddings")
    assert sizes == [5, 10, 10, 10]
    np.testing.assert_allclose(vectors, np.asarray([fake_ai.embed(t) for t in texts]), atol=1e-6)
    await embedder.aclose()


async def test_openai_server_error_is_typed(fake_ai: FakeOpenAI) -> None:
    embedder = openai_embedder(fake_ai)
    fake_ai.fail_next(1, status=500, path="/embeddings")
    with pytest.raises(EmbeddingError) as raised:
        await embedder.embed_passages(["x"])
    assert raised.value.status == 500 and raised.value.retryable
    fake_ai.fail_next(1, status=400, path="/embeddings")
    with pytest.raises(EmbeddingError) as raised:
        await embedder.embed_passages(["x"])
    assert raised.value.status == 400 and not raised.value.retryable
    assert (await embedder.embed_passages(["x"])).shape == (1, 64)  # the embedder still works afterwards
    await embedder.aclose()


async def test_openai_timeout_is_typed(fake_ai: FakeOpenAI) -> None:
    embedder = openai_embedder(fake_ai, timeout_s=0.3)
    fake_ai.stall(5.0, path="/embeddings")
    with pytest.raises(EmbeddingError) as raised:
        await embedder.embed_passages(["x"])
    assert raised.value.retryable
    await embedder.aclose()


def test_make_embedder_picks_the_back_end() -> None:
    online = make_embedder(load_settings(_env_file=None, OPENAI_BASE_URL="http://127.0.0.1:9/v1"))
    assert isinstance(online, OpenAIEmbedder) and online.dimension == 1536
    assert isinstance(make_embedder(load_settings(_env_file=None, OPENAI_API_KEY="sk-x")), OpenAIEmbedder)
    assert isinstance(make_embedder(load_settings(_env_file=None)), OfflineEmbedder)


# ----------------------------------------------------------------- offline back end


@pytest.fixture(scope="module")
def offline() -> OfflineEmbedder:
    real_connect = socket.socket.connect

    def no_network(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"the offline model tried to reach {address!r}")
        return real_connect(self, address)

    socket.socket.connect = no_network  # loading must not download anything
    try:
        embedder = OfflineEmbedder()
        embedder.encode(["warm up"], "passage")
    finally:
        socket.socket.connect = real_connect
    return embedder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


async def test_offline_dimension_and_determinism(offline: OfflineEmbedder) -> None:
    texts = ["ما هي عاصمة المغرب؟", "Quelle est la capitale du Maroc ?", "What is the capital of Morocco?"]
    first = await offline.embed_passages(texts)
    second = await offline.embed_passages(list(reversed(texts)))
    assert first.shape == (3, offline.dimension) and first.dtype == np.float32
    np.testing.assert_allclose(first, second[::-1], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    assert (await offline.embed_queries([])).shape == (0, offline.dimension)
    assert offline.name and offline.version


async def test_offline_engines_split_a_batch_and_share_out_concurrent_ones() -> None:
    texts = ["ما هي عاصمة المغرب؟ " * 12, "Quelle est la capitale du Maroc ?", "What is the capital of Morocco?",
             "تقع مدينة نواكشوط على ساحل المحيط الأطلسي.", "L'élève répond « oui » à la question de l'enseignant. " * 6,
             "short", "Les dunes de l'Adrar s'étendent vers le nord."]
    one, two = OfflineEmbedder(engines=1), OfflineEmbedder(engines=2)
    expected = one.encode(texts, "passage")
    np.testing.assert_allclose(two.encode(texts, "passage"), expected, atol=1e-6)  # split, then put back in order
    together = await asyncio.gather(*(asyncio.to_thread(two.encode, texts[i:] + texts[:i], "passage")
                                      for i in range(4)))
    for i, vectors in enumerate(together):
        np.testing.assert_allclose(vectors, np.roll(expected, -i, axis=0), atol=1e-6)


async def test_offline_french_english_translation_pair(offline: OfflineEmbedder) -> None:
    fr, en, other = await offline.embed_passages([
        "La photosynthèse permet aux plantes de transformer la lumière du soleil en énergie.",
        "Photosynthesis lets plants turn sunlight into energy.",
        "The train to Casablanca leaves at nine in the morning from platform two."])
    assert cosine(fr, en) > cosine(fr, other) + 0.1
    assert cosine(en, fr) > cosine(en, other) + 0.1


def _xquad_ar() -> tuple[list[dict], list[dict]]:
    directory = EVAL_DIR / "xquad"
    if not (directory / "passages.jsonl").exists() or not (directory / "questions.jsonl").exists():
        pytest.skip(f"evaluation data absent: {directory} (../shared/eval/xquad)")

    def read(name: str) -> list[dict]:
        with (directory / name).open(encoding="utf-8") as handle:
            return [row for line in handle if (row := json.loads(line))["lang"] == "ar"]

    return read("passages.jsonl"), read("questions.jsonl")


async def test_offline_arabic_question_finds_its_passage(offline: OfflineEmbedder) -> None:
    passages, questions = _xquad_ar()
    by_id = {p["id"]: p for p in passages}
    # Three questions on three different articles, each against its own passage and 7 others.
    chosen, titles = [], set()
    for question in questions:
        title = by_id[question["passage_id"]]["title"]
        if title not in titles:
            titles.add(title)
            chosen.append(question)
        if len(chosen) == 3:
            break
    pool = [by_id[q["passage_id"]] for q in chosen]
    pool += [p for p in passages if p["title"] not in titles][::29][:5]
    p_vecs = await offline.embed_passages([p["text"] for p in pool])
    q_vecs = await offline.embed_queries([q["question"] for q in chosen])
    scores = q_vecs @ p_vecs.T
    for i in range(len(chosen)):
        others = np.delete(scores[i], i)
        assert scores[i, i] > others.max(), (chosen[i]["question"], scores[i])
