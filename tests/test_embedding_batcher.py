"""The EmbeddingBatcher actor in the session Ray cluster: own vectors, in order, and real batching."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from actors.tracing import call
from core.embeddings import OfflineEmbedder


@pytest.fixture(scope="module")
def batcher(ray_system):
    return ray_system.handles["embedding_batcher"]


@pytest.fixture(scope="module")
def direct() -> OfflineEmbedder:
    return OfflineEmbedder()


async def test_ping_and_info(batcher) -> None:
    info = await call(batcher.info)
    assert info["name"] and info["version"] and info["dimension"] > 0
    pong = await call(batcher.ping)
    assert pong["model"] == info["name"] and pong["dimension"] == info["dimension"]


async def test_concurrent_callers_get_their_own_vectors_in_order(batcher, direct: OfflineEmbedder) -> None:
    requests = [[f"caller {c} sentence {i}: {'نص عربي' if c % 3 == 0 else 'texte français' if c % 3 == 1 else 'english'}"
                 for i in range(1 + c % 3)] for c in range(16)]
    kinds = ["query" if c % 2 else "passage" for c in range(len(requests))]
    results = await asyncio.gather(*(call(batcher.embed, texts, kind=kind) for texts, kind in zip(requests, kinds)))
    for texts, kind, got in zip(requests, kinds, results):
        expected = direct.encode(texts, kind)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=2e-3)
    # Passage and query embeddings differ (e5 prefixes), so a mix-up would have shown above.
    assert (await call(batcher.embed, [])).shape[0] == 0
    with pytest.raises(Exception, match="kind"):
        await call(batcher.embed, ["x"], kind="document")


@pytest.fixture
def private_batcher(ray_system):
    """A batcher of this test's own: the system's one also serves whatever other tests left running,
    whose texts would join the batches counted here."""
    import ray

    from actors import embedding_batcher

    actor = ray.remote(**embedding_batcher.OPTIONS)(embedding_batcher.EmbeddingBatcher).remote(ray_system.settings)
    yield actor
    ray.kill(actor)


async def test_single_text_callers_are_batched(private_batcher) -> None:
    batcher = private_batcher
    before = await call(batcher.stats)
    texts = [f"question {i}: combien font {i} et {i + 1} ?" for i in range(32)]
    results = await asyncio.gather(*(call(batcher.embed, [t], kind="query") for t in texts))
    after = await call(batcher.stats)
    assert all(r.shape[0] == 1 for r in results)
    new_batches = after["batches"] - before["batches"]
    sizes = after["recent_sizes"][-new_batches:]
    assert sum(sizes) == 32 and new_batches < 32 and max(sizes) > 1, sizes
    # The offline model has one engine per core: while one batch runs, the next forms and runs beside it.
    assert after["most_at_once"] == min(2, after["parallelism"]), after


async def test_large_request_is_split_and_reassembled(batcher, direct: OfflineEmbedder) -> None:
    stats = await call(batcher.stats)
    texts = [f"chunk {i}" for i in range(stats["batch_max"] + 3)]
    got = await call(batcher.embed, texts)
    np.testing.assert_allclose(got, direct.encode(texts, "passage"), atol=2e-3)
