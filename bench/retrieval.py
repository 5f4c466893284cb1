"""Retrieval latency over HTTP against the same pipeline in-process (run by hand).

    .venv/bin/python bench/retrieval.py [--chunks 10000] [--requests 400] [--concurrency 1,8,32] [--rounds 4]

Starts a local system (Ray, the actors, the retrieval application and the gateway) on throwaway
stores (DATABASE_URL / REDIS_URL when set, else embedded), fills the corpus to `--chunks` chunks,
then, at each concurrency, runs the eval questions through the same pipeline in this process
(`RetrieverApp.retrieve`, same actors, that many at a time) and through `POST /retrieve`, in
`--rounds` rounds a side, alternated and each side first in turn (this machine's speed drifts by
a quarter within minutes; alternating lets the drift hit both sides alike). It prints p50/p99
latency and requests per second of both over all their rounds (each question is asked once
before the runs, so that both sides find its embedding in the Redis cache), the served/in-process
p50 ratio at that concurrency, and the served p50 against the in-process p50 one at a time.
Target: served p50 <= 1.5x in-process p50. (At 8 and 32 clients on a small machine both sides
queue; comparing each with the other at the same concurrency isolates what serving adds.)

HTTP goes through the system's Serve ingress, as `ustadh up` starts it: HAProxy into an HTTP
server inside the ingress replica by default; `SERVE_INGRESS=proxy` measures Ray's Python proxy
instead (an actor call into the replica, which then pulls the body from the proxy in another).

Then, at one client and alternated the same way, what serving alone costs on this machine: bare
Serve deployments answering a tiny JSON body through the same ingress (without reading the
request; after reading its JSON body; and after that and a wait as long as the in-process p50),
`POST /retrieve` with an empty query (ours: FastAPI, authentication and validation, answered 422
before any search), and the Retriever through its deployment handle (Serve without HTTP) beside
the pipeline in-process.

Filling: the shared eval passages are ingested through the Ingestor as they are (real vectors);
the rest of the chunks are sentences of those passages recombined, written straight into the
throwaway database and, with random unit vectors, into the Milvus collection — embedding 10,000
chunks with the offline model would take over ten minutes and would not change what a search
costs. Queries are always embedded for real. Needs ../shared/eval.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import numpy as np
import psycopg

from bench.stores import offline_settings, running_system
from core.config import Settings

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def load(name: str) -> list[dict]:
    with (EVAL / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


async def ingest_eval(passages: list[dict]) -> None:
    from actors.clients.ingestion import Ingestion
    from ops.ingest import ingest_jobs

    client = Ingestion()
    jobs = [await client.submit_file(p["text"].encode(), f"{p['id']}.txt", uri=f"eval:{p['id']}") for p in passages]
    await ingest_jobs(client, jobs, desc="ingesting eval passages")


async def fill(settings: Settings, passages: list[dict], target: int) -> int:
    """Recombined-sentence chunks with random vectors until the corpus has `target` chunks."""
    import redis.asyncio as aioredis

    from actors import registry
    from actors.tracing import call
    from core.corpus.cache import bump_generation
    from core.text.arabic import normalise_for_matching

    rng = random.Random(7)
    sentences = [s.strip() + "." for p in passages for s in p["text"].split(".") if len(s.split()) > 4]
    async with await psycopg.AsyncConnection.connect(settings.DATABASE_URL or "", autocommit=True) as conn:
        have = (await (await conn.execute("SELECT count(*) FROM chunks")).fetchone())[0]
        collection, dimension = (await (await conn.execute(
            "SELECT name, dimension FROM vector_collections WHERE state = 'active'")).fetchone())
        missing = max(0, target - have)
        doc = (await (await conn.execute(
            "INSERT INTO documents (uri, title, media_type, content_sha256, language, visibility) "
            "VALUES ('bench:filler', 'filler', 'text/plain', '-', 'en', 'public') RETURNING id")).fetchone())[0]
        rows = []
        for i in range(missing):
            text = " ".join(rng.sample(sentences, 4))
            rows.append((f"filler{i:08d}", doc, i, text, normalise_for_matching(text), "en", 100, 0, len(text)))
        async with conn.cursor() as cur:
            await cur.executemany("INSERT INTO chunks (id, document_id, ordinal, text, normalized_text, language, "
                                  "token_count, char_start, char_end) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
    store = registry.get(registry.VECTOR_STORE)
    for start in range(0, missing, 2000):
        part = rows[start:start + 2000]
        vectors = np.random.default_rng(start).normal(size=(len(part), dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        meta = [{"document_id": doc, "source_id": 0, "language": "en", "visibility": "public"} for _ in part]
        await call(store.upsert, collection, [r[0] for r in part], vectors, meta)
    await call(store.flush, collection)
    client = aioredis.Redis.from_url(settings.REDIS_URL or "")
    await bump_generation(client)
    await client.aclose()
    return have + missing


class Runs:
    """Latencies and time of one side's runs at one concurrency."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.elapsed = 0.0

    def add(self, latencies: list[float], elapsed: float) -> None:
        self.latencies += latencies
        self.elapsed += elapsed

    def row(self) -> tuple[float, float, float]:
        """p50 ms, p99 ms, requests/s."""
        cuts = statistics.quantiles(self.latencies, n=100)
        return cuts[49] * 1000, cuts[98] * 1000, len(self.latencies) / self.elapsed


