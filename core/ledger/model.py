"""The wallet's values as callers see them: Balance, Reservation, Movement (JSON round-trippable).

A Balance or Reservation answered for a request id the ledger had already seen carries
`replayed=True`: it is the stored outcome of the first request, not a second operation. The flag
is not part of the value (equality and JSON ignore it); surfaces show it to their callers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class Status(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Balance:
    """An account's sums in micro-credits: posted = credits - debits, available = posted - pending."""

    user_id: int
    credits: int
    debits: int
    pending: int
    replayed: bool = field(default=False, compare=False)

    @property
    def posted(self) -> int:
        return self.credits - self.debits

    @property
    def available(self) -> int:
        return self.credits - self.debits - self.pending

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "credits": self.credits, "debits": self.debits, "pending": self.pending,
                "posted": self.posted, "available": self.available}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Balance:
        return cls(data["user_id"], data["credits"], data["debits"], data["pending"])


@dataclass(frozen=True)
class Reservation:
    """A two-phase debit: pending, then resolved exactly once as posted, voided or expired."""

    id: UUID
    user_id: int
    amount: int
    settled_amount: int | None
    status: Status
    purpose: str
    request_id: str
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None
    replayed: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "user_id": self.user_id, "amount": self.amount,
                "settled_amount": self.settled_amount, "status": self.status.value, "purpose": self.purpose,
                "request_id": self.request_id, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reservation:
        resolved = data["resolved_at"]
        return cls(UUID(data["id"]), data["user_id"], data["amount"], data["settled_amount"], Status(data["status"]),
                   data["purpose"], data["request_id"], datetime.fromisoformat(data["created_at"]),
                   datetime.fromisoformat(data["expires_at"]),
                   datetime.fromisoformat(resolved) if resolved is not None else None)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Reservation:
        return cls(row["id"], row["user_id"], row["amount"], row["settled_amount"], Status(row["status"]),
                   row["purpose"], row["request_id"], row["created_at"], row["expires_at"], row["resolved_at"])


@dataclass(frozen=True)
class Movement:
    """One ledger entry of a user's history (credits, debits and the change of pending)."""

    id: int
    user_id: int
    kind: str
    credits: int
    debits: int
    pending_delta: int
    reservation_id: UUID | None
    request_id: str
    memo: str
    created_at: datetime
