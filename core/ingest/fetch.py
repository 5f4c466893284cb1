"""Download a URL for ingestion: bounded size and time, redirects followed, failures classified.

This module owns the network half of URL ingestion and the `FetchError` codes that decide whether a
job is retried (`retryable`). It is Ray-free and uses aiohttp, already the HTTP stack of the bot.
It does not guard against private or loopback addresses; callers that take URLs from users must.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp import hdrs

REASONS = ("url_invalid", "http_status", "network", "too_large", "timeout")
MAX_REDIRECTS = 5
_CHUNK_BYTES = 64 * 1024
_MB = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    data: bytes
    media_type: str | None
    filename: str | None
    final_url: str
    etag: str | None
    last_modified: str | None


class FetchError(Exception):
    """Fetching failed; `reason` is one of REASONS and `retryable` says whether to try again later."""

    def __init__(self, reason: str, message: str, *, retryable: bool = False) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown fetch failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str], dict[str, bool]]:
        return type(self), (self.reason, self.message), {"retryable": self.retryable}


async def fetch_url(url: str, *, max_bytes: int, timeout_s: float = 30.0,
                    user_agent: str = "UstadhBot/0.1") -> Fetched:
    """GET `url` (http/https only) into memory; raises FetchError."""
    _check_url(url)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers={hdrs.USER_AGENT: user_agent}) as session:
            # aiohttp gives up on receiving its max_redirects-th redirect, so allow one more.
            async with session.get(url, max_redirects=MAX_REDIRECTS + 1) as response:
                return await _read_response(response, max_bytes)
    except TimeoutError as exc:  # also aiohttp's ServerTimeoutError
        raise FetchError("timeout", f"{url} did not answer within {timeout_s:g} s.", retryable=True) from exc
    except aiohttp.TooManyRedirects as exc:
        raise FetchError("http_status", f"{url} redirected more than {MAX_REDIRECTS} times.") from exc
    except aiohttp.InvalidURL as exc:
        raise FetchError("url_invalid", f"Could not use the URL {url}: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise FetchError("network", f"Could not fetch {url}: {exc!r}", retryable=True) from exc


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        valid = False
    if not valid:
        raise FetchError("url_invalid", f"{url!r} is not an http(s) URL with a host.")


async def _read_response(response: aiohttp.ClientResponse, max_bytes: int) -> Fetched:
    if response.status >= 400:
        retryable = response.status >= 500 or response.status == 429
        raise FetchError("http_status", f"{response.url} answered HTTP {response.status} {response.reason}.",
                         retryable=retryable)
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError("too_large", f"{response.url} declares a Content-Length of "
                                      f"{response.content_length:,} bytes, over the {max_bytes / _MB:g} MB limit.")
    return Fetched(
        data=await _read_capped(response, max_bytes),
        media_type=response.content_type if hdrs.CONTENT_TYPE in response.headers else None,
        filename=_filename(response),
        final_url=str(response.url),
        etag=response.headers.get(hdrs.ETAG),
        last_modified=response.headers.get(hdrs.LAST_MODIFIED),
    )


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError("too_large", f"{response.url} sent more than the {max_bytes / _MB:g} MB limit.")
    return bytes(body)


def _filename(response: aiohttp.ClientResponse) -> str | None:
    disposition = response.content_disposition
    name = (disposition.filename if disposition else None) or response.url.name
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None
