"""Wallet commands: validated on construction, fingerprinted for idempotency.

A command that constructs is well formed (positive integer amounts that fit in BIGINT, valid ids,
bounded text and ttl); bad input raises a typed error before anything is sent or written. The
`request_id` of a mutating command is its idempotency key: the same key with the same arguments
(same fingerprint) answers the stored result, with other arguments an IdempotencyConflict.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from core.ledger.errors import InvalidAmount, InvalidArgument, InvalidId

MAX_BIGINT = 2**63 - 1
MAX_TTL_S = 30 * 24 * 3600.0
MAX_TEXT = 200
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def check_amount(value: object, name: str = "amount", *, allow_zero: bool = False) -> int:
    if type(value) is not int:
        raise InvalidAmount(f"{name} must be an integer number of micro-credits, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(f"{name} must be {'zero or more' if allow_zero else 'positive'}, got {value}")
    if value > MAX_BIGINT:
        raise InvalidAmount(f"{name} {value} exceeds the largest storable amount {MAX_BIGINT}")
    return value


def check_user_id(value: object) -> int:
    if type(value) is not int or not 0 < value <= MAX_BIGINT:
        raise InvalidId(f"user id must be a positive 64-bit integer, got {value!r}")
    return value


def check_request_id(value: object) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise InvalidId(f"request id must be 1-128 characters of A-Z a-z 0-9 . _ : -, got {value!r}")
    return value


def check_text(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidArgument(f"{name} must be text of at most {MAX_TEXT} characters")
    return value


def check_ttl(value: object) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 < value <= MAX_TTL_S:  # type: ignore[arg-type]
        raise InvalidArgument(f"ttl must be a number of seconds in (0, {MAX_TTL_S:.0f}], got {value!r}")
    return float(value)  # type: ignore[arg-type]


def parse_reservation_id(value: object) -> UUID:
    """A reservation id from a UUID or its text; InvalidId otherwise."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidId(f"reservation id must be a UUID, got {value!r}")


def check_reservation_id(value: object) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidId(f"reservation id must be a UUID, got {value!r}")
    return value


class _Keyed:
    """A mutating command with an idempotency key and a fingerprint of its arguments."""

    operation = ""
    request_id: str

    @property
    def fingerprint(self) -> str:
        text = json.dumps([self.operation, vars(self)], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Credit(_Keyed):
    user_id: int
    amount: int
    request_id: str
    memo: str = ""

    def __post_init__(self) -> None:
        check_user_id(self.user_id)
        check_amount(self.amount)
        check_request_id(self.request_id)
        check_text(self.memo, "memo")


@dataclass(frozen=True)
class TopUp(_Credit):
    """Credits bought or given by an admin."""

    operation = "top_up"


@dataclass(frozen=True)
class Grant(_Credit):
    """Credits granted by the user's tier (e.g. the monthly grant)."""

    operation = "grant"


@dataclass(frozen=True)
class Reserve(_Keyed):
    """Hold `amount` for `ttl_s` seconds: pending until settled, voided or expired."""

    user_id: int
    amount: int
    request_id: str
    ttl_s: float
    purpose: str = ""
    operation = "reserve"

    def __post_init__(self) -> None:
        check_user_id(self.user_id)
        check_amount(self.amount)
        check_request_id(self.request_id)
        object.__setattr__(self, "ttl_s", check_ttl(self.ttl_s))  # 300 and 300.0 fingerprint alike
        check_text(self.purpose, "purpose")


@dataclass(frozen=True)
class Settle(_Keyed):
    """Post `actual` (<= reserved) of a pending reservation; the remainder returns."""

    reservation_id: UUID
    user_id: int
    actual: int
    request_id: str
    operation = "settle"

    def __post_init__(self) -> None:
        check_reservation_id(self.reservation_id)
        check_user_id(self.user_id)
        check_amount(self.actual, "actual", allow_zero=True)
        check_request_id(self.request_id)


@dataclass(frozen=True)
class Void(_Keyed):
    """Release a pending reservation in full."""

    reservation_id: UUID
    user_id: int
    request_id: str
    operation = "void"

    def __post_init__(self) -> None:
        check_reservation_id(self.reservation_id)
        check_user_id(self.user_id)
        check_request_id(self.request_id)


@dataclass(frozen=True)
class ExpireDue:
    """Expire a shard's pending reservations whose deadline is at or before `as_of` (default: now).

    Not keyed: expiring is idempotent by nature. `as_of` lets tests and replays move time
    deterministically; the sweep and `ustadh jobs expire` leave it unset.
    """

    request_id: str
    as_of: datetime | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise InvalidArgument("as_of must carry a time zone")


Mutation = TopUp | Grant | Reserve | Settle | Void
Command = Mutation | ExpireDue
