"""The ledger state machine: a batch of commands applied in order to rows loaded (and locked) by
the store, in memory, with exact integer arithmetic.

Each command sees the effects of the commands before it in the batch and none of a failed one:
handlers check everything before they change anything (the one exception, a settle or void that
finds its reservation past its deadline, expires it first and then reports it expired). The batch
collects the rows to write back and the outcome of every command, in order.
"""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from core.ledger.commands import MAX_BIGINT, Command, ExpireDue, Grant, Mutation, Reserve, Settle, TopUp, Void
from core.ledger.errors import (
    AlreadyResolved,
    BalanceOverflow,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    ReservationExpired,
    SettleExceedsReserved,
    UnknownReservation,
    UnknownUser,
    error_from_json,
)
from core.ledger.model import Balance, Reservation, Status

Outcome = Balance | Reservation | int | LedgerError


@dataclass
class Account:
    user_id: int
    credits: int = 0
    debits: int = 0
    pending: int = 0

    @property
    def available(self) -> int:
        return self.credits - self.debits - self.pending

    def balance(self) -> Balance:
        return Balance(self.user_id, self.credits, self.debits, self.pending)


@dataclass(frozen=True)
class Entry:
    user_id: int
    kind: str
    credits: int
    debits: int
    pending_delta: int
    reservation_id: UUID | None
    request_id: str
    memo: str


@dataclass(frozen=True)
class Key:
    request_id: str
    operation: str
    fingerprint: str
    result: dict[str, Any]


@dataclass
class Batch:
    """Loaded rows in, rows to write out. `now` is the database clock at load time."""

    now: datetime
    users: set[int]
    accounts: dict[int, Account]
    reservations: dict[UUID, Reservation]
    keys: dict[str, Key]
    created_accounts: set[int] = field(default_factory=set)
    changed_accounts: set[int] = field(default_factory=set)
    created_reservations: set[UUID] = field(default_factory=set)
    changed_reservations: set[UUID] = field(default_factory=set)
    entries: list[Entry] = field(default_factory=list)
    new_keys: list[Key] = field(default_factory=list)

    def account(self, user_id: int) -> Account | None:
        return self.accounts.get(user_id)

    def entry(self, user_id: int, kind: str, request_id: str, *, credits: int = 0, debits: int = 0,
              pending_delta: int = 0, reservation_id: UUID | None = None, memo: str = "") -> None:
        self.entries.append(Entry(user_id, kind, credits, debits, pending_delta, reservation_id, request_id, memo))
        self.changed_accounts.add(user_id)


def apply_all(batch: Batch, commands: list[Command]) -> list[Outcome]:
    return [expire_due(batch, c) if isinstance(c, ExpireDue) else apply(batch, c) for c in commands]


def apply(batch: Batch, command: Mutation) -> Outcome:
    """One keyed command: the stored outcome for a known key, else run it and record the outcome."""
    known = batch.keys.get(command.request_id)
    if known is not None:
        if (known.operation, known.fingerprint) != (command.operation, command.fingerprint):
            return IdempotencyConflict(f"request id {command.request_id!r} was already used for a different "
                                       f"{known.operation}", operation=known.operation)
        return replayed(decode(known.result))
    try:
        outcome: Outcome = _HANDLERS[type(command)](batch, command)
    except LedgerError as error:
        if not error.recorded:
            return error
        outcome = error
    key = Key(command.request_id, command.operation, command.fingerprint, encode(outcome))
    batch.keys[key.request_id] = key
    batch.new_keys.append(key)
    return outcome


def encode(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, LedgerError):
        return {"error": outcome.to_json()}
    if isinstance(outcome, Reservation):
        return {"reservation": outcome.to_json()}
    assert isinstance(outcome, Balance)
    return {"balance": outcome.to_json()}


def decode(result: dict[str, Any]) -> Outcome:
    if "error" in result:
        return error_from_json(result["error"])
    if "reservation" in result:
        return Reservation.from_json(result["reservation"])
    return Balance.from_json(result["balance"])


def replayed(outcome: Outcome) -> Outcome:
    """A stored outcome answered again, marked as such (errors are answered as they were)."""
    if isinstance(outcome, Balance | Reservation):
        return dataclasses.replace(outcome, replayed=True)
    return outcome


