"""Wallet throughput: reserve+settle pairs per second and p50/p99 pair latency at 1, 16 and 64
concurrent clients, beside the same PostgreSQL's raw rate of single-row update transactions at the
same concurrency (the physical baseline: one commit per transaction, no batching). Then the group
commit alone, without Ray or the actor (`store.apply_batch` from this process in batches of 64),
beside the raw rate at 64 clients again, with its CPU per pair in Python and in the PostgreSQL
backend: what any wallet built on this store could reach at best.

    .venv/bin/python bench/wallet.py [--seconds 5] [--clients 1,16,64]

Uses DATABASE_URL's server (in a throwaway database) when set, else an embedded PostgreSQL in a
temporary directory; starts a local Ray with the wallet shard actors (WALLET_* settings apply).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.stores import database
from core.config import Settings, load_settings
from core.db.migrate import migrate
from ops.ray_local import prepare_environment, start_ray

USERS = 1_000
FUNDS = 10**15


async def measure(clients: int, seconds: float, one: Callable[[int, int], Awaitable[None]]) -> tuple[float, float, float]:
    """Run `one(client, n)` in a loop on `clients` coroutines; (per second, p50 ms, p99 ms)."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(index: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await one(index, n)
            latencies.append(time.perf_counter() - started)
            n += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000


async def raw_rate(url: str, clients: int, seconds: float) -> tuple[float, float, float]:
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(clients)]
    async with conns[0].cursor() as cur:
        await cur.execute("CREATE TABLE IF NOT EXISTS bench_rows (id INT PRIMARY KEY, n BIGINT NOT NULL)")
        await cur.execute("INSERT INTO bench_rows SELECT g, 0 FROM generate_series(0, 63) g ON CONFLICT DO NOTHING")

    async def update(index: int, _: int) -> None:
        await conns[index].execute("UPDATE bench_rows SET n = n + 1 WHERE id = %s", (index,))

    try:
        return await measure(clients, seconds, update)
    finally:
        for conn in conns:
            await conn.close()


async def wallet_rate(settings: Settings, users: list[int], clients: int, seconds: float) -> tuple[float, float, float]:
    from actors.clients.wallet import Wallet

    wallet = Wallet(settings)
    run = uuid.uuid4().hex[:8]

    async def pair(index: int, n: int) -> None:
        user = users[(index + n * clients) % len(users)]
        held = await wallet.reserve(user, 1_000, f"b{run}-{index}-{n}-r")
        await wallet.settle(held, 700, f"b{run}-{index}-{n}-s")

    return await measure(clients, seconds, pair)


async def store_alone(url: str, users: list[int], seconds: float, size: int = 64) -> tuple[float, float, float | None]:
    """The group commit without Ray or the actor: `core.ledger.store.apply_batch` on one connection,
    `size` reserves in one batch, then their `size` settles in the next, for `seconds` (the shape of
    a shard's commits at `size` clients). It writes the throwaway bench database behind the shard
    actors' backs, once their own runs are over (the measurement needs the store without the actor).
    Returns pairs/s, this thread's CPU µs per pair and the PostgreSQL backend's (None when its /proc
    entry cannot be read)."""
    from psycopg.rows import dict_row

    from core.ledger import store
    from core.ledger.commands import Reserve, Settle
    from core.ledger.model import Reservation
    from core.ledger.sharding import Shard

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row,
                                                 options=store.CONNECTION_OPTIONS)
    shard, run, pairs = Shard(0, 1), uuid.uuid4().hex[:8], 0
    backend_before, cpu_before = _backend_cpu_s(conn.info.backend_pid), time.thread_time()
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        batch = [users[(pairs + i) % len(users)] for i in range(size)]
        held = await store.apply_batch(conn, shard, [Reserve(u, 1_000, f"s{run}-{pairs + i}-r", 300)
                                                     for i, u in enumerate(batch)])
        assert all(isinstance(r, Reservation) for r in held), held
        await store.apply_batch(conn, shard, [Settle(r.id, r.user_id, 700, f"s{run}-{pairs + i}-s")
                                              for i, r in enumerate(held) if isinstance(r, Reservation)])
        pairs += size
    elapsed, cpu = time.perf_counter() - began, time.thread_time() - cpu_before
    backend_after = _backend_cpu_s(conn.info.backend_pid)
    await conn.close()
    backend = None if backend_before is None or backend_after is None else backend_after - backend_before
    return pairs / elapsed, cpu / pairs * 1e6, None if backend is None else backend / pairs * 1e6


