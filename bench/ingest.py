"""Ingestion throughput against the embedding model's own limit (run by hand).

    .venv/bin/python bench/ingest.py [--documents N] [--texts 640] [--callers 32]

1. limit: the model embeds, in this process, in batches of 64, the very chunks ingestion will cut
   from the shared passages (XQuAD ar/en, PIAF fr; one document per passage): chunks/s, measured
   before and after the system runs and averaged (the model's own rate drifts by a fifth here).
2. end to end: a local Ray with the system actors (vector store, embedding batcher, ingestor)
   ingests those documents, submitted at once as `ustadh ingest` does: all 780 shared passages
   unless --documents says fewer (with about a hundred, the seconds before the first batch and
   after the last weigh a tenth of the run; all of them take about 17 minutes on 2 cores).
   Chunks indexed per second from the first submission to the last job indexed. Target >= 0.8
   of the limit.
3. batcher: 32 concurrent callers each sending one chunk at a time (closed loop) through the
   EmbeddingBatcher actor, against the model on raw batches of 64 in-process. Target >= 0.8.

Uses DATABASE_URL / REDIS_URL when set (a throwaway database), else embedded servers; always the
offline embedder (OPENAI_* are ignored: the limit is measured in-process). Needs ../shared/eval.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stores import offline_settings
from core.config import Settings
from core.embeddings import OfflineEmbedder
from core.ingest.prepare import cut, profile
from core.text.chunking import ChunkSettings
from ops.ray_local import prepare_environment, start_ray

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def passages(n: int | None) -> list[dict[str, str]]:
    """The first `n` (default all) passages, taken in turn from XQuAD ar, PIAF fr and XQuAD en."""
    sets = []
    for name, lang in (("xquad", "ar"), ("piaf", "fr"), ("xquad", "en")):
        with (EVAL / name / "passages.jsonl").open(encoding="utf-8") as handle:
            sets.append([row for row in map(json.loads, handle) if row["lang"] == lang])
    taken = [row for group in zip_longest(*sets) for row in group if row is not None]
    return taken[:n]


def chunk_texts(docs: list[dict[str, str]], settings: Settings) -> list[str]:
    chunking = ChunkSettings(settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS)
    return [c.text for d in docs for c in cut(d["text"], f"bench:{d['id']}", chunking, [], profile(d["text"]).language)]


def raw_rate(texts: list[str]) -> float:
    model = OfflineEmbedder()
    model.encode(texts[:64], "passage")  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.encode(texts[i:i + 64], "passage")
    return len(texts) / (time.perf_counter() - started)


async def end_to_end(docs: list[dict[str, str]]) -> tuple[float, int, int, str]:
    """(chunks/s, chunks, failed jobs, where the time went) ingesting every passage as its own document."""
    from actors import registry
    from actors.clients.ingestion import Ingestion
    from actors.tracing import call

    client = Ingestion()
    batcher = registry.get(registry.EMBEDDING_BATCHER)
    before = await call(batcher.stats)
    started = time.perf_counter()
    jobs = [await client.submit_file(d["text"].encode(), f"{d['id']}.txt", uri=f"bench:{d['id']}") for d in docs]
    pending = {job["id"] for job in jobs}
    finished: list[dict] = []
    while pending:
        await asyncio.sleep(1.0)  # each poll reads every pending job: every 0.25 s, 14% of the Ingestor's CPU
        for job in await client.jobs(list(pending)):
            if job["state"] in ("indexed", "failed"):
                pending.discard(job["id"])
                finished.append(job)
    elapsed = time.perf_counter() - started
    after = await call(batcher.stats)
    batches = after["batches"] - before["batches"]
    spent = (f"model time {after['model_s'] - before['model_s']:.1f} s (batches at once overlap) in {elapsed:.1f} s, "
             f"{batches} batches of "
             f"{(after['texts'] - before['texts']) / max(1, batches):.1f} on average")
    chunks = sum((job["result"] or {}).get("chunks", 0) for job in finished)
    return chunks / elapsed, chunks, sum(job["state"] == "failed" for job in finished), spent


async def batcher_rate(texts: list[str], callers: int) -> tuple[float, float]:
    """(chunks/s, mean batch size) with `callers` closed-loop single-text callers."""
    from actors import registry
    from actors.tracing import call

    handle = registry.get(registry.EMBEDDING_BATCHER)
    queue = list(reversed(texts))

    async def caller() -> None:
        while queue:
            await call(handle.embed, [queue.pop()], "passage")

    before = await call(handle.stats)
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    rate = len(texts) / (time.perf_counter() - started)
    after = await call(handle.stats)
    return rate, (after["texts"] - before["texts"]) / max(1, after["batches"] - before["batches"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=None, help="default: every shared passage")
    parser.add_argument("--texts", type=int, default=640, help="chunks for the batcher comparison")
    parser.add_argument("--callers", type=int, default=32)
    args = parser.parse_args()
    if not EVAL.exists():
        print(f"needs the shared passages at {EVAL}")
        return 2
    docs = passages(args.documents)
    with offline_settings() as settings:
        texts = chunk_texts(docs, settings)
        batcher_texts = (texts * (args.texts // max(1, len(texts)) + 1))[:args.texts]
        limit_before = raw_rate(texts)
        raw64 = raw_rate(batcher_texts)
        prepare_environment(settings)
        start_ray(settings, dashboard=False)
        import ray

        from ops.system_actors import start_actors

        try:
            handles = start_actors(settings)
            ray.get([h.ping.remote() for h in handles.values()])
            rate, chunks, failed, spent = asyncio.run(end_to_end(docs))
            through, mean_batch = asyncio.run(batcher_rate(batcher_texts, args.callers))
        finally:
            ray.shutdown()
        limit = (limit_before + raw_rate(texts)) / 2  # the model's rate drifts between runs on a shared VM
    print(f"model: offline {OfflineEmbedder.name}; chunks of {settings.CHUNK_TOKENS} tokens; {os.cpu_count()} CPU(s)")
    print(f"end to end  {len(docs)} documents, {chunks} chunks ({failed} failed jobs): {rate:8.1f} chunks/s | "
          f"model limit, in-process batches of 64: {limit:8.1f} chunks/s (before {limit_before:.1f}) | ratio {rate / limit:5.2f} (target >= 0.8)")
    print(f"            {spent}")
    print(f"batcher     {args.callers} callers x 1 text: {through:8.1f} chunks/s (mean batch {mean_batch:.1f}) | "
          f"raw batches of 64: {raw64:8.1f} chunks/s | ratio {through / raw64:5.2f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
