"""Web sources on every surface: add (or change), list, pause, resume, sync and follow a crawl.

The Crawler actor owns the rows and the crawls (`SourceRegistry`); this is the one home of what the
surfaces share around it: a sync asked while a crawl of the source runs follows that crawl instead
of failing, and following a crawl (bot progress message, CLI progress bar, an HTTP client's polling
of `GET /admin/sources/{name}`) reads the same status until the crawl ends, riding out a Crawler
restart. Errors are `core.scrape.sources.SourceError`s with a `code` (unknown, running, invalid).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from core.app.ports import SourceRegistry, Unavailable
from core.scrape.sources import LANGUAGES, NAME, CrawlRunning, SourceError, UnknownSource

__all__ = ["LANGUAGES", "NAME", "PAUSED_BY_ADMIN", "CrawlRunning", "SourceError", "SourceSettings", "Started",
           "UnknownSource", "WebSources"]  # the surfaces' whole view of sources
PAUSED_BY_ADMIN = "paused by an admin"
_SYNC_ATTEMPTS = 3


@dataclass(frozen=True)
class SourceSettings:
    """What an admin sets on a source (`core.scrape.sources.upsert_source` checks the values)."""

    seed_urls: list[str]
    sitemap_url: str | None = None
    allow_patterns: list[str] | None = None
    language_hint: str | None = None
    max_depth: int = 2
    page_budget: int = 100
    schedule_minutes: int | None = None
    visibility: str = "public"


@dataclass(frozen=True)
class Started:
    crawl: dict[str, Any]
    already_running: bool  # the sync found a crawl running and follows it


class WebSources:
    def __init__(self, registry: SourceRegistry) -> None:
        self.registry = registry

    async def add(self, name: str, settings: SourceSettings) -> tuple[dict[str, Any], bool]:
        """Create the source or replace its settings: (the source, created)."""
        saved = await self.registry.save(name, dict(settings.__dict__))
        return saved["source"], saved["created"]

    async def list(self) -> list[dict[str, Any]]:
        return await self.registry.list()

    async def pause(self, name: str, reason: str = PAUSED_BY_ADMIN) -> dict[str, Any]:
        """No scheduled syncs, and the running crawl (if any) stopped."""
        return await self.registry.pause(name, reason)

    async def resume(self, name: str) -> dict[str, Any]:
        return await self.registry.resume(name)

    async def status(self, name: str) -> dict[str, Any]:
        """{"source", "crawl"}: the source and its running or latest crawl."""
        return await self.registry.status(name)

    async def sync(self, name: str) -> Started:
        """Start a crawl (a paused source is resumed by it), or find the one that runs; when that one
        ends between the two (a small crawl takes well under a second), start the next."""
        for _ in range(_SYNC_ATTEMPTS - 1):
            try:
                return Started(await self.registry.sync(name), False)
            except CrawlRunning:
                running = (await self.registry.status(name))["crawl"]
                if running is not None and running["state"] == "running":
                    return Started(running, True)
        return Started(await self.registry.sync(name), False)

    async def follow(self, name: str, crawl_id: int, *, poll_s: float, limit_s: float
                     ) -> AsyncIterator[dict[str, Any]]:
        """The status of crawl `crawl_id` every `poll_s` until it ends (the last one yielded) or `limit_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while loop.time() < deadline:
            try:
                status = await self.registry.status(name)
            except Unavailable:
                status = None
            crawl = status and status["crawl"]
            if crawl is not None and crawl["id"] == crawl_id:
                yield status
                if crawl["state"] != "running":
                    return
            await asyncio.sleep(poll_s)