def _backend_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a local process, from /proc (None for a server elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_shards(settings: Settings) -> None:
    import ray

    from actors import registry, wallet

    ledger = ray.remote(**wallet.OPTIONS)(wallet.WalletLedger)
    handles = [ledger.options(name=registry.wallet_ledger(i), namespace=registry.NAMESPACE,
                              lifetime="detached").remote(settings, i)
               for i in range(settings.WALLET_SHARDS)]
    ray.get([h.ping.remote() for h in handles])


async def fund(settings: Settings, url: str) -> list[int]:
    from actors.clients.wallet import Wallet

    with psycopg.connect(url) as conn:
        users = [row[0] for row in conn.execute(
            "INSERT INTO users (first_name) SELECT 'bench' FROM generate_series(1, %s) RETURNING id", (USERS,))]
    wallet = Wallet(settings)
    await asyncio.gather(*(wallet.top_up(u, FUNDS, f"bench-fund-{u}") for u in users))
    return users


async def run(settings: Settings, url: str, concurrency: list[int], seconds: float) -> None:
    users = await fund(settings, url)
    await wallet_rate(settings, users, 16, 1.0)  # warm-up
    print(f"wallet: {settings.WALLET_SHARDS} shard(s), batch max {settings.WALLET_BATCH_MAX}, "
          f"window {settings.WALLET_BATCH_WINDOW_MS} ms; {seconds:.0f} s per row; {os.cpu_count()} CPU(s)")
    print(f"{'clients':>7} | {'pairs/s':>9} {'p50 ms':>7} {'p99 ms':>7} | {'raw tx/s':>9} {'p50 ms':>7} "
          f"{'p99 ms':>7} | {'pairs/raw':>9}")
    for clients in concurrency:
        pairs, p50, p99 = await wallet_rate(settings, users, clients, seconds)
        raw, raw50, raw99 = await raw_rate(url, clients, seconds)
        print(f"{clients:>7} | {pairs:>9.0f} {p50:>7.2f} {p99:>7.2f} | {raw:>9.0f} {raw50:>7.2f} {raw99:>7.2f} | "
              f"{pairs / raw:>8.2f}x", flush=True)
    alone, python_us, backend_us = await store_alone(url, users, seconds)
    raw, _, _ = await raw_rate(url, 64, seconds)
    print(f"store alone (no Ray, one connection, batches of 64): {alone:.0f} pairs/s = {alone / raw:.2f}x raw at 64 "
          f"({raw:.0f} tx/s); CPU per pair: Python {python_us:.0f} µs, PostgreSQL backend "
          f"{'n/a (server not local)' if backend_us is None else f'{backend_us:.0f} µs'}", flush=True)
    if backend_us is not None:  # every core busy with nothing but the store's work: no wallet on it goes faster
        ceiling = (os.cpu_count() or 1) / ((python_us + backend_us) / 1e6)
        print(f"  ceiling if all {os.cpu_count()} cores did only that work: {ceiling:.0f} pairs/s = "
              f"{ceiling / raw:.2f}x raw", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,16,64")
    args = parser.parse_args()
    concurrency = [int(c) for c in args.clients.split(",")]
    with database() as url, tempfile.TemporaryDirectory(prefix="ustadh-bench-") as data_dir:
        migrate(url)
        settings = load_settings(_env_file=None, DATA_DIR=data_dir, DATABASE_URL=url, LOG_LEVEL="WARNING",
                                 RAY_NUM_CPUS=os.cpu_count() or 2)
        from core.logs import setup_logging

        setup_logging(settings, "bench")
        prepare_environment(settings)
        start_ray(settings, dashboard=False)
        import ray

        try:
            start_shards(settings)
            asyncio.run(run(settings, url, concurrency, args.seconds))
        finally:
            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
