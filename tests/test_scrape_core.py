"""The Ray-free crawling core against real aiohttp sites on loopback and the test Redis: the SSRF
guard (before the request, on redirects and at connect time), robots.txt, conditional requests,
size/time/type limits, per-host pacing across fetchers, sitemaps, main-text extraction and the
near-duplicate index."""
from __future__ import annotations

import asyncio
import gzip
import pickle
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.config import Settings
from core.scrape.extract import extract_page
from core.scrape.fetch import FetchError, PageFetcher
from core.scrape.politeness import HostPacer
from core.scrape.sitemap import parse_sitemap
from core.web.guard import AddressGuard, Blocked, GuardedResolver
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH

ETAG = '"v1"'
MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
CAP_BYTES = 64 * 1024
NAV = ("<nav><ul><li><a href='/'>Accueil</a></li><li><a href='/about'>À propos</a></li>"
       "<li><a href='/contact'>Contact</a></li></ul></nav>")
FOOTER = "<footer><p>© 2026 Ministère de l'Éducation — Tous droits réservés. Mentions légales.</p></footer>"


def html_page(text: str, lang: str, title: str) -> str:
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body>{NAV}<main><article><h1>{title}</h1><p>{text}</p></article></main>{FOOTER}</body></html>")


@dataclass
class Site:
    """A loopback web site whose robots.txt answers `robots_status`; records what it was asked."""

    robots_status: int = 200
    hits: dict[str, list[float]] = field(default_factory=dict)
    server: TestServer | None = None
    redirect_to: str = "http://10.255.255.1/"

    @property
    def origin(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.middlewares.append(self._record)
        app.router.add_get("/robots.txt", self.robots)
        app.router.add_get("/page", self.page)
        app.router.add_get("/private/secret", self.page)
        app.router.add_get("/big", self.big)
        app.router.add_get("/big-chunked", self.big_chunked)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/image", self.image)
        app.router.add_get("/moved", self.moved)
        app.router.add_get("/to-private", self.to_private)
        app.router.add_get("/loop", self.loop)
        app.router.add_get("/sitemap.xml", self.sitemap)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable[..., object]) -> web.StreamResponse:
        self.hits.setdefault(request.path, []).append(time.monotonic())
        return await handler(request)  # type: ignore[misc]

    async def robots(self, request: web.Request) -> web.Response:
        body = f"User-agent: *\nDisallow: /private\nSitemap: {self.origin}/sitemap.xml\n"
        return web.Response(text=body, status=self.robots_status)

    async def page(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == ETAG or request.headers.get("If-Modified-Since") == MODIFIED:
            return web.Response(status=304, headers={"ETag": ETAG})
        return web.Response(text=html_page(FRENCH, "fr", "Réviser"), content_type="text/html",
                            headers={"ETag": ETAG, "Last-Modified": MODIFIED})

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(text="<p>" + "x" * (2 * CAP_BYTES) + "</p>", content_type="text/html")

    async def big_chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"<p>" + b"y" * (CAP_BYTES // 4) + b"</p>")
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="<p>late</p>", content_type="text/html")

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    async def to_private(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.redirect_to)

    async def loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def sitemap(self, request: web.Request) -> web.Response:
        body = (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{self.origin}/page</loc></url></urlset>")
        return web.Response(text=body, content_type="application/xml")


@pytest_asyncio.fixture
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.REDIS_URL or "")
    yield client
    await client.aclose()


async def start(site: Site) -> Site:
    site.server = TestServer(site.app(), host="127.0.0.1")
    await site.server.start_server()
    return site


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    started = await start(Site())
    yield started
    assert started.server is not None
    await started.server.close()


def crawl_settings(settings: Settings, *sites: Site, **overrides: object) -> Settings:
    allow = tuple(f"127.0.0.1:{s.server.port}" for s in sites if s.server is not None)
    values: dict[str, object] = {"SCRAPE_ALLOW": allow, "SCRAPE_HOST_DELAY_S": 0.0, "SCRAPE_TIMEOUT_S": 5.0,
                                 "SCRAPE_MAX_PAGE_MB": CAP_BYTES / (1024 * 1024)}
    values.update(overrides)
    return settings.model_copy(update=values)


async def fetch_error(fetcher: PageFetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url)
    return caught.value


# --- the address guard ------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://10.0.0.1/", "http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://localhost:8080/", "http://[fd00:ec2::254]/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://224.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://192.168.1.1:8443/"])
async def test_guard_blocks_non_public_addresses(url: str) -> None:
    with pytest.raises(Blocked) as caught:
        await AddressGuard(()).check(url)
    assert caught.value.reason == "private_address"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)",
                                 "gopher://127.0.0.1:6379/", "http:///nohost", "http://[::1/"])
