"""robots.txt per RFC 9309: may this crawler fetch a URL, which sitemaps a site lists, and its
Crawl-delay.

This module owns the robots rules of each origin and their cache. Parsing and matching are
`protego` (Scrapy's maintained RFC 9309 parser: groups, longest match, `*` and `$`, Sitemap and
Crawl-delay lines). Rules are matched against the product token of the user agent ("UstadhBot").

Per RFC 9309 §2.3.1: a 2xx robots.txt is parsed; a 4xx one (unavailable) allows everything;
a 5xx, 429 or unreachable one (network error, timeout, refused by the address guard, too many
redirects) disallows everything. Parsed and 4xx answers are cached for at most 24 h; "disallow
everything" after an error only for `error_ttl_s` (10 min by default), so a site's short outage
does not stop its crawl for a day. The cache is a dict in this process; concurrent questions about
one origin share a single fetch.

The fetch function is given by the caller (the page fetcher, so robots.txt goes through the same
guard, pacing and size cap): it takes the robots.txt URL and returns (HTTP status, body), or
raises for an unreachable site. Bodies are parsed up to 512 KiB (the RFC asks for at least 500 KiB).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from loguru import logger
from protego import Protego

RobotsFetch = Callable[[str], Awaitable[tuple[int, bytes]]]

MAX_TTL_S = 24 * 3600.0
MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Rules:
    parsed: Protego | None  # None: `allow_all` says everything
    allow_all: bool
    expires: float
    failure: str | None = None  # why robots.txt could not be had (everything is then disallowed)


def origin_of(url: str) -> str:
    """"scheme://host[:port]" of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    shown = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    port = parts.port
    return f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}"


def product_token(user_agent: str) -> str:
    """"UstadhBot" from "UstadhBot/1.0 (+https://...)": the name robots.txt groups use."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


class RobotsPolicy:
    """Answers robots.txt questions per origin, fetching each robots.txt at most once per TTL."""

    def __init__(self, fetch: RobotsFetch, user_agent: str, *, ttl_s: float = MAX_TTL_S,
                 error_ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._agent = product_token(user_agent)
        self._ttl_s = min(ttl_s, MAX_TTL_S)
        self._error_ttl_s = min(error_ttl_s, self._ttl_s)
        self._clock = clock
        self._cache: dict[str, _Rules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt lets this crawler fetch `url` (robots.txt itself always may be)."""
        if urlsplit(url).path == "/robots.txt":
            return True
        rules = await self._rules(origin_of(url))
        return rules.allow_all if rules.parsed is None else rules.parsed.can_fetch(url, self._agent)

    async def sitemaps(self, origin: str) -> list[str]:
        """Sitemap URLs listed by the robots.txt of `origin` (any URL of the site will do)."""
        rules = await self._rules(origin_of(origin))
        return list(rules.parsed.sitemaps) if rules.parsed is not None else []

    async def crawl_delay(self, origin: str) -> float | None:
        """The Crawl-delay (seconds) robots.txt of `origin` asks of this crawler, if any."""
        rules = await self._rules(origin_of(origin))
        delay = rules.parsed.crawl_delay(self._agent) if rules.parsed is not None else None
        return float(delay) if delay is not None else None

    def failure(self, url: str) -> str | None:
        """Why the site of `url` is disallowed as a whole for now (robots.txt answered 5xx/429 or was
        unreachable), from the cache; None when its robots.txt was read or never asked for."""
        cached = self._cache.get(origin_of(url))
        return cached.failure if cached is not None else None

    def forget(self, origin: str) -> None:
        """Drop the cached rules of `origin` (the next question fetches robots.txt again)."""
        self._cache.pop(origin_of(origin), None)

    async def _rules(self, origin: str) -> _Rules:
        cached = self._cache.get(origin)
        if cached is not None and cached.expires > self._clock():
            return cached
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._cache.get(origin)
            if cached is None or cached.expires <= self._clock():
                cached = self._cache[origin] = await self._load(origin)
            return cached

    async def _load(self, origin: str) -> _Rules:
        url = f"{origin}/robots.txt"
        try:
            status, body = await self._fetch(url)
        except Exception as exc:  # any failure to reach robots.txt means "undefined": disallow all
            logger.info("scrape: robots.txt of {} unreachable ({!r}): disallowing the site for now", origin, exc)
            return _Rules(None, False, self._clock() + self._error_ttl_s, f"robots.txt unreachable: {exc}")
        if 200 <= status < 300:
            parsed = Protego.parse(body[:MAX_BYTES].decode("utf-8", errors="replace"))
            return _Rules(parsed, True, self._clock() + self._ttl_s)
        if 400 <= status < 500 and status != 429:
            return _Rules(None, True, self._clock() + self._ttl_s)
        logger.info("scrape: robots.txt of {} answered HTTP {}: disallowing the site for now", origin, status)
        return _Rules(None, False, self._clock() + self._error_ttl_s, f"robots.txt answered HTTP {status}")
