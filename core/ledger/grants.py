"""Monthly tier grants: each tier's credit grant, given once per user, tier and calendar month.

The grant's request id names the user, the month and the tier, so asking for it again in the same
month is an idempotent no-op in the ledger; callers may ask as often as they like.
"""
from __future__ import annotations

from datetime import UTC, datetime

from core.ledger.tiers import tier


def grant_request_id(user_id: int, tier_name: str, now: datetime | None = None) -> str:
    month = (now or datetime.now(UTC)).strftime("%Y-%m")
    return f"grant:{user_id}:{month}:{tier_name}"


def monthly_grant(tier_name: str) -> int:
    return tier(tier_name).monthly_grant
