"""Typed wallet errors, each with a stable `code` for translation and API responses.

`recorded` errors are rejections by the state of the ledger (not enough funds, already resolved):
their outcome is stored under the request id, so a retry answers the same error even if the state
has changed since. Every other error changes nothing and records nothing. `retryable` errors mean
the wallet could not answer; retrying with the same request id is safe.
"""
from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ledger_error"
    recorded = False
    retryable = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_json() == self.to_json()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.code, self.message))


class InvalidArgument(LedgerError):
    code = "invalid_argument"


class InvalidAmount(InvalidArgument):
    code = "invalid_amount"


class InvalidId(InvalidArgument):
    code = "invalid_id"


class UnknownUser(LedgerError):
    code = "unknown_user"


class UnknownReservation(LedgerError):
    code = "unknown_reservation"


class UnknownTier(LedgerError):
    code = "unknown_tier"


class UnknownModel(LedgerError):
    code = "unknown_model"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"
    recorded = True


class BalanceOverflow(LedgerError):
    code = "balance_overflow"
    recorded = True


class AlreadyResolved(LedgerError):
    code = "already_resolved"
    recorded = True


class ReservationExpired(AlreadyResolved):
    code = "reservation_expired"


class SettleExceedsReserved(LedgerError):
    code = "settle_exceeds_reserved"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class InternalError(LedgerError):
    """The database rejected a command the ledger accepted: a bug, reported instead of hidden."""

    code = "internal_error"


class WalletUnavailable(LedgerError):
    code = "wallet_unavailable"
    retryable = True


class WrongShard(WalletUnavailable):
    """A command reached a shard actor that does not own its user: the caller's WALLET_SHARDS differs
    from the running system's. Retrying cannot help; the configuration must."""

    code = "wrong_shard"
    retryable = False


def _all_subclasses(cls: type[LedgerError]) -> list[type[LedgerError]]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _all_subclasses(child)]


ERRORS: dict[str, type[LedgerError]] = {cls.code: cls for cls in _all_subclasses(LedgerError)}


def error_from_json(data: dict[str, Any]) -> LedgerError:
    """The error stored by `LedgerError.to_json`, rebuilt with its class."""
    return ERRORS[data["code"]](data["message"], **data.get("details", {}))
