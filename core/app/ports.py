"""The ports the use cases need, as Protocols: what the wallet ledger, the sources' owner and the
reindex job's owner offer.

`actors.clients.wallet.Wallet` implements `Ledger` over the shard actors, `actors.clients.sources.Crawls`
`SourceRegistry` over the Crawler actor, `actors.clients.ingestion.Ingestion` `ReindexOwner` over the
Ingestor; a use case sees only these.
"""
from __future__ import annotations

from typing import Any, Protocol

from core.ledger.model import Balance, Movement, Reservation


class Ledger(Protocol):
    async def grant(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance: ...

    async def top_up(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance: ...

    async def balance(self, user_id: int) -> Balance: ...

    async def movements(self, user_id: int, *, limit: int = 50, before_id: int | None = None) -> list[Movement]: ...

    async def reserve(self, user_id: int, amount: int, request_id: str, *, ttl_s: float | None = None,
                      purpose: str = "") -> Reservation: ...

    async def settle(self, reservation: Reservation, actual: int, request_id: str) -> Reservation: ...

    async def void(self, reservation: Reservation, request_id: str) -> Reservation: ...

    async def reservation(self, reservation_id: str) -> Reservation: ...


class Unavailable(RuntimeError):
    """A port's owner cannot be reached now (an actor restarting); nothing was done, try again later."""


class SourceRegistry(Protocol):
    """The sources' one writer (the Crawler actor, through `actors.clients.sources.Crawls`)."""

    async def save(self, source_name: str, settings: dict[str, Any]) -> dict[str, Any]: ...

    async def list(self) -> list[dict[str, Any]]: ...

    async def pause(self, source_name: str, reason: str = ...) -> dict[str, Any]: ...

    async def resume(self, source_name: str) -> dict[str, Any]: ...

    async def sync(self, source_name: str) -> dict[str, Any]: ...

    async def status(self, source_name: str) -> dict[str, Any]: ...


class ReindexOwner(Protocol):
    """The reindex job's owner (the Ingestor actor, through `actors.clients.ingestion.Ingestion`)."""

    async def start_reindex(self) -> dict[str, Any]: ...

    async def reindex_status(self) -> dict[str, Any] | None: ...


class Retriever(Protocol):
    """The Retriever (the Serve deployment's handle, in `serve_app.tutor`)."""

    async def retrieve(self, text: str, k: int, tier: str, source_ids: list[int] | None,
                       request_id: str) -> list[dict[str, Any]]: ...


class TutorMetrics(Protocol):
    """Where the Tutor counts what it made (Ray's metrics in the deployment)."""

    def made(self, kind: str, mode: str, *, breaker_open: bool) -> None: ...

    def billed(self, kind: str, tokens_in: int, tokens_out: int, charged: int) -> None: ...

    def first_token(self, seconds: float) -> None: ...


class JobOwner(Protocol):
    """The ingestion jobs' owner (the Ingestor actor, through `actors.clients.ingestion.Ingestion`)."""

    async def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]: ...
