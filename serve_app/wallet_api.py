"""HTTP surface of the wallet: a caller's balance and reservations, and admin top-ups.

Amounts are integer micro-credits in and out. A top-up is idempotent by its `request_id` (the
body field, else the `Idempotency-Key` header): retrying the same request never credits twice, and
its answer says `"replayed": true`; the same key with another amount or user is a 409.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from core.ledger.model import Status
from core.user import User
from serve_app import strict_json
from serve_app.deps import Admin, Caller, Principal, Res, Resources

router = strict_json.router(prefix="/wallet", tags=["wallet"])
MAX_MICRO = 2**63 - 1


class TopUpRequest(BaseModel):
    """Strict: an amount or id must be a JSON integer, never "100", true or 100.0."""

    model_config = ConfigDict(strict=True)

    user_id: int = Field(gt=0, lt=2**63, description="Ustadh user id")
    amount: int = Field(gt=0, le=MAX_MICRO, description="micro-credits (1 credit = 1,000,000)")
    request_id: str | None = Field(None, min_length=1, max_length=200)
    memo: str = Field("", max_length=500)


def _subject(caller: Principal, user_id: int | None) -> int:
    """Whose wallet: the caller's own, or any user's for an admin who names one."""
    return user_id if user_id is not None and caller.is_admin else caller.user_id


class BalanceOut(BaseModel):
    """Micro-credits; `available` = `posted` - `pending`."""

    user_id: int
    credits: int
    debits: int
    pending: int
    posted: int
    available: int


class MovementOut(BaseModel):
    id: int
    kind: str
    credits: int
    debits: int
    pending_delta: int
    memo: str
    created_at: datetime


class HistoryOut(BaseModel):
    movements: list[MovementOut]


class TopUpOut(BalanceOut):
    replayed: bool = Field(description="this request id credited before: nothing was credited again")


class ReservationOut(BaseModel):
    id: str
    user_id: int
    amount: int = Field(description="micro-credits held")
    settled_amount: int | None = Field(description="micro-credits posted when settled")
    status: Status
    purpose: str
    request_id: str
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None


class ReservationsOut(BaseModel):
    reservations: list[ReservationOut]


async def _wallet_of(caller: Principal, user_id: int | None, res: Resources) -> User:
    """The user whose wallet is asked for, with their current tier (whose grant is claimed)."""
    return await (await res.accounts()).get(_subject(caller, user_id))


@router.get("/balance")
async def balance(caller: Caller, res: Res,
                  user_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> BalanceOut:
    """The balance, after this month's tier grant is claimed (as the bot's /balance does)."""
    subject = await _wallet_of(caller, user_id, res)
    return BalanceOut(**(await res.wallets.balance(subject.id, subject.tier)).to_json())


@router.get("/history")
async def history(caller: Caller, res: Res, limit: Annotated[int, Query(ge=1, le=200)] = 20,
                  before_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
                  user_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> HistoryOut:
    """Ledger movements, newest first; page with `before_id` (the last id seen)."""
    subject = await _wallet_of(caller, user_id, res)
    found = await res.wallets.history(subject.id, subject.tier, limit=limit, before_id=before_id)
    return HistoryOut(movements=[MovementOut(id=m.id, kind=m.kind, credits=m.credits, debits=m.debits,
                                             pending_delta=m.pending_delta, memo=m.memo, created_at=m.created_at)
                                 for m in found])


@router.get("/reservations")
async def reservations(caller: Caller,
                       res: Res,
                       status: Status | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       user_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> ReservationsOut:
    found = await res.wallet.reservations(_subject(caller, user_id), status, limit=limit)
    return ReservationsOut(reservations=[ReservationOut.model_validate(r.to_json()) for r in found])


@router.post("/topup")
async def top_up(body: TopUpRequest, caller: Admin,
                 res: Res,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> TopUpOut:
    request_id = body.request_id or idempotency_key
    if request_id is None:
        raise HTTPException(422, "give request_id in the body or an Idempotency-Key header")
    credited = await (await res.top_ups()).credit(f"#{body.user_id}", body.amount, f"http:{request_id}",
                                                  by=f"user {caller.user_id}", memo=body.memo or "")
    return TopUpOut(**credited.balance.to_json(), replayed=credited.balance.replayed)
