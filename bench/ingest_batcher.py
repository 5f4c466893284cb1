"""Embedding throughput: the model in-process vs. through the EmbeddingBatcher actor (run by hand).

    .venv/bin/python bench/ingest_batcher.py [--texts 640] [--callers 32]

1. raw: the offline model embeds the chunks in batches of 64, in this process;
2. batcher: a local Ray with the `embedding_batcher` actor, `--callers` concurrent callers each
   sending one chunk at a time (closed loop) until all chunks are embedded.
Prints both rates (chunks/s) and the ratio batcher/raw (target >= 0.8).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def chunks(n: int) -> list[str]:
    texts: list[str] = []
    for name in ("xquad", "piaf"):
        path = EVAL / name / "passages.jsonl"
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                texts += [json.loads(line)["text"] for line in handle]
    if not texts:
        texts = [f"Passage {i}: " + "la somme des angles d'un triangle vaut 180 degrés. " * 8 for i in range(n)]
    # ~160-token chunks, like ingestion produces
    words = [w for t in texts for w in t.split()]
    return [" ".join(words[i * 110:(i + 1) * 110]) for i in range(n)]


async def through_batcher(handle, texts: list[str], callers: int) -> float:
    from actors.tracing import call

    queue = list(reversed(texts))

    async def caller() -> None:
        while queue:
            await call(handle.embed, [queue.pop()], kind="passage")

    await asyncio.gather(*(call(handle.embed, [t]) for t in texts[:callers]))  # warm up
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=640)
    parser.add_argument("--callers", type=int, default=32)
    args = parser.parse_args()
    texts = chunks(args.texts)

    from core.embeddings import OfflineEmbedder

    model = OfflineEmbedder()
    model.encode(texts[:64], "passage")
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.encode(texts[i:i + 64], "passage")
    raw = len(texts) / (time.perf_counter() - started)
    del model

    from ops.ray_local import LOOPBACK_ENV

    for key, value in LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "RAY_ADDRESS"):
        os.environ.pop(name, None)
    import ray

    from actors import embedding_batcher
    from core.config import load_settings

    settings = load_settings(_env_file=None, DATA_DIR=tempfile.mkdtemp(prefix="ustadh-bench-"))
    from ops.ray_local import start_ray

    start_ray(settings, dashboard=False)
    try:
        actor = ray.remote(**embedding_batcher.OPTIONS)(embedding_batcher.EmbeddingBatcher).remote(settings)
        ray.get(actor.ping.remote())
        rate = asyncio.run(through_batcher(actor, texts, args.callers))
        stats = ray.get(actor.stats.remote())
    finally:
        ray.shutdown()
    print(f"model           {model_name()}")
    print(f"chunks          {len(texts)} (~110 words each)")
    print(f"raw, batch 64   {raw:8.1f} chunks/s")
    print(f"batcher, {args.callers} callers x 1 text  {rate:8.1f} chunks/s  (mean batch {stats['mean']}, "
          f"EMBED_BATCH_MAX={settings.EMBED_BATCH_MAX}, EMBED_BATCH_WINDOW_MS={settings.EMBED_BATCH_WINDOW_MS})")
    print(f"ratio           {rate / raw:8.2f}  (target >= 0.8)")


def model_name() -> str:
    from core.embeddings import OfflineEmbedder

    return f"{OfflineEmbedder.name}"


if __name__ == "__main__":
    main()
