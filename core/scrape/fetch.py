"""Fetch one web page for a crawl, politely and safely, with conditional requests.

This module owns the crawl's HTTP exchange and its failure codes (`FetchError.reason`, and
`retryable`, which says whether a later sync may succeed). `PageFetcher.get(url)`:

1. for each hop: checks the URL with `AddressGuard`, then robots.txt (`RobotsPolicy`; robots.txt
   itself is fetched through this fetcher: guarded, paced, first 512 KiB), waits for the host's
   slot (`HostPacer`, the longer of SCRAPE_HOST_DELAY_S and the site's Crawl-delay up to 60 s),
   sends the request with `If-None-Match` / `If-Modified-Since` when given; a redirect
   (301/302/303/307/308) is followed by hand, at most SCRAPE_MAX_REDIRECTS times;
2. checks the status, the content type and the size (Content-Length, then while streaming).

Connections go through `GuardedResolver`, so a DNS answer that changes after the check is still
refused. aiohttp is the HTTP client of the whole system (bot, ingestion); its own redirect
following is off because every hop must pass the guard and robots.txt first.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
import redis.asyncio as aioredis
from aiohttp import hdrs
from loguru import logger

from core.config import Settings
from core.scrape.guard import AddressGuard, Blocked, GuardedResolver, split_origin
from core.scrape.politeness import HostPacer
from core.scrape.robots import MAX_BYTES as ROBOTS_MAX_BYTES
from core.scrape.robots import RobotsPolicy

Reason = Literal["robots", "blocked", "timeout", "too_large", "content_type", "http_status", "network", "redirects"]
REASONS: tuple[Reason, ...] = ("robots", "blocked", "timeout", "too_large", "content_type", "http_status",
                               "network", "redirects")
CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_CRAWL_DELAY_S = 60.0
_CHUNK_BYTES = 64 * 1024


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


class FetchError(Exception):
    """A page could not be fetched; `reason` is one of REASONS, `retryable` whether a later try may
    succeed, `status` the HTTP status for "http_status"."""

    def __init__(self, reason: Reason, message: str = "", *, retryable: bool = False,
                 status: int | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown fetch failure reason {reason!r}")
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        self.retryable = retryable
        self.status = status

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str], dict[str, object]]:
        return type(self), (self.reason, self.message), {"retryable": self.retryable, "status": self.status}


Reader = Callable[[str, aiohttp.ClientResponse], Awaitable["Page | tuple[int, bytes]"]]


class PageFetcher:
    """Fetches pages for crawls; one instance per process or actor (it holds a connection pool).
    Use `async with PageFetcher(...)` or call `close()`."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self._settings = settings
        self._guard = AddressGuard(settings.SCRAPE_ALLOW)
        self._pacer = HostPacer(redis, settings.SCRAPE_HOST_DELAY_S)
        self.robots = RobotsPolicy(self._fetch_robots, settings.SCRAPE_USER_AGENT)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PageFetcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET `url` as a crawl does; raises FetchError."""
        headers: dict[str, str] = {}
        if etag:
            headers[hdrs.IF_NONE_MATCH] = etag
        if last_modified:
            headers[hdrs.IF_MODIFIED_SINCE] = last_modified
        page = await self._follow(url, headers, self._read_page, obey_robots=True)
        assert isinstance(page, Page)
        if page.not_modified:
            return Page(page.url, page.status, "", b"", page.etag or etag,
                        page.last_modified or last_modified, True, None)
        return page

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        result = await self._follow(url, {}, _read_robots, obey_robots=False)
        assert isinstance(result, tuple)
        return result

    async def _follow(self, url: str, headers: dict[str, str], read: Reader, *,
                      obey_robots: bool) -> Page | tuple[int, bytes]:
        for _ in range(self._settings.SCRAPE_MAX_REDIRECTS + 1):
            await self._check(url)  # first: a refused origin's robots.txt is not fetched either
            if obey_robots and not await self.robots.allowed(url):
                failure = self.robots.failure(url)  # a site that is down may allow it later
                raise FetchError("robots", f"{url}: {failure or 'robots.txt disallows it'}.",
                                 retryable=failure is not None)
            await self._pace(url, obey_robots)
            next_url, result = await self._exchange(url, headers, read)
            if next_url is None:
                return result
            logger.debug("scrape: {} redirects to {}", url, next_url)
            url = next_url
        raise FetchError("redirects", f"{url} redirected more than {self._settings.SCRAPE_MAX_REDIRECTS} times.")

    async def _check(self, url: str) -> None:
        try:
            await self._guard.check(url)
        except Blocked as exc:  # a name that does not resolve today may resolve tomorrow
            raise FetchError("blocked", f"Refused {url}: {exc.message}",
                             retryable=exc.reason == "unresolvable") from exc

    async def _pace(self, url: str, obey_robots: bool) -> None:
        delay = self._settings.SCRAPE_HOST_DELAY_S
        if obey_robots:
            asked = await self.robots.crawl_delay(url)
            delay = max(delay, min(asked or 0.0, MAX_CRAWL_DELAY_S))
        await self._pacer.wait(split_origin(url)[0], delay)

    async def _exchange(self, url: str, headers: dict[str, str],
                        read: Reader) -> tuple[str | None, Page | tuple[int, bytes]]:
        """One request: (next URL, None) for a redirect, else (None, what `read` made of it)."""
        timeout_s = self._settings.SCRAPE_TIMEOUT_S
        try:
            async with asyncio.timeout(timeout_s):
                async with self._client().get(url, headers=headers, allow_redirects=False) as response:
                    location = response.headers.get(hdrs.LOCATION)
                    if response.status in REDIRECTS and location:
                        return urljoin(str(response.url), location), (response.status, b"")
                    return None, await read(url, response)
        except TimeoutError as exc:
            raise FetchError("timeout", f"{url} did not answer within {timeout_s:g} s.", retryable=True) from exc
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, Blocked):
                raise FetchError("blocked", f"Refused {url} at connect time: {exc.os_error.message}") from exc
            raise FetchError("network", f"Could not resolve {url}: {exc.os_error!r}", retryable=True) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError("network", f"Could not use the URL {url}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError("network", f"Could not fetch {url}: {exc!r}", retryable=True) from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._guard), limit=64, limit_per_host=4)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=True,
                headers={hdrs.USER_AGENT: self._settings.SCRAPE_USER_AGENT,
                         hdrs.ACCEPT: "text/html,application/xhtml+xml,application/xml;q=0.9,text/plain;q=0.8"})
        return self._session

    async def _read_page(self, url: str, response: aiohttp.ClientResponse) -> Page:
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
        body = await _read_capped(response, self._settings.scrape_max_page_bytes)
        return Page(final, response.status, media_type, body, etag, modified, False, response.charset)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError("too_large", f"{response.url} declares {response.content_length:,} bytes, "
                                      f"over the {max_bytes:,}-byte limit.")
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError("too_large", f"{response.url} sent more than the {max_bytes:,}-byte limit.")
    return bytes(body)


async def _read_robots(url: str, response: aiohttp.ClientResponse) -> tuple[int, bytes]:
    """robots.txt: status and the first 512 KiB of the body (the rest is ignored, per RFC 9309)."""
    body = bytearray()
    if 200 <= response.status < 300:
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            body += chunk
            if len(body) >= ROBOTS_MAX_BYTES:
                break
    return response.status, bytes(body[:ROBOTS_MAX_BYTES])
