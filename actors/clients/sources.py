"""Crawls: the client the bot, the HTTP API and the CLI use to reach the Crawler actor, the sources'
one writer (`core.app.ports.SourceRegistry`). `SourceError`s (UnknownSource, CrawlRunning, ...)
come back as themselves; a missing or dead actor as `CrawlerUnavailable`.
"""
from __future__ import annotations

from typing import Any

from actors import registry
from actors.clients.base import ActorClient
from core.app.ports import Unavailable
from core.scrape.sources import SourceError


class CrawlerUnavailable(Unavailable):
    """The crawler actor is not running (or restarting)."""


class Crawls(ActorClient):
    actor_name = registry.CRAWLER
    unavailable = CrawlerUnavailable
    passes = (SourceError,)

    async def sync(self, source_name: str) -> dict[str, Any]:
        return await self._call("sync", source_name)

    async def status(self, source_name: str) -> dict[str, Any]:
        return await self._call("status", source_name)

    async def pause(self, source_name: str, reason: str = "paused by an admin") -> dict[str, Any]:
        return await self._call("pause", source_name, reason)

    async def resume(self, source_name: str) -> dict[str, Any]:
        return await self._call("resume", source_name)

    async def save(self, source_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        return await self._call("save", source_name, settings)

    async def list(self) -> list[dict[str, Any]]:
        return await self._call("list")

    async def collection(self, name: str, visibility: str = "public") -> int:
        return await self._call("collection", name, visibility)