async def served(base: str, token: str, questions: list[str], concurrency: int) -> tuple[list[float], float]:
    """`POST /retrieve`, `concurrency` at a time over kept-alive connections: (latencies, elapsed).
    aiohttp rather than httpx: the client's own time is in every latency, and aiohttp's is the smaller."""
    latencies: list[float] = []
    queue = list(questions)

    async def worker(http: aiohttp.ClientSession) -> None:
        while queue:
            question = queue.pop()
            started = time.perf_counter()
            async with http.post("/retrieve", json={"query": question, "k": 5},
                                 headers={"Authorization": f"Bearer {token}"}) as answer:
                answer.raise_for_status()
                await answer.read()
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        began = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return latencies, time.perf_counter() - began


async def in_process(app: object, questions: list[str], concurrency: int) -> tuple[list[float], float]:
    """The same pipeline in this process (RetrieverApp.retrieve, same actors), `concurrency` at a time:
    (latencies, elapsed)."""
    pending = list(questions)
    latencies: list[float] = []

    async def worker() -> None:
        while pending:
            question = pending.pop()
            started = time.perf_counter()
            await app.retrieve(question, 5)  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def admin_token(settings: Settings) -> str:
    from core.db import api_tokens
    from core.db.pool import open_pool

    pool = await open_pool(settings.DATABASE_URL or "", None, max_size=2, name="bench")
    async with pool.connection() as conn:
        user = (await (await conn.execute(
            "INSERT INTO users (first_name, tier) VALUES ('bench', 'standard') RETURNING id")).fetchone())["id"]
    token = await api_tokens.issue(pool, user, "learner")
    await pool.close()
    return token


async def run(settings: Settings, args: argparse.Namespace) -> None:
    passages = [p for name in ("xquad", "piaf") for p in load(f"{name}/passages.jsonl")]
    questions = [q["question"] for name in ("xquad", "piaf") for q in load(f"{name}/questions.jsonl")]
    random.Random(3).shuffle(questions)
    questions = questions[:args.requests]
    await ingest_eval(passages)
    total = await fill(settings, passages, args.chunks)
    token = await admin_token(settings)
    base = f"http://127.0.0.1:{settings.HTTP_PORT}"
    await served(base, token, questions[:20], 4)  # warm-up: replicas, caches of the first questions
    from serve_app.retriever import RetrieverApp

    app = RetrieverApp(settings)
    await in_process(app, questions, 8)  # every question once: both sides then find its embedding cached
    print(f"index: {total} chunks; {len(questions)} questions (eval, shuffled) x {args.rounds} rounds a side; "
          f"{os.cpu_count()} CPU(s); ingress: {ingress()}")
    print(f"{'conc.':>5} | {'HTTP p50':>9} {'p99':>8} {'req/s':>7} | {'in-process p50':>14} {'p99':>8} {'req/s':>7} | "
          f"{'HTTP p50 / in-process p50':>26} | {'/ in-process p50 at 1':>21}")
    base50 = None
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        local, remote = Runs(), Runs()
        for round_ in range(args.rounds):  # alternated, each side first in turn: the machine's drift hits both
            sides = [(local, in_process(app, questions, concurrency)),
                     (remote, served(base, token, questions, concurrency))]
            for runs, side in sides[::1 if round_ % 2 == 0 else -1]:
                runs.add(*await side)
        (local50, local99, local_rate), (p50, p99, rate) = local.row(), remote.row()
        base50 = base50 or local50
        print(f"{concurrency:>5} | {p50:9.1f} {p99:8.1f} {rate:7.1f} | {local50:14.1f} {local99:8.1f} {local_rate:7.1f} | "
              f"{p50 / local50:25.2f}x | {p50 / base50:20.2f}x", flush=True)
    await floor(app, base, token, questions, args.rounds)


