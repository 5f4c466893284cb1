"""Wallet: the client the bot, the HTTP API and the CLI use to reach the wallet shard actors
(`core.app.ports.Ledger`). Its handles are found as every client's (`actors.clients.base.actor`),
one per shard; its failure handling is its own: retried, not mapped to unavailable at once.

Each call goes to the shard that owns the user (`shard_of`), carries the current request id for
the logs (`actors.tracing.call`), and is retried with the same arguments, hence the same
idempotency key, while the shard is dead, restarting or cannot reach the database, for up to
WALLET_RETRY_S seconds. Typed ledger errors come back as themselves, not wrapped by Ray.

Mutations are batched on this side too, like TigerBeetle's clients do: the mutations that callers
in this process send to one shard while a call to it is in flight travel together in the next
call. A Ray actor call costs milliseconds of CPU; one call per request would cap the wallet far
below the database's commit rate, one call per batch does not.

The `request_id` of a mutation is its idempotency key: one key per intended operation (derive
distinct keys for several operations of one request, e.g. f"{rid}:reserve" and f"{rid}:settle").
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from ray.exceptions import RayActorError, RayTaskError

from actors import registry
from actors.clients.base import actor
from actors.tracing import call
from core.config import Settings
from core.ledger.commands import Grant, Mutation, Reserve, Settle, TopUp, Void, check_user_id, parse_reservation_id
from core.ledger.errors import InvalidArgument, LedgerError, WalletUnavailable
from core.ledger.machine import Outcome
from core.ledger.model import Balance, Movement, Reservation, Status
from core.ledger.sharding import shard_of

T = TypeVar("T")
MAX_PAGE = 500


class _Outbox:
    """The mutations waiting for one shard, sent in one call whenever no call is in flight."""

    def __init__(self, send: Callable[[list[Mutation]], Awaitable[list[Outcome]]], limit: int) -> None:
        self.send = send
        self.limit = limit
        self.loop = asyncio.get_running_loop()
        self.waiting: list[tuple[Mutation, asyncio.Future[Outcome]]] = []
        self.sender: asyncio.Task[None] | None = None

    async def submit(self, command: Mutation) -> Outcome:
        answer: asyncio.Future[Outcome] = self.loop.create_future()
        self.waiting.append((command, answer))
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:self.limit], self.waiting[self.limit:]
            try:
                outcomes = await self.send([command for command, _ in batch])
            except Exception as exc:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, answer), outcome in zip(batch, outcomes):
                if not answer.done():
                    answer.set_result(outcome)


class Wallet:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shards = settings.WALLET_SHARDS
        self.handles: dict[int, Any] = {}
        self.outboxes: dict[int, _Outbox] = {}

    async def top_up(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance:
        """Credit `amount` micro-credits (creates the account on first credit); the balance after it."""
        return await self._execute(TopUp(user_id, amount, request_id, memo))  # type: ignore[return-value]

    async def grant(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance:
        """A tier grant: like top_up, recorded as kind 'grant'."""
        return await self._execute(Grant(user_id, amount, request_id, memo))  # type: ignore[return-value]

    async def reserve(self, user_id: int, amount: int, request_id: str, *, ttl_s: float | None = None,
                      purpose: str = "") -> Reservation:
        """Hold `amount` until settled, voided or expired (after `ttl_s`, default WALLET_RESERVATION_TTL_S)."""
        ttl = self.settings.WALLET_RESERVATION_TTL_S if ttl_s is None else ttl_s
        return await self._execute(Reserve(user_id, amount, request_id, ttl, purpose))  # type: ignore[return-value]

    async def settle(self, reservation: Reservation, actual: int, request_id: str) -> Reservation:
        """Post `actual` <= reserved micro-credits; the rest returns to the account."""
        command = Settle(reservation.id, reservation.user_id, actual, request_id)
        return await self._execute(command)  # type: ignore[return-value]

    async def void(self, reservation: Reservation, request_id: str) -> Reservation:
        """Release the whole reservation."""
        return await self._execute(Void(reservation.id, reservation.user_id, request_id))  # type: ignore[return-value]

    async def balance(self, user_id: int) -> Balance:
        check_user_id(user_id)
        return await self._retrying(shard_of(user_id, self.shards), lambda h: call(h.balance, user_id))

    async def reservation(self, reservation_id: str | UUID) -> Reservation:
        """Look a reservation up by id (e.g. one named in an HTTP request)."""
        rid = parse_reservation_id(reservation_id)
        return await self._retrying(0, lambda h: call(h.reservation, rid))

    async def reservations(self, user_id: int, status: Status | str | None = None, *,
                           limit: int = 50) -> list[Reservation]:
        """A user's reservations, newest first, optionally only those of one status."""
        check_user_id(user_id)
        wanted = _status(status)
        return await self._retrying(shard_of(user_id, self.shards),
                                    lambda h: call(h.reservations, user_id, wanted, _page(limit)))

    async def movements(self, user_id: int, *, limit: int = 50, before_id: int | None = None) -> list[Movement]:
        """A user's ledger history, newest first; pass the last id seen as `before_id` for the next page."""
        check_user_id(user_id)
        if before_id is not None and (type(before_id) is not int or before_id < 1):
            raise InvalidArgument(f"before_id must be a positive integer, got {before_id!r}")
        return await self._retrying(shard_of(user_id, self.shards),
                                    lambda h: call(h.movements, user_id, _page(limit), before_id))

    async def expire_due(self, as_of: datetime | None = None) -> int:
        """Expire due reservations on every shard now (each shard also sweeps by itself); how many."""
        counts = await asyncio.gather(*(self._retrying(i, lambda h: call(h.expire_due, as_of))
                                        for i in range(self.shards)))
        return sum(counts)

    async def _execute(self, command: Mutation) -> Balance | Reservation:
        outcome = await self._retrying(shard_of(command.user_id, self.shards),
                                       lambda _: self._outbox(command.user_id).submit(command))
        assert isinstance(outcome, Balance | Reservation)
        return outcome

    def _outbox(self, user_id: int) -> _Outbox:
        shard = shard_of(user_id, self.shards)
        outbox = self.outboxes.get(shard)
        if outbox is None or outbox.loop is not asyncio.get_running_loop():
            outbox = self.outboxes[shard] = _Outbox(lambda batch: self._send(shard, batch),
                                                    self.settings.WALLET_BATCH_MAX)
        return outbox

    async def _send(self, shard: int, batch: list[Mutation]) -> list[Outcome]:
        return await call((await self._handle(shard)).execute, batch)  # type: ignore[no-any-return]

    async def _retrying(self, shard: int, send: Callable[[Any], Awaitable[T]]) -> T:
        """Send to the shard until it answers; the same arguments each time, so retries are idempotent.

        Ledger errors, whether raised by the actor or returned as a batch outcome, are raised as
        themselves; retryable ones (and a dead or restarting actor) are retried until the deadline.
        """
        deadline = time.monotonic() + self.settings.WALLET_RETRY_S
        pause = 0.05
        while True:
            try:
                answer = await send(await self._handle(shard))
            except RayTaskError as exc:
                answer = exc.cause
                if not isinstance(answer, LedgerError):
                    raise
            except (RayActorError, ValueError) as exc:  # ValueError: no actor by that name (yet)
                answer = WalletUnavailable(str(exc))
            if not isinstance(answer, LedgerError):
                return answer
            if not answer.retryable:
                raise answer
            if time.monotonic() + pause > deadline:
                raise WalletUnavailable(f"wallet shard {shard} did not answer within "
                                        f"{self.settings.WALLET_RETRY_S:.0f} s: {answer}") from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def _handle(self, shard: int) -> Any:
        if shard not in self.handles:
            self.handles[shard] = await actor(registry.wallet_ledger(shard))
        return self.handles[shard]


def _status(value: Status | str | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise InvalidArgument(f"status must be one of {', '.join(s.value for s in Status)}, got {value!r}") from None


def _page(limit: int) -> int:
    if type(limit) is not int or not 0 < limit <= MAX_PAGE:
        raise InvalidArgument(f"limit must be an integer in [1, {MAX_PAGE}], got {limit!r}")
    return limit
