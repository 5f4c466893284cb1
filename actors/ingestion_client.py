"""Ingestion: the facade the bot, the HTTP API and the CLI use to reach the Ingestor actor.

It carries the request id (`actors.tracing.call`) and turns a missing or dead actor into
`IngestionUnavailable`, so each surface can tell its user to try again later.
"""
from __future__ import annotations

import asyncio
from typing import Any

from ray.exceptions import RayActorError

from actors import registry
from actors.tracing import call


class IngestionUnavailable(RuntimeError):
    """The ingestor is not running (or restarting); nothing was queued."""


class Ingestion:
    def __init__(self) -> None:
        self._handle: Any = None

    async def submit_file(self, data: bytes, filename: str | None, *, media_type: str | None = None,
                          uri: str | None = None, requested_by: int | None = None,
                          visibility: str = "public", source_id: int | None = None) -> dict[str, Any]:
        return await self._call("submit_file", data, filename, media_type=media_type, uri=uri,
                                requested_by=requested_by, visibility=visibility, source_id=source_id)

    async def source(self, name: str, visibility: str = "public") -> int:
        return await self._call("source", name, visibility)

    async def submit_url(self, url: str, *, requested_by: int | None = None,
                         visibility: str = "public") -> dict[str, Any]:
        return await self._call("submit_url", url, requested_by=requested_by, visibility=visibility)

    async def job(self, job_id: str) -> dict[str, Any] | None:
        return await self._call("job", job_id)

    async def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        return await self._call("jobs", job_ids)

    async def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        return await self._call("recent", limit)

    async def reindex_step(self, limit: int = 256) -> dict[str, Any]:
        """Embed up to `limit` chunks the current model has no vector for (0: only count them); the
        collection becomes the one readers use once none is left. {"collection", "done", "remaining", "active"}."""
        return await self._call("reindex_step", limit)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._handle is None:
                self._handle = await asyncio.to_thread(registry.get, registry.INGESTOR)
            return await call(getattr(self._handle, method), *args, **kwargs)
        except (RayActorError, ValueError) as exc:
            self._handle = None
            raise IngestionUnavailable(f"the ingestor is not available: {exc}") from None