async def test_guard_blocks_other_schemes_and_bad_urls(url: str) -> None:
    with pytest.raises(Blocked) as caught:
        await AddressGuard(()).check(url)
    assert caught.value.reason == "scheme"


async def test_guard_allows_public_and_listed_origins_only() -> None:
    await AddressGuard(()).check("https://93.184.215.14/page")
    guard = AddressGuard(["127.0.0.1:8081", "intranet.test"])
    await guard.check("http://127.0.0.1:8081/x")
    for url in ("http://127.0.0.1:8082/", "http://127.0.0.1/", "http://localhost:8081/"):
        with pytest.raises(Blocked):
            await guard.check(url)
    assert guard.allows("intranet.test", 1234)
    with pytest.raises(Blocked) as caught:
        await AddressGuard(()).check("http://no-such-host.invalid/")
    assert caught.value.reason == "unresolvable"
    assert pickle.loads(pickle.dumps(caught.value)).reason == "unresolvable"


async def test_resolver_refuses_private_answers_at_connect_time(site: Site) -> None:
    """A connection that skipped the check (as after a DNS answer changed) still fails."""
    assert site.server is not None
    guard = AddressGuard([f"127.0.0.1:{site.server.port}"])
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(guard), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
            await session.get(f"http://localhost:{site.server.port}/page")
    assert isinstance(caught.value.os_error, Blocked) and caught.value.os_error.reason == "private_address"
    allowed = AddressGuard([f"localhost:{site.server.port}"])
    results = await GuardedResolver(allowed).resolve("localhost", site.server.port)
    assert results and results[0]["port"] == site.server.port


# --- fetching ---------------------------------------------------------------------------------

async def test_fetch_page_then_conditional_304(settings: Settings, redis_client: aioredis.Redis, site: Site) -> None:
    async with PageFetcher(crawl_settings(settings, site), redis_client) as fetcher:
        page = await fetcher.get(f"{site.origin}/moved")
        assert page.url == f"{site.origin}/page" and page.status == 200 and not page.not_modified
        assert page.content_type == "text/html" and page.etag == ETAG and page.last_modified == MODIFIED
        assert "révisé" in page.body.decode()
        again = await fetcher.get(page.url, etag=page.etag)
        assert again.not_modified and again.status == 304 and again.body == b"" and again.etag == ETAG
        since = await fetcher.get(page.url, last_modified=MODIFIED)
        assert since.not_modified and since.last_modified == MODIFIED
    assert len(site.hits["/robots.txt"]) == 1  # cached for the origin


async def test_fetch_refuses_redirects_to_private_addresses(settings: Settings, redis_client: aioredis.Redis,
                                                            site: Site) -> None:
    other = await start(Site())
    assert other.server is not None
    try:
        async with PageFetcher(crawl_settings(settings, site), redis_client) as fetcher:
            assert (await fetch_error(fetcher, f"{site.origin}/to-private")).reason == "blocked"
            site.redirect_to = f"{other.origin}/page"  # loopback, but not the allowed port
            assert (await fetch_error(fetcher, f"{site.origin}/to-private")).reason == "blocked"
            site.redirect_to = "file:///etc/passwd"
            assert (await fetch_error(fetcher, f"{site.origin}/to-private")).reason == "blocked"
            assert (await fetch_error(fetcher, f"{other.origin}/page")).reason == "blocked"
            assert (await fetch_error(fetcher, f"{site.origin}/loop")).reason == "redirects"
        assert "/page" not in other.hits and "/robots.txt" not in other.hits
    finally:
        await other.server.close()


