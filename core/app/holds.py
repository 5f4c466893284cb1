"""What every billed request of the Tutor shares: the refusal that ends it early with a reason the
surface translates (`Refused`), and its reservation while the answer or quiz is made (`Hold`, the
one settle-or-void skeleton of answers and quizzes), keyed by a digest of what it asks."""
from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from core.ledger.model import Reservation
from core.retrieval.query import QueryError, parse


class Settles(Protocol):
    """Where a hold settles or gives back its reservation (`core.app.tutoring.Tutoring`)."""

    async def close(self, reservation: Reservation, actual: int, key: str) -> int: ...

    async def abandon(self, reservation: Reservation, key: str, user_id: int) -> None: ...


class Refused(Exception):
    """The request is turned down with a reason the caller translates for the learner."""

    def __init__(self, reason: str, detail: str = "", retry_after_s: int | None = None, *,
                 replayed: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.retry_after_s, self.replayed = reason, detail, retry_after_s, replayed

    def event(self) -> dict[str, Any]:
        return {"type": "refused", "reason": self.reason, "detail": self.detail,
                **({"retry_after_s": self.retry_after_s} if self.retry_after_s is not None else {}),
                **({"replayed": True} if self.replayed else {})}


class Hold:
    """A request's reservation while its answer or quiz is made: settled by `close` (what was used),
    kept as it is by `keep` (a replay, charged before), given back by `release`; whatever else ends
    the request (an error, a client gone mid-stream) gives back its credit and daily quota and
    records the failure. The one settle-or-void skeleton of answers and quizzes."""

    def __init__(self, app: Settles, reservation: Reservation, key: str, user_id: int,
                 failed: Callable[[], Awaitable[None]]) -> None:
        self.app, self.reservation, self.key, self.user_id, self.failed = app, reservation, key, user_id, failed
        self.resolved = False

    async def __aenter__(self) -> Hold:
        return self

    async def __aexit__(self, *_: object) -> None:
        if not self.resolved:
            await self.app.abandon(self.reservation, self.key, self.user_id)
            await self.failed()

    async def close(self, actual: int) -> int:
        charged = await self.app.close(self.reservation, actual, self.key)
        self.resolved = True
        return charged

    def keep(self) -> None:
        self.resolved = True

    async def release(self) -> None:
        await self.app.abandon(self.reservation, self.key, self.user_id)
        self.resolved = True


def digest(*parts: str) -> str:
    """A short fingerprint of what a request asks, kept in its reservation's purpose: the same
    idempotency key with other content then conflicts instead of replaying."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def parse_query(text: str) -> Any:
    try:
        return parse(text, 1, None)
    except QueryError as exc:
        raise Refused("bad_query", str(exc)) from None


