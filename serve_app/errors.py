"""Typed domain errors as HTTP answers: a status and a JSON body with a stable code, never a 500."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from core.app.accounts import AccountError
from core.ledger import errors as ledger

STATUS: dict[type[ledger.LedgerError], int] = {
    ledger.InvalidArgument: 422,
    ledger.UnknownTier: 422,
    ledger.UnknownModel: 422,
    ledger.SettleExceedsReserved: 422,
    ledger.UnknownUser: 404,
    ledger.UnknownReservation: 404,
    ledger.InsufficientFunds: 402,
    ledger.AlreadyResolved: 409,
    ledger.IdempotencyConflict: 409,
    ledger.BalanceOverflow: 409,
    ledger.WalletUnavailable: 503,
}


def status_of(error: ledger.LedgerError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def ledger_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ledger.LedgerError)
    return JSONResponse({"error": error.code, "message": error.message}, status_code=status_of(error))


ACCOUNT_STATUS = {"unknown_user": 404, "username_taken": 409}


async def account_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AccountError)
    return JSONResponse({"error": error.code, "message": str(error)}, status_code=ACCOUNT_STATUS.get(error.code, 422))