async def test_fetch_obeys_robots(settings: Settings, redis_client: aioredis.Redis, site: Site) -> None:
    async with PageFetcher(crawl_settings(settings, site), redis_client) as fetcher:
        refused = await fetch_error(fetcher, f"{site.origin}/private/secret")
        assert refused.reason == "robots" and not refused.retryable
        assert "/private/secret" not in site.hits
        assert await fetcher.robots.sitemaps(site.origin) == [f"{site.origin}/sitemap.xml"]
        sitemap = await fetcher.get(f"{site.origin}/sitemap.xml")
        assert parse_sitemap(sitemap.body) == ([f"{site.origin}/page"], [])


async def test_robots_404_allows_and_500_disallows(settings: Settings, redis_client: aioredis.Redis) -> None:
    missing, failing = await start(Site(robots_status=404)), await start(Site(robots_status=500))
    try:
        async with PageFetcher(crawl_settings(settings, missing, failing), redis_client) as fetcher:
            assert (await fetcher.get(f"{missing.origin}/private/secret")).status == 200
            refused = await fetch_error(fetcher, f"{failing.origin}/page")
            assert refused.reason == "robots" and refused.retryable
            assert "/page" not in failing.hits
    finally:
        for s in (missing, failing):
            assert s.server is not None
            await s.server.close()


async def test_fetch_limits(settings: Settings, redis_client: aioredis.Redis, site: Site) -> None:
    async with PageFetcher(crawl_settings(settings, site, SCRAPE_TIMEOUT_S=0.5), redis_client) as fetcher:
        for path in ("/big", "/big-chunked"):
            assert (await fetch_error(fetcher, f"{site.origin}{path}")).reason == "too_large"
        started = time.monotonic()
        slow = await fetch_error(fetcher, f"{site.origin}/slow")
        assert slow.reason == "timeout" and slow.retryable and time.monotonic() - started < 2.5  # sleeps 3 s
        wrong = await fetch_error(fetcher, f"{site.origin}/image")
        assert wrong.reason == "content_type" and not wrong.retryable
        missing = await fetch_error(fetcher, f"{site.origin}/nothing-here")
        assert (missing.reason, missing.status, missing.retryable) == ("http_status", 404, False)
    copy = pickle.loads(pickle.dumps(missing))
    assert (copy.reason, copy.status, copy.retryable) == ("http_status", 404, False)


async def test_unreachable_site_is_a_retryable_robots_refusal(settings: Settings,
                                                               redis_client: aioredis.Redis) -> None:
    closed = await start(Site())
    assert closed.server is not None
    origin, tuned = closed.origin, crawl_settings(settings, closed)
    await closed.server.close()
    async with PageFetcher(tuned, redis_client) as fetcher:
        refused = await fetch_error(fetcher, f"{origin}/page")
    assert refused.reason == "robots" and refused.retryable and "unreachable" in refused.message


async def test_two_fetchers_to_one_host_are_spaced(settings: Settings, redis_client: aioredis.Redis,
                                                   site: Site) -> None:
    delay = 0.3
    tuned = crawl_settings(settings, site, SCRAPE_HOST_DELAY_S=delay)
    started = time.monotonic()
    async with PageFetcher(tuned, redis_client) as first, PageFetcher(tuned, redis_client) as second:
        await asyncio.gather(first.get(f"{site.origin}/page"), second.get(f"{site.origin}/page"))
    arrivals = sorted(site.hits["/robots.txt"] + site.hits["/page"])  # each fetcher reads robots.txt once
    assert len(arrivals) == 4
    # the k-th request to the host starts no sooner than k delays after the first slot was taken
    # (a process that wakes late only starts later; gaps alone would be at the mercy of a busy CI)
    assert all(at - started >= k * delay - 0.01 for k, at in enumerate(arrivals)), arrivals


