"""Web-source crawls end to end: a small multilingual site served on loopback by the test itself,
crawled by Crawler actors (with settings that allow only that site past the SSRF guard) into the
real Ingestor; the bot commands and HTTP routes through the system's own Crawler."""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
import ray
from aiohttp import web

from actors.clients.sources import Crawls
from actors.crawler import OPTIONS, Crawler, in_scope, normalise_url, page_links, pattern_matches, scope_hosts
from bot.texts import CATALOG
from core.app.sources import WebSources
from core.config import Settings
from core.scrape import sources
from core.text.simhash import hamming, simhash
from ops.cli import main
from tests.conftest import RaySystem, free_port
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH, eval_passages
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import ADMIN, Chat, admin_and_learner_tokens, bearer, tg  # noqa: F401 - tg is a fixture

DELAY_S = 0.3
TIMEOUT_S = 1.5
_ids = itertools.count(840_001)
LAST_MODIFIED = "Wed, 01 Oct 2025 08:00:00 GMT"


def unique_text(lang: str, block: int, size: int = 3) -> str:
    """Text no other test ingests: eval passages from the end of the set (other tests take the first
    ones), else seeded word salad from the short texts."""
    passages = eval_passages(lang, 10_000)
    if len(passages) >= 40:
        chosen = passages[-(block + 1) * size:][:size] if block else passages[-size:]
        return "\n\n".join(p["text"] for p in chosen)
    words = {"ar": ARABIC, "fr": FRENCH, "en": ENGLISH}[lang].split()
    rng = random.Random(f"{lang}-{block}")
    return "\n\n".join(" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(size))


def near_copy(text: str) -> str:
    """`text` with one word changed, still within 3 bits of its SimHash."""
    words = text.split()
    original = simhash(text)
    for i in range(len(words) // 3, len(words)):
        changed = " ".join([*words[:i], "zanzibar", *words[i + 1:]])
        if hamming(simhash(changed), original) <= 3:
            return changed
    raise AssertionError("no near copy found")


def page(title: str, text: str, lang: str, links: list[str]) -> str:
    nav = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><nav><ul>{nav}</ul></nav><main><article><h1>{title}</h1>{paragraphs}</article></main>"
            "<footer><p>© École de test</p></footer></body></html>")


@dataclass
class Site:
    """The loopback site; `requests` is (path, monotonic time, request headers) for every request."""

    pages: dict[str, str]
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    async def start(self) -> Site:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def seen(self, path: str) -> list[dict[str, str]]:
        return [headers for p, _, headers in self.requests if p == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((path, time.monotonic(), dict(request.headers)))
        if path == "/robots.txt":
            return web.Response(text=f"User-agent: *\nDisallow: /private/\n\nSitemap: {self.base}/sitemap.xml\n")
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{self.base}{p}</loc></url>" for p in ("/fr/sitemap-only", "/en/article"))
            return web.Response(body=f'<?xml version="1.0" encoding="UTF-8"?><urlset '
                                     f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
                                content_type="application/xml")
        if path == "/go-private":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if path == "/slow":
            await asyncio.sleep(TIMEOUT_S + 3)
            return web.Response(text="<html><body><p>too late</p></body></html>", content_type="text/html")
        if path == "/big":
            return web.Response(body=b"<html><body><p>" + b"lorem ipsum " * 440_000 + b"</p></body></html>",
                                content_type="text/html")
        body = self.pages.get(path)
        if body is None:
            return web.Response(status=404, text="not found")
        data = body.encode()
        headers = {}
        if path.startswith("/fr/"):  # validated by date; /en/near by nothing (the digest decides); others by ETag
            headers["Last-Modified"] = LAST_MODIFIED
            if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return web.Response(status=304, headers=headers)
        elif path != "/en/near":
            headers["ETag"] = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        return web.Response(body=data, content_type="text/html", charset="utf-8", headers=headers)


def school_site() -> Site:
    english, index_text = unique_text("en", 0), unique_text("en", 1)
    links = ["/", "/ar/lesson", "/fr/lesson", "/en/article", "/en/copy", "/en/near", "/boiler", "/private/secret",
             "/go-private", "/slow", "/big", "/missing", "http://example.org/elsewhere"]
    boiler = ('<html lang="en"><head><title>Menu</title></head><body><nav><ul>'
              + "".join(f'<li><a href="{h}">Section {i}</a></li>' for i, h in enumerate(links))
              + "</ul></nav><footer>© École de test · Contact · Plan du site</footer></body></html>")
    return Site({
        "/": page("Welcome to the test school", index_text, "en", links),
        "/ar/lesson": page("درس في التاريخ", unique_text("ar", 0), "ar", ["/", "/fr/lesson"]),
        "/fr/lesson": page("Leçon d'histoire", unique_text("fr", 0), "fr", ["/", "/ar/lesson"]),
        "/fr/sitemap-only": page("Page du plan du site", unique_text("fr", 1), "fr", ["/"]),
        "/en/article": page("An English article", english, "en", ["/"]),
        "/en/copy": page("A copy of the article", english, "en", ["/"]),
        "/en/near": page("Almost the article", near_copy(english), "en", ["/"]),
        "/boiler": boiler,
        "/private/secret": page("Secret", unique_text("en", 2), "en", ["/"]),
    })


def crawler_settings(ray_system: RaySystem, site: Site, delay_s: float = DELAY_S) -> Any:
    return ray_system.settings.model_copy(update={
        "SCRAPE_ALLOW": (f"127.0.0.1:{site.port}",), "SCRAPE_HOST_DELAY_S": delay_s, "SCRAPE_TIMEOUT_S": TIMEOUT_S})


def new_crawler(settings: Any, **kwargs: Any) -> Any:
    return ray.remote(**OPTIONS)(Crawler).remote(settings, schedule=False, **kwargs)


async def finished(crawler: Any, name: str, crawl_id: int, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await crawler.status.remote(name)
        if status["crawl"]["id"] == crawl_id and status["crawl"]["state"] != "running":
            return status
        await asyncio.sleep(0.5)
    raise AssertionError(f"crawl {crawl_id} of {name} did not finish")


@pytest_asyncio.fixture(scope="module")
async def school(ray_system: RaySystem) -> AsyncIterator[tuple[Site, Any]]:
    site = await school_site().start()
    crawler = new_crawler(crawler_settings(ray_system, site), pause_after=2)
    await crawler.ping.remote()
    yield site, crawler
    ray.kill(crawler)
    await site.stop()


# ----------------------------------------------------------------- scope helpers (no Ray)

def test_url_scope_patterns_and_links() -> None:
    assert normalise_url("https://a.org#top") == "https://a.org/"
    assert normalise_url("https://a.org/x?q=1#f") == "https://a.org/x?q=1"
    assert normalise_url("mailto:someone@a.org") is None and normalise_url("javascript:void(0)") is None
    assert pattern_matches("https://a.org/docs/*", "https://a.org/docs/x/y")
    assert not pattern_matches("https://a.org/docs/*", "https://a.org/blog/x")
    assert pattern_matches(r"re:/(fr|ar)/", "https://a.org/fr/lesson")
    assert pattern_matches(r"^https://a\.org/ar/", "https://a.org/ar/x") and not pattern_matches(r"^https://a\.org/ar/",
                                                                                                "https://b.org/ar/x")
    row = dict(id=1, name="s", seed_urls=["https://a.org/"], sitemap_url=None, allow_patterns=[], language_hint=None,
               max_depth=1, page_budget=5, schedule_minutes=None, visibility="public", status="active",
               pause_reason=None, last_sync_at=None, consecutive_failures=0, created_at=None)
    source = sources.Source(**row)
    hosts = scope_hosts(source)
    assert in_scope("https://a.org/x", source, hosts) and not in_scope("https://b.org/x", source, hosts)
    patterned = sources.Source(**{**row, "allow_patterns": ["re:/fr/"]})
    assert in_scope("https://b.org/fr/x", patterned, hosts) and not in_scope("https://a.org/en/x", patterned, hosts)
    html = b'<html><head><base href="https://a.org/d/"></head><body><a href="x#f">x</a><a href="/y">y</a>' \
           b'<a href="mailto:m@a.org">m</a><a rel="nofollow" href="z">z</a><a href="x">again</a></body></html>'
    assert page_links(html, "https://a.org/") == ["https://a.org/d/x", "https://a.org/y"]


# ----------------------------------------------------------------- crawls

async def test_crawl_keeps_skips_and_says_why(school: tuple[Site, Any], pool: Any) -> None:
    site, crawler = school
    name = f"school-{uuid.uuid4().hex[:8]}"
    source, created = await sources.upsert_source(pool, name, seed_urls=[site.url("/")], max_depth=2, page_budget=40)
    assert created
    started = await crawler.sync.remote(name)
    assert started["state"] == "running"
    with pytest.raises(sources.CrawlRunning):  # one crawl per source at a time
        await crawler.sync.remote(name)
    status = await finished(crawler, name, started["id"])
    crawl = status["crawl"]
    outcomes = {p["url"].removeprefix(site.base): (p["outcome"], p["reason"] or "") for p in crawl["pages"]}
    assert crawl["state"] == "done", crawl
    for path in ("/", "/ar/lesson", "/fr/lesson", "/en/article", "/fr/sitemap-only"):
        assert outcomes[path][0] == "kept", (path, outcomes)
    assert outcomes["/en/copy"][0] == "duplicate" and outcomes["/en/near"][0] == "duplicate", outcomes
    assert outcomes["/boiler"][0] == "rejected" and "boilerplate" in outcomes["/boiler"][1]
    assert outcomes["/private/secret"][0] == "skipped" and outcomes["/private/secret"][1].startswith("robots")
    # the redirect's private target is refused (by the guard, or as a site whose robots.txt it refuses)
    assert outcomes["/go-private"][0] == "skipped" and "169.254.169.254" in outcomes["/go-private"][1]
    assert outcomes["/go-private"][1].split(":")[0] in ("blocked", "robots")
    assert outcomes["/big"][0] == "skipped" and outcomes["/big"][1].startswith("too_large")
    assert outcomes["/slow"][0] == "error" and outcomes["/slow"][1].startswith("timeout")
    assert outcomes["/missing"][0] == "error" and outcomes["/missing"][1].startswith("http_status")
    assert not any("example.org" in url for url in outcomes)  # another host: out of scope
    assert not site.seen("/private/secret")  # robots.txt obeyed: never requested
    counts = crawl["counts"]
    assert (counts["kept"], counts["duplicates"], counts["rejected"], counts["skipped"], counts["errors"]) == \
        (5, 2, 1, 3, 2), counts
    async with pool.connection() as conn:
        docs = {row["uri"]: row for row in await (await conn.execute(
            "SELECT uri, title, language, source_id FROM documents WHERE source_id = %s", (source.id,))).fetchall()}
        jobs_before = (await (await conn.execute(
            "SELECT count(*) AS n FROM ingestion_jobs WHERE source_id = %s", (source.id,))).fetchone())["n"]
    assert set(docs) == {site.url(p) for p in ("/", "/ar/lesson", "/fr/lesson", "/en/article", "/fr/sitemap-only")}
    assert docs[site.url("/ar/lesson")]["language"] == "ar" and docs[site.url("/fr/lesson")]["language"] == "fr"
    assert docs[site.url("/ar/lesson")]["title"] == "درس في التاريخ"

    again = await crawler.sync.remote(name)
    second = (await finished(crawler, name, again["id"]))["crawl"]
    outcomes2 = {p["url"].removeprefix(site.base): (p["outcome"], p["reason"] or "") for p in second["pages"]}
    assert second["counts"]["kept"] == 0, second
    for path in ("/", "/ar/lesson", "/fr/lesson", "/en/article", "/fr/sitemap-only", "/en/copy", "/en/near", "/boiler"):
        assert outcomes2[path][0] == "unchanged", (path, outcomes2)
    assert "304" in outcomes2["/ar/lesson"][1] and "304" in outcomes2["/fr/lesson"][1]  # ETag / Last-Modified
    assert site.seen("/ar/lesson")[-1].get("If-None-Match")
    assert site.seen("/fr/lesson")[-1].get("If-Modified-Since") == LAST_MODIFIED
    async with pool.connection() as conn:
        jobs_after = (await (await conn.execute(
            "SELECT count(*) AS n FROM ingestion_jobs WHERE source_id = %s", (source.id,))).fetchone())["n"]
    assert jobs_after == jobs_before  # nothing re-ingested


async def test_failing_source_is_paused_with_a_reason(school: tuple[Site, Any], pool: Any) -> None:
    site, crawler = school
    name = f"broken-{uuid.uuid4().hex[:8]}"
    await sources.upsert_source(pool, name, seed_urls=[site.url("/missing")], max_depth=0, page_budget=3,
                                allow_patterns=[site.url("/missing*")])  # not the sitemap's pages
    for _ in (1, 2):
        started = await crawler.sync.remote(name)
        status = await finished(crawler, name, started["id"])
        assert status["crawl"]["state"] == "failed" and "failed" in status["crawl"]["error"]
    assert status["source"]["status"] == "paused" and "2 crawls in a row failed" in status["source"]["pause_reason"]
    assert name not in [s.name for s in await sources.due_sources(pool)]


async def test_two_crawls_of_one_host_keep_the_delay(ray_system: RaySystem, pool: Any) -> None:
    delay = 1.0
    nav = ["/a/1", "/a/2", "/a/3", "/b/1", "/b/2", "/b/3"]
    menu = ('<html><body><nav>' + "".join(f'<a href="{h}">{h}</a>' for h in nav) + "</nav></body></html>")
    site = await Site({path: menu for path in ["/a/", "/b/", *nav]}).start()
    first, second = (new_crawler(crawler_settings(ray_system, site, delay)) for _ in range(2))
    try:
        names = [f"paced-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for name, prefix in zip(names, ("/a/", "/b/")):
            await sources.upsert_source(pool, name, seed_urls=[site.url(prefix)], page_budget=4,
                                        allow_patterns=[site.url(prefix) + "*"])
        crawls = await asyncio.gather(first.sync.remote(names[0]), second.sync.remote(names[1]))
        reports = await asyncio.gather(finished(first, names[0], crawls[0]["id"]),
                                       finished(second, names[1], crawls[1]["id"]))
        assert all(r["crawl"]["counts"]["fetched"] == 4 for r in reports), reports
        times = sorted(t for path, t, _ in site.requests)
        assert {p for p, _, _ in site.requests} >= {"/a/", "/b/", "/a/1", "/b/1"}
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(times) >= 9 and min(gaps) >= delay - 0.05, gaps
    finally:
        ray.kill(first)
        ray.kill(second)
        await site.stop()


# ----------------------------------------------------------------- surfaces

async def test_admin_manages_and_syncs_sources_from_telegram(tg: FakeTelegram, ray_system: RaySystem) -> None:
    admin = Chat(tg, ADMIN)
    learner = Chat(tg, next(_ids))
    for command in ("/sources", "/source_add x http://x.org", "/sync x", "/source_pause x", "/source_resume x"):
        assert await learner.say(command) == CATALOG["admin_only"]["en"]
    name = f"tg-{uuid.uuid4().hex[:8]}"
    assert await admin.say("/source_add") == CATALOG["source_add_usage"]["en"]
    assert await admin.say(f"/source_add {name} http://127.0.0.1:9/ depth=x") == CATALOG["source_add_usage"]["en"]
    seed = "http://127.0.0.1:9/q&a"  # shown as typed in every message that names it
    saved = await admin.say(f"/source_add {name} {seed} depth=1 budget=3 lang=fr")
    assert saved.startswith(f"Source {name} saved") and "no schedule" in saved and seed in saved, saved
    listed = await admin.say("/sources")
    assert CATALOG["sources_header"]["en"] in listed and name in listed and seed in listed, listed
    assert await admin.say("/sync nosuchsource") == CATALOG["source_unknown"]["en"].format(name="nosuchsource")
    # The system's crawler allows no loopback address: the seed is refused by the SSRF guard.
    progress = await admin.say(f"/sync {name}")
    assert progress.startswith("🔄") and name in progress
    report = await admin.reply(timeout=120)
    assert report.startswith("✅") and "1 skipped" in report and ("blocked" in report or "robots" in report), report
    assert "http://127.0.0.1:9/q&a" in report, report  # the skipped page, by its URL
    edits = [c.shown for c in tg.calls("editMessageText") if c.params["chat_id"] == str(ADMIN)]
    assert any(name in text and "1 skipped" in text for text in edits), edits  # the status message, live
    paused = await admin.say(f"/source_pause {name}")
    assert paused == CATALOG["source_paused_now"]["en"].format(name=name)
    assert "paused by an admin" in await admin.say("/sources")
    assert await admin.say(f"/source_resume {name}") == CATALOG["source_resumed_now"]["en"].format(name=name)
    assert await admin.say("/source_resume nosuch") == CATALOG["source_unknown"]["en"].format(name="nosuch")
    assert "🟢" in await admin.say("/sources")


async def test_scheduled_sources_sync_by_themselves(tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin = Chat(tg, ADMIN)
    name = f"every-{uuid.uuid4().hex[:8]}"
    saved = await admin.say(f"/source_add {name} http://127.0.0.1:9/ depth=0 budget=1 every=1")
    assert "every 1 min" in saved
    source = await sources.get_source(pool, name)
    deadline = time.monotonic() + 75  # the system's crawler looks for due sources every 30 s
    crawl = None
    while crawl is None or crawl["state"] == "running":
        assert time.monotonic() < deadline, "no scheduled crawl"
        await asyncio.sleep(1)
        crawl = await sources.latest_crawl(pool, source.id)
    assert crawl["trigger"] == "schedule" and crawl["state"] == "done"
    assert (await sources.get_source(pool, name)).last_sync_at is not None
    await sources.set_paused(pool, name, "test over")


async def test_http_routes_manage_sync_and_report(tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin_token, _ = await admin_and_learner_tokens(tg, next(_ids))
    name = f"http-{uuid.uuid4().hex[:8]}"
    new = {"name": name, "seed_urls": ["http://127.0.0.1:9/"], "max_depth": 0, "page_budget": 1}
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60, headers=bearer(admin_token)) as http:
        created = await http.post("/admin/sources", json=new)
        assert created.status_code == 201 and created.json()["status"] == "active", created.text
        replaced = await http.post("/admin/sources", json={**new, "language_hint": "fr"})
        assert replaced.status_code == 200 and replaced.json()["language_hint"] == "fr"
        for bad in ({**new, "seed_urls": ["ftp://x"]}, {**new, "name": "no spaces"}, {**new, "max_depth": "1"}):
            assert (await http.post("/admin/sources", json=bad)).status_code == 422, bad
        assert name in [s["name"] for s in (await http.get("/admin/sources")).json()["sources"]]
        assert (await http.get("/admin/sources/nosuch")).status_code == 404
        assert (await http.post("/admin/sources/nosuch/sync")).status_code == 404
        started = await http.post(f"/admin/sources/{name}/sync")
        assert started.status_code == 202, started.text
        crawl = started.json()["crawl"]
        again = (await http.post(f"/admin/sources/{name}/sync")).json()
        assert again["crawl"]["id"] == crawl["id"] or not again["already_running"]  # the running crawl, followed
        deadline = time.monotonic() + 120
        while crawl["state"] == "running" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            status = (await http.get(f"/admin/sources/{name}")).json()
            crawl = status["crawl"]
        assert crawl["state"] == "done" and crawl["counts"]["skipped"] == 1, crawl
        assert crawl["pages"][0]["outcome"] == "skipped"
        assert crawl["pages"][0]["reason"].split(":")[0] in ("blocked", "robots")
        assert status["source"]["name"] == name
        paused = (await http.post(f"/admin/sources/{name}/pause")).json()
        assert (paused["status"], paused["pause_reason"]) == ("paused", "paused by an admin")
        assert name not in [s.name for s in await sources.due_sources(pool)]
        resumed = (await http.post(f"/admin/sources/{name}/resume")).json()
        assert (resumed["status"], resumed["pause_reason"]) == ("active", None)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/sources"), ("POST", "/admin/sources"), ("GET", "/admin/sources/{name}"),
    ("POST", "/admin/sources/{name}/sync"), ("POST", "/admin/sources/{name}/pause"),
    ("POST", "/admin/sources/{name}/resume")])
async def test_every_admin_source_route_is_refused_to_a_learner(tg: FakeTelegram, ray_system: RaySystem, pool: Any,
                                                                  method: str, path: str) -> None:
    _, learner_token = await admin_and_learner_tokens(tg, next(_ids))
    name = f"refused-{uuid.uuid4().hex[:8]}"
    await sources.upsert_source(pool, name, seed_urls=["http://127.0.0.1:9/"], max_depth=0, page_budget=1)
    body = {"name": name, "seed_urls": ["http://127.0.0.1:9/other"]} if method == "POST" else None
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        assert (await http.request(method, path.format(name=name), json=body)).status_code == 401
        refused = await http.request(method, path.format(name=name), json=body, headers=bearer(learner_token))
    assert refused.status_code == 403, refused.text
    source = await sources.get_source(pool, name)
    assert (source.seed_urls, source.status, await sources.latest_crawl(pool, source.id)) == (
        ["http://127.0.0.1:9/"], "active", None)  # nothing changed, nothing crawled


async def test_cli_sync_shows_the_crawl_and_its_report(ray_system: RaySystem, pool: Any) -> None:
    from ops.sources import report, sync

    web_sources = WebSources(Crawls())
    name = f"cli-{uuid.uuid4().hex[:8]}"
    await sources.upsert_source(pool, name, seed_urls=["http://127.0.0.1:9/"], max_depth=0, page_budget=1)
    status = await sync(web_sources, name, quiet=True)
    assert status["crawl"]["state"] == "done" and status["crawl"]["counts"]["skipped"] == 1
    text = report(status)
    assert text.startswith(f"crawl #{status['crawl']['id']} of {name}: done") and "skipped   http://127.0.0.1:9/" in text
    with pytest.raises(sources.UnknownSource):
        await sync(web_sources, "nosuchsource", quiet=True)


def test_an_operator_manages_sources_from_the_cli(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        status = main(["sources", *args])
        out, err = capsys.readouterr()
        return status, out, err

    name = f"ops-{uuid.uuid4().hex[:8]}"
    status, out, _ = cli("add", name, "http://127.0.0.1:9/a", "--depth", "0", "--every", "60", "--lang", "fr")
    assert status == 0 and out.startswith(f"created {name}\tactive\tevery 60 min\tnever synced"), out
    status, out, _ = cli("add", name, "http://127.0.0.1:9/b")
    assert status == 0 and out.startswith(f"updated {name}\tactive\tmanual") and "/b" in out
    status, _, err = cli("add", name, "ftp://127.0.0.1/")
    assert status == 1 and "not an http(s) URL" in err
    assert name in cli("list")[1]
    status, out, _ = cli("pause", name)
    assert status == 0 and "paused (paused by an admin)" in out
    status, out, _ = cli("resume", name)
    assert status == 0 and f"{name}\tactive" in out
    status, _, err = cli("resume", "nosuch")
    assert status == 1 and "no source named" in err
