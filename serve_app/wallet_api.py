"""HTTP surface of the wallet: a caller's balance and reservations, and admin top-ups.

Amounts are integer micro-credits in and out. A top-up is idempotent by its `request_id` (the
body field, else the `Idempotency-Key` header): retrying the same request never credits twice, and
its answer says `"replayed": true`; the same key with another amount or user is a 409.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from core.db.api_tokens import Principal
from core.ledger.model import Status
from serve_app import strict_json
from serve_app.deps import Resources, admin, principal, resources

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


@router.get("/balance")
async def balance(caller: Annotated[Principal, Depends(principal)], res: Annotated[Resources, Depends(resources)],
                  user_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> dict[str, Any]:
    return (await res.wallet.balance(_subject(caller, user_id))).to_json()


@router.get("/reservations")
async def reservations(caller: Annotated[Principal, Depends(principal)],
                       res: Annotated[Resources, Depends(resources)],
                       status: Status | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       user_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None) -> dict[str, Any]:
    found = await res.wallet.reservations(_subject(caller, user_id), status, limit=limit)
    return {"reservations": [r.to_json() for r in found]}


@router.post("/topup")
async def top_up(body: TopUpRequest, caller: Annotated[Principal, Depends(admin)],
                 res: Annotated[Resources, Depends(resources)],
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> dict[str, Any]:
    request_id = body.request_id or idempotency_key
    if request_id is None:
        raise HTTPException(422, "give request_id in the body or an Idempotency-Key header")
    after = await res.wallet.top_up(body.user_id, body.amount, f"http-topup:{request_id}",
                                    memo=body.memo or f"by user {caller.user_id}")
    return {**after.to_json(), "replayed": after.replayed}
