"""Ingestion: the client the bot, the HTTP API and the CLI use to reach the Ingestor actor (its
jobs, and the reindex job: `core.app.ports.ReindexOwner`). A missing or dead actor is
`IngestionUnavailable`, so each surface can tell its user to try again later.
"""
from __future__ import annotations

from typing import Any

from actors import registry
from actors.clients.base import ActorClient
from core.app.ports import Unavailable


class IngestionUnavailable(Unavailable):
    """The ingestor is not running (or restarting); nothing was queued."""


class Ingestion(ActorClient):
    actor_name = registry.INGESTOR
    unavailable = IngestionUnavailable

    async def submit_file(self, data: bytes, filename: str | None, *, media_type: str | None = None,
                          uri: str | None = None, requested_by: int | None = None,
                          visibility: str = "public", source_id: int | None = None) -> dict[str, Any]:
        return await self._call("submit_file", data, filename, media_type=media_type, uri=uri,
                                requested_by=requested_by, visibility=visibility, source_id=source_id)

    async def submit_url(self, url: str, *, requested_by: int | None = None,
                         visibility: str = "public") -> dict[str, Any]:
        return await self._call("submit_url", url, requested_by=requested_by, visibility=visibility)

    async def job(self, job_id: str) -> dict[str, Any] | None:
        return await self._call("job", job_id)

    async def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        return await self._call("jobs", job_ids)

    async def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        return await self._call("recent", limit)

    async def start_reindex(self) -> dict[str, Any]:
        return await self._call("start_reindex")

    async def reindex_status(self) -> dict[str, Any] | None:
        return await self._call("reindex_status")