async def test_host_pacer_hands_out_distinct_slots(redis_client: aioredis.Redis) -> None:
    pacer = HostPacer(redis_client, 0.2)
    host = f"pacer-{random.getrandbits(32)}.test"
    started = time.monotonic()
    done = sorted(await asyncio.gather(*(_timed(pacer, host, started) for _ in range(3))))
    assert all(at >= k * 0.2 - 0.01 for k, at in enumerate(done)), done
    await HostPacer(redis_client, 0).wait(host)  # no delay: never waits


async def _timed(pacer: HostPacer, host: str, started: float) -> float:
    await pacer.wait(host)
    return time.monotonic() - started


# --- sitemaps ---------------------------------------------------------------------------------

def test_sitemap_index_and_urlset() -> None:
    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://ex.test/a.xml</loc></sitemap><sitemap><loc> https://ex.test/b.xml.gz </loc>"
             b"</sitemap></sitemapindex>")
    assert parse_sitemap(index) == ([], ["https://ex.test/a.xml", "https://ex.test/b.xml.gz"])
    urlset = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>https://ex.test/ar/درس</loc>"
              "<lastmod>2026-01-01</lastmod></url><url><loc>https://ex.test/q?a=1&amp;b=2</loc></url>"
              "<url><loc>javascript:alert(1)</loc></url><url><loc>https://ex.test/q?a=1&amp;b=2</loc></url>"
              "</urlset>").encode()
    expected = (["https://ex.test/ar/درس", "https://ex.test/q?a=1&b=2"], [])
    assert parse_sitemap(urlset) == expected
    assert parse_sitemap(gzip.compress(urlset)) == expected
    assert parse_sitemap(b"https://ex.test/one\nnot a url\nhttps://ex.test/two\n") == (
        ["https://ex.test/one", "https://ex.test/two"], [])


def test_sitemap_survives_hostile_input() -> None:
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e0 "lol">{entities}'
            f'<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset><url><loc>https://ex.test/&e9;&x;</loc></url></urlset>')
    started = time.monotonic()
    pages, nested = parse_sitemap(bomb.encode())
    assert time.monotonic() - started < 1 and nested == []
    assert all("lol" not in p and "root:" not in p for p in pages)
    for garbage in (b"", b"\x00\xff\xfe<<>>", b"<urlset><url><loc>", random.randbytes(4096),
                    b"\x1f\x8b\x08\x00broken gzip"):
        assert parse_sitemap(garbage) in (([], []),)
    gzip_bomb = gzip.compress(b"<urlset>" + b"<url><loc>https://ex.test/p</loc></url>" * 200_000 + b"</urlset>")
    assert parse_sitemap(gzip_bomb) == (["https://ex.test/p"], [])


# --- extraction -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "lang"), [(ARABIC, "ar"), (FRENCH, "fr-FR"), (ENGLISH, "en")])
def test_extract_main_text_without_boilerplate(text: str, lang: str) -> None:
    page = extract_page(html_page(text, lang, "Leçon").encode(), "https://ex.test/lesson")
    assert page is not None
    assert text in page.text  # letters, diacritics and punctuation untouched
    assert "Accueil" not in page.text and "droits réservés" not in page.text
    assert page.title == "Leçon" and page.language_hint == lang[:2]


def test_extract_boilerplate_only_is_none() -> None:
    assert extract_page(f"<html><head><title>Accueil</title></head><body>{NAV}{FOOTER}</body></html>",
                        "https://ex.test/") is None
    assert extract_page(b"", "https://ex.test/") is None
    arabic_1256 = (f"<html lang='ar'><head><meta charset='windows-1256'><title>درس</title></head><body>"
                   f"<article><p>{ARABIC}</p></article></body></html>").encode("windows-1256")
    decoded = extract_page(arabic_1256, "https://ex.test/ar")
    assert decoded is not None and ARABIC in decoded.text