def ingress() -> str:
    """What serves HTTP_PORT: HAProxy, or Ray's Python proxy (the setting, or no haproxy binary found)."""
    return "HAProxy" if os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "1" else "Ray's Python proxy"


async def one_at_a_time(call: Callable[[int], Awaitable[object]], n: int) -> tuple[list[float], float]:
    """Await `call(0)` .. `call(n - 1)` in turn: (latencies, elapsed)."""
    latencies: list[float] = []
    began = time.perf_counter()
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - started)
    return latencies, time.perf_counter() - began


async def posts(base: str, path: str, body: dict, n: int, status: int,
                token: str | None = None) -> tuple[list[float], float]:
    """`n` POSTs of `body` to `path`, one at a time, each expected to answer `status`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def post(_: int) -> None:
            async with http.post(path, json=body, headers=headers) as answer:
                await answer.read()
                assert answer.status == status, answer.status

        return await one_at_a_time(post, n)


def start_floors(pipeline_ms: float) -> None:
    """Bare Serve deployments (no FastAPI, nothing of ours) that answer a tiny JSON body: at once
    without reading the request (/floor), after reading its JSON body (/floor-body), and after
    reading it and waiting as long as the pipeline takes in-process (/floor-long)."""
    from ray import serve

    @serve.deployment(ray_actor_options={"num_cpus": 0.1})
    class Floor:
        def __init__(self, read_body: bool, wait_s: float) -> None:
            self.read_body, self.wait_s = read_body, wait_s

        async def __call__(self, request: Any) -> dict:
            if self.read_body:
                await request.json()
            if self.wait_s:
                await asyncio.sleep(self.wait_s)
            return {"hits": []}

    for name, read_body, wait_s in (("floor", False, 0.0), ("floor-body", True, 0.0),
                                    ("floor-long", True, pipeline_ms / 1000)):
        serve.run(Floor.options(name=name).bind(read_body, wait_s), name=name, route_prefix=f"/{name}",
                  logging_config={"enable_access_log": False})


async def floor(app: object, base: str, token: str, questions: list[str], rounds: int) -> None:
    """What serving alone costs at one client, each side alternated like the main table."""
    from actors.clients.retrieval import deployment_handle

    pipeline_ms = statistics.median((await in_process(app, questions, 1))[0]) * 1000
    start_floors(pipeline_ms)
    handle, n, body = deployment_handle(), len(questions), {"query": "q"}
    sides: dict[str, Callable[[], Awaitable[tuple[list[float], float]]]] = {
        "bare deployment, request not read": lambda: posts(base, "/floor", {}, n, 200),
        "bare deployment, JSON body read": lambda: posts(base, "/floor-body", body, n, 200),
        f"same, then {pipeline_ms:.1f} ms asleep": lambda: posts(base, "/floor-long", body, n, 200),
        f"{pipeline_ms:.1f} ms asleep in this process": lambda: one_at_a_time(
            lambda _: asyncio.sleep(pipeline_ms / 1000), n),
        "POST /retrieve, empty query (422)": lambda: posts(base, "/retrieve", {"query": "", "k": 5}, n, 422, token),
        "Retriever by deployment handle": lambda: one_at_a_time(
            lambda i: handle.retrieve.remote(questions[i], 5, None, "standard", None, None), n),
        "pipeline in-process": lambda: in_process(app, questions, 1),
    }
    runs = {name: Runs() for name in sides}
    await posts(base, "/floor-long", body, 20, 200)  # warm-up
    for round_ in range(rounds):
        for name in list(sides)[::1 if round_ % 2 == 0 else -1]:
            runs[name].add(*await sides[name]())
    print("serving floor at 1 client, nothing of ours unless named:  p50 ms   p99 ms")
    for name, side in runs.items():
        p50, p99, _ = side.row()
        print(f"  {name:<52} {p50:7.1f} {p99:8.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--rounds", type=int, default=4, help="runs of every question a side, alternated")
    args = parser.parse_args()
    if not EVAL.exists():
        print(f"needs the shared passages at {EVAL}")
        return 2
    with offline_settings(HTTP_PORT=18123) as settings, running_system(settings):
        asyncio.run(run(settings, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
