"""The one guarded HTTP fetcher of the system, and its failure codes.

Ingestion by URL (`core.ingest.fetch`) and crawls (`core.scrape.fetch`) both fetch through
`GuardedFetcher.fetch`, so both obey the same SSRF rule (`core.web.guard`):

1. for each hop the URL passes `AddressGuard.check` (http/https, public addresses only, SCRAPE_ALLOW
   exempt), then the caller's `before_hop` (a crawl asks robots.txt and waits for the host's slot);
2. the request goes out with redirects off; a redirect (301/302/303/307/308) is followed by hand,
   so its target passes step 1 too, at most `max_redirects` times;
3. connections go through `GuardedResolver`, so a DNS answer that changes after the check (DNS
   rebinding) fails the connection instead of reaching a private address;
4. the caller's `read` turns the final response into its result (status, type and size checks).

`FetchError.reason` is one of REASONS and `retryable` says whether a later try may succeed. aiohttp
is the HTTP client of the whole system (bot, ingestion, crawls).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import urljoin

import aiohttp
from aiohttp import hdrs
from loguru import logger

from core.web.guard import AddressGuard, Blocked, GuardedResolver

Reason = Literal["url_invalid", "blocked", "robots", "timeout", "too_large", "content_type", "http_status",
                 "network", "redirects"]
REASONS: tuple[Reason, ...] = ("url_invalid", "blocked", "robots", "timeout", "too_large", "content_type",
                               "http_status", "network", "redirects")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024
T = TypeVar("T")
Reader = Callable[[aiohttp.ClientResponse], Awaitable[T]]
BeforeHop = Callable[[str], Awaitable[None]]


class FetchError(Exception):
    """A URL could not be fetched; `reason` is one of REASONS, `retryable` whether a later try may
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


class GuardedFetcher:
    """GETs URLs through the SSRF guard; one instance per process or actor (it holds a connection
    pool, made on first use inside the running event loop). Use `async with` or call `close()`."""

    def __init__(self, *, allow: Collection[str], user_agent: str, timeout_s: float, max_redirects: int,
                 accept: str | None = None) -> None:
        self.guard = AddressGuard(allow)
        self.timeout_s, self.max_redirects = timeout_s, max_redirects
        self._headers = {hdrs.USER_AGENT: user_agent, **({hdrs.ACCEPT: accept} if accept else {})}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GuardedFetcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, read: Reader[T], *, headers: dict[str, str] | None = None,
                    before_hop: BeforeHop | None = None) -> T:
        """GET `url`, following redirects through the guard; what `read` makes of the final response."""
        for hop in range(self.max_redirects + 1):
            await self.check(url, redirected=hop > 0)  # first: a refused origin's robots.txt is not fetched either
            if before_hop is not None:
                await before_hop(url)
            next_url, result = await self._exchange(url, headers or {}, read)
            if next_url is None:
                return result  # type: ignore[return-value]
            logger.debug("fetch: {} redirects to {}", url, next_url)
            url = next_url
        raise FetchError("redirects", f"{url} redirected more than {self.max_redirects} times.")

    async def check(self, url: str, *, redirected: bool = False) -> None:
        """FetchError unless the guard lets Ustadh fetch `url`: "url_invalid" for a URL given that is
        not http(s), "blocked" for a refused address or a redirect to another scheme."""
        try:
            await self.guard.check(url)
        except Blocked as exc:
            if exc.reason == "scheme" and not redirected:
                raise FetchError("url_invalid", exc.message) from exc
            # a name that does not resolve today may resolve tomorrow
            raise FetchError("blocked", f"Refused {url}: {exc.message}",
                             retryable=exc.reason == "unresolvable") from exc

    async def _exchange(self, url: str, headers: dict[str, str], read: Reader[T]) -> tuple[str | None, T | None]:
        """One request: (next URL, None) for a redirect, else (None, what `read` made of it)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client().get(url, headers=headers, allow_redirects=False) as response:
                    location = response.headers.get(hdrs.LOCATION)
                    if response.status in REDIRECTS and location:
                        return urljoin(str(response.url), location), None
                    return None, await read(response)
        except TimeoutError as exc:
            raise FetchError("timeout", f"{url} did not answer within {self.timeout_s:g} s.", retryable=True) from exc
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, Blocked):
                raise FetchError("blocked", f"Refused {url} at connect time: {exc.os_error.message}") from exc
            raise FetchError("network", f"Could not resolve {url}: {exc.os_error!r}", retryable=True) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError("url_invalid", f"Could not use the URL {url}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError("network", f"Could not fetch {url}: {exc!r}", retryable=True) from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.guard), limit=64, limit_per_host=4)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True,
                                                  headers=self._headers)
        return self._session


def refuse_error_status(response: aiohttp.ClientResponse) -> None:
    """FetchError("http_status") for a 4xx/5xx answer; 5xx and 429 may succeed later."""
    if response.status >= 400:
        raise FetchError("http_status", f"{response.url} answered HTTP {response.status} {response.reason}.",
                         retryable=response.status >= 500 or response.status == 429, status=response.status)


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int, limit: str) -> bytes:
    """The body, refused with FetchError("too_large") past `max_bytes` (`limit` names it for people):
    by Content-Length before reading, else while streaming."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError("too_large", f"{response.url} declares a Content-Length of {response.content_length:,} "
                                      f"bytes, over the {limit} limit.")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError("too_large", f"{response.url} sent more than the {limit} limit.")
    return bytes(body)
