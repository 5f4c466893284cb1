"""Fetch one web page for a crawl, politely, through the system's guarded fetcher.

This module owns what a crawl adds to `core.web.fetch.GuardedFetcher` (which checks every hop
against the SSRF guard, at connect time too, and follows redirects by hand, at most
SCRAPE_MAX_REDIRECTS times). `PageFetcher.get(url)`:

1. before each hop: robots.txt (`RobotsPolicy`; robots.txt itself is fetched through the same
   guarded fetcher, paced, first 512 KiB), then the host's slot (`HostPacer`, the longer of
   SCRAPE_HOST_DELAY_S and the site's Crawl-delay up to 60 s);
2. sends the request with `If-None-Match` / `If-Modified-Since` when given;
3. checks the status, the content type and the size (Content-Length, then while streaming).

Failures are `core.web.fetch.FetchError` (re-exported here), the one fetch error of the system.
"""
from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis
from aiohttp import hdrs

from core.config import Settings
from core.scrape.politeness import HostPacer
from core.scrape.robots import MAX_BYTES as ROBOTS_MAX_BYTES
from core.scrape.robots import RobotsPolicy
from core.web.fetch import CHUNK_BYTES, FetchError, GuardedFetcher, read_capped
from core.web.guard import split_origin

__all__ = ["CONTENT_TYPES", "FetchError", "Page", "PageFetcher"]
CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml"})
MAX_CRAWL_DELAY_S = 60.0
_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,text/plain;q=0.8"


@dataclass(frozen=True)
class Page:
    """A fetched page. `url` is the final URL after redirects; a 304 answer to a conditional request
    has `not_modified=True`, an empty body and the validators that were sent (or new ones)."""

    url: str
    status: int
    content_type: str  # media type only, lower-case ("text/html"); "" for a 304
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    charset: str | None = None  # from the Content-Type header, when the server named one


class PageFetcher:
    """Fetches pages for crawls; one instance per process or actor (it holds a connection pool).
    Use `async with PageFetcher(...)` or call `close()`."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self._settings = settings
        self._pacer = HostPacer(redis, settings.SCRAPE_HOST_DELAY_S)
        self.robots = RobotsPolicy(self._fetch_robots, settings.SCRAPE_USER_AGENT)
        self._fetcher = GuardedFetcher(allow=settings.SCRAPE_ALLOW, user_agent=settings.SCRAPE_USER_AGENT,
                                       timeout_s=settings.SCRAPE_TIMEOUT_S,
                                       max_redirects=settings.SCRAPE_MAX_REDIRECTS, accept=_ACCEPT)

    async def __aenter__(self) -> PageFetcher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._fetcher.close()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET `url` as a crawl does; raises FetchError."""
        headers: dict[str, str] = {}
        if etag:
            headers[hdrs.IF_NONE_MATCH] = etag
        if last_modified:
            headers[hdrs.IF_MODIFIED_SINCE] = last_modified
        page = await self._fetcher.fetch(url, self._read_page, headers=headers, before_hop=self._polite)
        if page.not_modified:
            return Page(page.url, page.status, "", b"", page.etag or etag,
                        page.last_modified or last_modified, True, None)
        return page

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        return await self._fetcher.fetch(url, _read_robots, before_hop=self._paced)

    async def _polite(self, url: str) -> None:
        """Before each hop of a page fetch: robots.txt must allow it, then the host's slot."""
        if not await self.robots.allowed(url):
            failure = self.robots.failure(url)  # a site that is down may allow it later
            raise FetchError("robots", f"{url}: {failure or 'robots.txt disallows it'}.",
                             retryable=failure is not None)
        asked = await self.robots.crawl_delay(url)
        await self._pacer.wait(split_origin(url)[0],
                               max(self._settings.SCRAPE_HOST_DELAY_S, min(asked or 0.0, MAX_CRAWL_DELAY_S)))

    async def _paced(self, url: str) -> None:
        await self._pacer.wait(split_origin(url)[0], self._settings.SCRAPE_HOST_DELAY_S)

    async def _read_page(self, response: aiohttp.ClientResponse) -> Page:
        final = str(response.url)
        etag, modified = response.headers.get(hdrs.ETAG), response.headers.get(hdrs.LAST_MODIFIED)
        if response.status == 304:
            return Page(final, 304, "", b"", etag, modified, True)
        if not 200 <= response.status < 300:
            retryable = response.status >= 500 or response.status == 429
            raise FetchError("http_status", f"{final} answered HTTP {response.status} {response.reason}.",
                             retryable=retryable, status=response.status)
        media_type = response.content_type.lower() if hdrs.CONTENT_TYPE in response.headers else ""
        if media_type not in CONTENT_TYPES:
            raise FetchError("content_type", f"{final} is {media_type or 'of no declared type'}, not a web page.")
        max_bytes = self._settings.scrape_max_page_bytes
        body = await read_capped(response, max_bytes, f"{max_bytes:,}-byte")
        return Page(final, response.status, media_type, body, etag, modified, False, response.charset)


async def _read_robots(response: aiohttp.ClientResponse) -> tuple[int, bytes]:
    """robots.txt: status and the first 512 KiB of the body (the rest is ignored, per RFC 9309)."""
    body = bytearray()
    if 200 <= response.status < 300:
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            body += chunk
            if len(body) >= ROBOTS_MAX_BYTES:
                break
    return response.status, bytes(body[:ROBOTS_MAX_BYTES])
