"""Serve autoscaling of the Retriever on a two-node Ray cluster (run by hand).

    .venv/bin/python bench/autoscale.py [--clients 16] [--load-s 90] [--idle-s 60] [--passages 30]

Starts the cluster of `ops/local_cluster.py` (a head and a worker node on this machine), a Milvus
server (milvus-lite's server mode), a database of its own on DATABASE_URL's server (default: the
local one, postgresql://postgres@127.0.0.1:5432/test) and Redis database 13 of REDIS_URL's, then
`ustadh up` with RAY_ADDRESS and the Retriever allowed 1 to 4 replicas, aiming at 2 requests in
flight each, scaling after 5 s up and 20 s down (RETRIEVER_*, SERVE_*_DELAY_S). It ingests
`--passages` eval passages per language, then asks `POST /retrieve` the eval questions: one client
for 20 s (before), `--clients` at once for `--load-s`, nothing for `--idle-s`, one client for 20 s
(after). It prints the Retriever's running replicas every 5 s (Serve's own view, from the
dashboard's /api/serve/applications/) and p50/p99 latency per phase. Needs ../shared/eval.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg

from ops.local_cluster import TwoNodeCluster

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
BIN = Path(sys.executable).parent
_PORTS = iter(range(41_000, 42_000))


def port() -> int:
    return next(_PORTS)


def ustadh(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "ustadh"), *args], env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"ustadh {args[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done.stdout


def eval_rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVAL / name).read_text("utf-8").splitlines() if line.strip()]


def replicas(dashboard: str) -> int:
    try:
        apps = httpx.get(f"{dashboard}/api/serve/applications/", timeout=10).json()["applications"]
        found = apps["retrieval"]["deployments"]["RetrieverApp"]["replicas"]
        return sum(r["state"] == "RUNNING" for r in found)
    except (httpx.HTTPError, KeyError, ValueError):
        return -1


def run_clients(base: str, key: str, questions: list[str], clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = http.post("/retrieve", json={"query": questions[i % len(questions)], "k": 5})
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-s", type=float, default=90)
    parser.add_argument("--idle-s", type=float, default=60)
    parser.add_argument("--passages", type=int, default=30)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/13"
    name = f"ustadh_bench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="ustadh-autoscale-", dir="/tmp"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    nodes = TwoNodeCluster(base_env, work / "ray", port)
    milvus_port, http_port = port(), port()
    milvus = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(work / "milvus"),
                               "--host", "127.0.0.1", "--port", str(milvus_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**base_env, "DATA_DIR": str(work / "data"), "RAY_ADDRESS": nodes.address,
           "DATABASE_URL": server.rsplit("/", 1)[0] + f"/{name}", "REDIS_URL": redis,
           "MILVUS_URI": f"http://127.0.0.1:{milvus_port}", "LOCAL_LLM": "off", "EXPORT_EVERY_H": "0",
           "SERVE_PROXY_LOCATION": "HeadOnly", "HTTP_PORT": str(http_port), "RETRIEVER_REPLICAS_MIN": "1",
           "RETRIEVER_REPLICAS_MAX": "4", "RETRIEVER_TARGET_ONGOING": "2", "SERVE_UPSCALE_DELAY_S": "5",
           "SERVE_DOWNSCALE_DELAY_S": "20", "LOG_LEVEL": "WARNING"}
    up = None
    try:
        nodes.start()
        up = subprocess.Popen([str(BIN / "ustadh"), "up"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        passages = [p for lang in ("ar", "fr", "en") for p in
                    [r for r in eval_rows("piaf/passages.jsonl" if lang == "fr" else "xquad/passages.jsonl")
                     if r["lang"] == lang][:args.passages]]
        (work / "docs").mkdir()
        for p in passages:
            (work / "docs" / f"{p['id']}.txt").write_text(p["text"], encoding="utf-8")
        ustadh(env, "ingest", str(work / "docs"))
        ustadh(env, "users", "add", "bench_learner")
        key = ustadh(env, "users", "token", "@bench_learner").strip()
        wanted = {p["id"] for p in passages}
        questions = [q["question"] for set_name in ("xquad", "piaf") for q in eval_rows(f"{set_name}/questions.jsonl")
                     if q["passage_id"] in wanted][:300]
        samples: list[tuple[float, int]] = []
        started = time.monotonic()
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                samples.append((time.monotonic() - started, replicas(nodes.dashboard)))
                sampling.wait(5)

        threading.Thread(target=sample, daemon=True).start()
        phases = {"before (1 client)": run_clients(base, key, questions, 1, 20),
                  f"load ({args.clients} clients)": run_clients(base, key, questions, args.clients, args.load_s)}
        time.sleep(args.idle_s)
        phases["after (1 client)"] = run_clients(base, key, questions, 1, 20)
        sampling.set()
        print(f"{'t (s)':>6} | Retriever replicas running")
        for at, count in samples:
            print(f"{at:6.0f} | {count}")
        print(f"{'phase':>22} | {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
        for phase, values in phases.items():
            seconds = 20 if "1 client" in phase else args.load_s
            print(f"{phase:>22} | {len(values):5d} {statistics.median(values) * 1000:8.1f} "
                  f"{pct(values, 0.99) * 1000:8.1f} {len(values) / seconds:7.1f}")
    finally:
        if up is not None:
            up.send_signal(2)
            up.wait(120)
        nodes.stop()
        milvus.kill()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
