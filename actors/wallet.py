"""WalletLedger: the single writer of one shard of the wallet tables, with group commit.

Each shard actor (`wallet_ledger_{i}`, see actors.registry) owns the accounts of the users that
`core.ledger.sharding.shard_of` maps to it. Mutations queue up; a committer task takes whatever is
queued (up to WALLET_BATCH_MAX, waiting at most WALLET_BATCH_WINDOW_MS for more), applies the batch
in one transaction, commits, and only then answers each caller: an acknowledged mutation is
durable. If the connection drops mid-batch nothing is acknowledged; the actor reconnects and runs
the same batch again (idempotency keys make a second run of a committed batch answer the stored
results), and after repeated failures answers WalletUnavailable, which callers retry with the same
request id. A sweep expires due reservations every WALLET_EXPIRY_SWEEP_S seconds (a
`core.schedules.Schedule`: its last run, next run and outcome are in the shard's health detail).
Metrics (Ray's, `ray_`-prefixed on `/metrics`): `ustadh_wallet_operations_total` by kind and
outcome ("ok" or the error), `ustadh_wallet_batch_commands` (group-commit size) and
`ustadh_wallet_commit_seconds` (a batch from its first try to its answer), tagged by shard.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from loguru import logger
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from actors.tracing import traced
from core.config import Settings
from core.db.roles import Role, role_url
from core.ledger import store
from core.ledger.commands import Command, ExpireDue, Mutation
from core.ledger.errors import LedgerError, WalletUnavailable, WrongShard
from core.ledger.machine import Outcome
from core.ledger.model import Balance, Movement, Reservation, Status
from core.ledger.sharding import Shard, shard_of
from core.logs import setup_logging
from core.request_id import current_request_id, new_request_id
from core.schedules import Result, Schedule

OPTIONS = {"num_cpus": 0.05, "max_restarts": -1, "max_task_retries": 0}
_COMMIT_ATTEMPTS = 4


class _Metrics:
    """The shard's Ray metrics, recorded once per batch (counts summed first: the hot path stays cheap)."""

    def __init__(self, shard: int) -> None:
        from ray.util import metrics

        tags = {"shard": str(shard)}
        self.operations = metrics.Counter("ustadh_wallet_operations", "Wallet operations by kind and outcome",
                                  tag_keys=("shard", "kind", "outcome"))
        self.batch = metrics.Histogram("ustadh_wallet_batch_commands", "Commands per group commit",
                               boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256], tag_keys=("shard",))
        self.commit = metrics.Histogram("ustadh_wallet_commit_seconds", "A batch's commit, from first try to answer",
                                boundaries=[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
                                tag_keys=("shard",))
        for metric in (self.operations, self.batch, self.commit):
            metric.set_default_tags(tags)

    def committed(self, commands: list[Command], outcomes: list[Outcome], seconds: float) -> None:
        kinds = Counter((type(c).__name__, "ok" if not isinstance(o, LedgerError) else type(o).__name__)
                        for c, o in zip(commands, outcomes))
        for (kind, outcome), count in kinds.items():
            self.operations.inc(count, tags={"kind": kind, "outcome": outcome})
        self.batch.observe(len(commands))
        self.commit.observe(seconds)


@dataclass
class _Queued:
    """One caller's commands, answered together once their batch has committed."""

    commands: list[Command]
    answer: asyncio.Future[list[Outcome]]


class WalletLedger:
    async def __init__(self, settings: Settings, shard: int) -> None:
        self.name = f"wallet_ledger_{shard}"
        setup_logging(settings, self.name)
        self.settings = settings
        self.url = role_url(settings.DATABASE_URL or "", Role.WALLET)
        self.shard = Shard(shard, settings.WALLET_SHARDS)
        self.queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self.metrics = _Metrics(shard)
        self.held: _Queued | None = None
        self.conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
        self.reads = AsyncConnectionPool(role_url(settings.DATABASE_URL or "", Role.WALLET), min_size=1, max_size=2, open=False,
                                         name=f"{self.name}-reads", timeout=10,
                                         kwargs={"row_factory": dict_row, "application_name": self.name})
        await self.reads.open(wait=False)
        self.committer = asyncio.create_task(self._commit_loop())
        self.sweep = Schedule("expire reservations", settings.WALLET_EXPIRY_SWEEP_S, self._sweep)
        self.sweeper = asyncio.create_task(self.sweep.forever())
        logger.info("wallet shard started", shard=shard, shards=settings.WALLET_SHARDS)

    @traced
    async def execute(self, commands: list[Mutation]) -> list[Outcome]:
        """Apply mutations (group-committed with everyone else's); one outcome each, errors as values.

        A command for a user of another shard is refused (WrongShard) and changes nothing: only a
        user's own shard may write their rows."""
        owned = [self._owns(command.user_id) for command in commands]
        mine = [command for command, own in zip(commands, owned) if own]
        done = iter(await self._submit(mine) if mine else [])
        return [next(done) if own else self._misrouted(command.user_id) for command, own in zip(commands, owned)]

    @traced
    async def expire_due(self, as_of: datetime | None = None) -> int:
        """Expire this shard's pending reservations due at `as_of` (default: now); returns how many."""
        expired = 0
        while True:
            sweep = ExpireDue(current_request_id() or new_request_id(), as_of)
            [count] = await self._submit([sweep])
            if isinstance(count, LedgerError):
                raise count
            assert isinstance(count, int)
            expired += count
            if count < sweep.limit:
                return expired

    @traced
    async def balance(self, user_id: int) -> Balance:
        async with self._reading() as conn:
            return await store.balance(conn, user_id)

    @traced
    async def reservation(self, reservation_id: UUID) -> Reservation:
        async with self._reading() as conn:
            return await store.reservation(conn, reservation_id)

    @traced
    async def reservations(self, user_id: int, status: Status | None, limit: int) -> list[Reservation]:
        async with self._reading() as conn:
            return await store.reservations(conn, user_id, status, limit)

    @traced
    async def movements(self, user_id: int, limit: int, before_id: int | None) -> list[Movement]:
        async with self._reading() as conn:
            return await store.movements(conn, user_id, limit, before_id)

    @traced
    async def ping(self) -> dict[str, Any]:
        """Health: the actor answers and its committer is alive."""
        alive = not self.committer.done()
        logger.info("ping", queued=self.queue.qsize(), committer=alive)
        return {"shard": self.shard.index, "shards": self.shard.count, "queued": self.queue.qsize(),
                "committer": "up" if alive else "down", "schedules": {self.sweep.name: self.sweep.status()}}

    def _owns(self, user_id: int) -> bool:
        return shard_of(user_id, self.shard.count) == self.shard.index

    def _misrouted(self, user_id: int) -> WrongShard:
        logger.error("command for another shard's user refused", user_id=user_id)
        return WrongShard(f"user {user_id} belongs to wallet shard {shard_of(user_id, self.shard.count)} of "
                          f"{self.shard.count}, not to shard {self.shard.index}: check WALLET_SHARDS")

    async def _submit(self, commands: list[Command]) -> list[Outcome]:
        answer: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Queued(commands, answer))
        return await answer

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """A read connection; a dropped one surfaces as WalletUnavailable (retryable)."""
        try:
            async with self.reads.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise WalletUnavailable(f"wallet read failed: {exc}") from None

    async def _commit_loop(self) -> None:
        while True:
            batch = await self._next_batch()
            commands = [command for queued in batch for command in queued.commands]
            started = time.perf_counter()
            try:
                outcomes = await self._commit(commands)
            except Exception as exc:
                logger.opt(exception=exc).error("batch failed", size=len(commands))
                error = exc if isinstance(exc, LedgerError) else WalletUnavailable(f"wallet shard failed: {exc}")
                outcomes = [error] * len(commands)
            self.metrics.committed(commands, outcomes, time.perf_counter() - started)
            at = 0
            for queued in batch:
                _answer(queued.answer, outcomes[at:at + len(queued.commands)])
                at += len(queued.commands)

    async def _next_batch(self) -> list[_Queued]:
        """Callers' command groups, whole, up to WALLET_BATCH_MAX commands or until the window closes.

        A group that would overflow the batch waits for the next one (a single group over the limit
        still goes, alone: the client never sends one)."""
        first, self.held = self.held or await self.queue.get(), None
        batch, size = [first], len(first.commands)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.WALLET_BATCH_WINDOW_MS / 1000
        while size < self.settings.WALLET_BATCH_MAX:
            queued = await self._queued_by(deadline)
            if queued is None:
                break
            if size + len(queued.commands) > self.settings.WALLET_BATCH_MAX:
                self.held = queued
                break
            batch.append(queued)
            size += len(queued.commands)
        return batch

    async def _queued_by(self, deadline: float) -> _Queued | None:
        if not self.queue.empty():
            return self.queue.get_nowait()
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), remaining)
        except TimeoutError:
            return None

    async def _commit(self, commands: list[Command]) -> list[Outcome]:
        """Run the batch, reconnecting and re-running it when the connection drops."""
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                conn = await self._connection()
                started = time.perf_counter()
                outcomes = await store.apply_batch(conn, self.shard, commands)
                logger.debug("batch committed", size=len(commands), ms=round((time.perf_counter() - started) * 1000, 2))
                return outcomes
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                logger.warning("database connection lost; re-running the batch", attempt=attempt, error=str(exc))
                await self._drop_connection()
                await asyncio.sleep(0.05 * attempt)
        raise WalletUnavailable(f"wallet shard {self.shard.index} cannot reach the database")

    async def _connection(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        if self.conn is None or self.conn.closed:
            self.conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                              row_factory=dict_row, application_name=self.name,
                                                              connect_timeout=5, options=store.CONNECTION_OPTIONS)
        return self.conn

    async def _drop_connection(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        self.conn = None

    async def _sweep(self) -> Result:
        expired = await self.expire_due()
        if expired:
            logger.info("reservations expired", count=expired)
        return Result(True, f"{expired} expired")


def _answer(future: asyncio.Future[list[Outcome]], outcomes: list[Outcome]) -> None:
    if not future.done():  # a caller that went away (cancelled) needs no answer
        future.set_result(outcomes)
