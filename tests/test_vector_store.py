"""The VectorStore (used here as a plain object, as its actor runs it) on a Milvus Lite file and on a
Milvus server named by MILVUS_URI (`milvus-lite server` on loopback): the same behaviour on both."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient

from actors.vector_store import VectorStore
from core.config import Settings
from tests.conftest import free_port


def _server(data_dir: Path) -> Iterator[str]:
    port = free_port()
    command = [str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir", str(data_dir),
               "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            MilvusClient(uri=uri, timeout=2).list_collections()
            break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.3)
    try:
        yield uri
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture(params=["lite-file", "server-uri"])
def vectors(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "lite-file":
        yield VectorStore(settings.model_copy(update={"DATA_DIR": tmp_path}))
        return
    for uri in _server(tmp_path / "milvus-server"):
        yield VectorStore(settings.model_copy(update={"MILVUS_URI": uri}))


def unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


async def test_upserts_never_duplicate_and_searches_filter_on_metadata(vectors: VectorStore) -> None:
    name = "chunks_test_4"
    assert await vectors.ensure_collection(name, 4) is True
    assert await vectors.ensure_collection(name, 4) is False
    ids = ["a" * 32, "b" * 32, "c" * 32]
    meta = [{"document_id": 1, "source_id": 0, "language": "ar", "visibility": "public"},
            {"document_id": 1, "source_id": 0, "language": "fr", "visibility": "public"},
            {"document_id": 2, "source_id": 7, "language": "en", "visibility": "admin"}]
    points = unit([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert await vectors.upsert(name, ids, points, meta) == 3
    await vectors.upsert(name, ids[:2], points[:2], meta[:2])  # a stage run again
    await vectors.flush(name)
    assert await vectors.count(name) == 3
    [hits] = await vectors.search(name, unit([[0.9, 0.1, 0, 0]]), 2)
    assert [h["id"] for h in hits] == ids[:2] and hits[0]["language"] == "ar" and hits[0]["score"] > hits[1]["score"]
    [public] = await vectors.search(name, unit([[0, 0, 1, 0]]), 3, 'visibility == "public"')
    assert ids[2] not in [h["id"] for h in public]
    assert sorted(await vectors.ids(name, "document_id == 1")) == ids[:2]
    await vectors.delete(name, [ids[0]])
    assert sorted(await vectors.ids(name, "document_id >= 0")) == ids[1:]


_WRITER = """
import asyncio, os, sys
import numpy as np
from actors.vector_store import VectorStore
from core.config import Settings
store = VectorStore(Settings(DATA_DIR=sys.argv[1]))
meta = {"document_id": 1, "source_id": 0, "language": "fr", "visibility": "public"}
async def write():
    await store.ensure_collection("chunks_reopen_4", 4)
    await store.upsert("chunks_reopen_4", ["c1", "c2"], np.eye(4, dtype=np.float32)[:2], [meta, meta])
    await store.flush("chunks_reopen_4")
asyncio.run(write())
os._exit(0)  # as Ray ends an actor at shutdown: no close
"""


async def test_a_reopened_store_searches_and_counts_without_a_writer_loading_first(
        settings: Settings, tmp_path: Path) -> None:
    """After a restart the Milvus Lite file's collections are 'released': the first reader (the
    Retriever, before any ingestion) must still find its vectors."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", _WRITER, str(tmp_path)], cwd=root, check=True, timeout=120,
                   env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(tmp_path)})
    reopened = VectorStore(settings.model_copy(update={"DATA_DIR": tmp_path}))
    [hits] = await reopened.search("chunks_reopen_4", unit([[1, 0.1, 0, 0]]), limit=1)
    assert [h["id"] for h in hits] == ["c1"]
    assert await reopened.count("chunks_reopen_4") == 2
    assert sorted(await reopened.ids("chunks_reopen_4", "document_id == 1")) == ["c1", "c2"]
