"""Download a URL for ingestion: through the system's guarded fetcher, bounded in size and time.

This module owns what ingestion reads from a fetched URL (`Fetched`: body, media type, file name,
validators). The network half — the SSRF guard on every hop and at connect time, redirects,
timeouts and the failure codes (`FetchError`, re-exported here) that decide whether a job is
retried — is `core.web.fetch`, shared with crawls.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import aiohttp
from aiohttp import hdrs

from core.config import Settings
from core.web.fetch import FetchError, GuardedFetcher, read_capped, refuse_error_status

__all__ = ["FetchError", "Fetched", "download", "ingestion_fetcher"]
MAX_REDIRECTS = 5
_MB = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    data: bytes
    media_type: str | None
    filename: str | None
    final_url: str
    etag: str | None
    last_modified: str | None


def ingestion_fetcher(settings: Settings) -> GuardedFetcher:
    """The fetcher of URL jobs: SCRAPE_ALLOW exempts hosts from the guard, as for crawls."""
    return GuardedFetcher(allow=settings.SCRAPE_ALLOW, user_agent=settings.SCRAPE_USER_AGENT,
                          timeout_s=settings.INGEST_FETCH_TIMEOUT_S, max_redirects=MAX_REDIRECTS)


async def download(fetcher: GuardedFetcher, url: str, *, max_bytes: int) -> Fetched:
    """GET `url` into memory; raises FetchError."""
    return await fetcher.fetch(url, partial(_read_document, max_bytes=max_bytes))


async def _read_document(response: aiohttp.ClientResponse, *, max_bytes: int) -> Fetched:
    refuse_error_status(response)
    return Fetched(
        data=await read_capped(response, max_bytes, f"{max_bytes / _MB:g} MB"),
        media_type=response.content_type if hdrs.CONTENT_TYPE in response.headers else None,
        filename=_filename(response),
        final_url=str(response.url),
        etag=response.headers.get(hdrs.ETAG),
        last_modified=response.headers.get(hdrs.LAST_MODIFIED),
    )


def _filename(response: aiohttp.ClientResponse) -> str | None:
    disposition = response.content_disposition
    name = (disposition.filename if disposition else None) or response.url.name
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None