def _credit(batch: Batch, command: TopUp | Grant) -> Balance:
    if command.user_id not in batch.users:
        raise UnknownUser(f"no user {command.user_id}")
    account = batch.account(command.user_id)
    if account is None:
        account = batch.accounts[command.user_id] = Account(command.user_id)
        batch.created_accounts.add(command.user_id)
    if account.credits + command.amount > MAX_BIGINT:
        raise BalanceOverflow(f"crediting {command.amount} would overflow the account of user {command.user_id}",
                              amount=command.amount)
    account.credits += command.amount
    batch.entry(account.user_id, command.operation, command.request_id, credits=command.amount, memo=command.memo)
    return account.balance()


def _reserve(batch: Batch, command: Reserve) -> Reservation:
    if command.user_id not in batch.users:
        raise UnknownUser(f"no user {command.user_id}")
    account = batch.account(command.user_id)
    available = account.available if account is not None else 0
    if account is None or available < command.amount:
        raise InsufficientFunds(f"user {command.user_id} has {available} micro-credits available, "
                                f"{command.amount} requested", available=available, requested=command.amount)
    reservation = Reservation(uuid.uuid4(), command.user_id, command.amount, None, Status.PENDING, command.purpose,
                              command.request_id, batch.now, batch.now + timedelta(seconds=command.ttl_s), None)
    batch.reservations[reservation.id] = reservation
    batch.created_reservations.add(reservation.id)
    account.pending += command.amount
    batch.entry(account.user_id, "reserve", command.request_id, pending_delta=command.amount,
                reservation_id=reservation.id)
    return reservation


def _pending(batch: Batch, command: Settle | Void) -> Reservation:
    """The command's reservation if still pending; resolved ones (and ones past deadline) raise."""
    reservation = batch.reservations.get(command.reservation_id)
    if reservation is None or reservation.user_id != command.user_id:
        raise UnknownReservation(f"no reservation {command.reservation_id} for user {command.user_id}")
    if reservation.status is not Status.PENDING:
        raise AlreadyResolved(f"reservation {reservation.id} is already {reservation.status.value}",
                              status=reservation.status.value)
    if reservation.expires_at <= batch.now:
        _resolve(batch, reservation, Status.EXPIRED, command.request_id)
        raise ReservationExpired(f"reservation {reservation.id} expired at {reservation.expires_at.isoformat()}",
                                 status=Status.EXPIRED.value)
    return reservation


def _settle(batch: Batch, command: Settle) -> Reservation:
    reservation = _pending(batch, command)
    if command.actual > reservation.amount:
        raise SettleExceedsReserved(f"cannot settle {command.actual}: only {reservation.amount} was reserved",
                                    reserved=reservation.amount, actual=command.actual)
    return _resolve(batch, reservation, Status.POSTED, command.request_id, command.actual)


def _void(batch: Batch, command: Void) -> Reservation:
    return _resolve(batch, _pending(batch, command), Status.VOIDED, command.request_id)


def _resolve(batch: Batch, reservation: Reservation, status: Status, request_id: str,
             actual: int | None = None) -> Reservation:
    account = batch.accounts[reservation.user_id]
    resolved = dataclasses.replace(reservation, status=status, settled_amount=actual, resolved_at=batch.now)
    batch.reservations[reservation.id] = resolved
    if reservation.id not in batch.created_reservations:
        batch.changed_reservations.add(reservation.id)
    account.pending -= reservation.amount
    account.debits += actual or 0
    kind = {Status.POSTED: "settle", Status.VOIDED: "void", Status.EXPIRED: "expire"}[status]
    batch.entry(account.user_id, kind, request_id, debits=actual or 0, pending_delta=-reservation.amount,
                reservation_id=reservation.id)
    return resolved


def expire_due(batch: Batch, command: ExpireDue) -> int:
    """Expire every loaded pending reservation due at `as_of` (the store loaded this shard's due ones)."""
    as_of = command.as_of or batch.now
    due = [r for r in batch.reservations.values() if r.status is Status.PENDING and r.expires_at <= as_of]
    for reservation in sorted(due, key=lambda r: (r.expires_at, r.id)):
        _resolve(batch, reservation, Status.EXPIRED, command.request_id)
    return len(due)


_HANDLERS: dict[type, Any] = {TopUp: _credit, Grant: _credit, Reserve: _reserve, Settle: _settle, Void: _void}
