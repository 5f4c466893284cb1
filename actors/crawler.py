"""Crawler: the single owner of sources and their crawls, from seed URLs and sitemaps to ingested pages.

It is the one writer of `sources`, `crawls` and `crawl_pages`: admins' sources are saved, listed,
paused and resumed through it (`save`, `list`, `pause`, `resume`; the surfaces reach it through
`core.app.sources`), and a named collection of uploaded documents is created by it (`collection`).

`sync(source)` starts a crawl of a stored source (`core.scrape.sources`) as an asyncio task and
returns at once; a second sync of a source whose crawl runs is refused with `CrawlRunning` (also
across actor restarts: at most one `running` row per source in `crawls`). A crawl:

1. gathers its start URLs: the seed URLs, the source's sitemap and the sitemaps robots.txt
   declares for the seeds' origins (nested sitemap indexes followed, at most `_MAX_SITEMAPS`);
2. walks breadth-first up to `max_depth` links from a start URL and at most `page_budget` page
   fetches, within the allowed URL patterns (regular expressions written `re:...` or starting with
   `^`, else globs over the whole URL), or on the seeds' hosts when the source has none;
3. fetches each page with `core.scrape.fetch.PageFetcher` (SSRF guard on every redirect hop,
   robots.txt, the per-host politeness delay shared through Redis by every crawl, size cap,
   timeout, content types) sending the ETag / Last-Modified stored last time: a 304, or a body
   with the same SHA-256 as last time, is `unchanged` and nothing is re-ingested (the links the
   page had last time are still followed);
4. extracts the main text (`core.scrape.extract.extract_page`; nothing but boilerplate →
   `rejected`/boilerplate), drops exact and SimHash near-duplicates of pages met earlier in the
   same crawl, and submits the rest to the Ingestor as a .txt document whose URI (its citation) is
   the page URL; the Ingestor normalises, filters by quality and dedups against the corpus, and
   the job's end decides the page's outcome (indexed → `kept`, failed `duplicate` → `duplicate`,
   other failures → `rejected` with the reason).

Outcomes per page are kept in `crawl_pages`; live counts (fetched, kept, unchanged, duplicates,
rejected, skipped, errors) in memory and in the crawl's row, readable through `status`. A crawl
in which every page fetch failed counts as failed; `pause_after` failed crawls in a row pause the
source with a reason. When `schedule` is on, every `_SCHEDULE_EVERY_S` the actor syncs the active
sources whose `schedule_minutes` have elapsed since their last sync. Prometheus counters per
source and outcome: `ustadh_crawl_pages_total`.
"""
from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import inspect
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from loguru import logger

from actors.tracing import traced
from core.config import Settings
from core.scrape import sources
from core.scrape.sources import CrawlRunning, Source, SourceError
from core.text.simhash import SimHashIndex

OPTIONS = {"num_cpus": 0.1, "max_restarts": -1, "max_task_retries": 0}
PAUSE_AFTER_FAILURES = 3
COUNT_KEYS = ("fetched", "kept", "unchanged", "duplicates", "rejected", "skipped", "errors", "pending")
_COUNT_OF = {"kept": "kept", "unchanged": "unchanged", "duplicate": "duplicates", "rejected": "rejected",
             "skipped": "skipped", "error": "errors"}
# Fetch refusals that are decisions, not failures: they never make a crawl "failed".
_SKIP_REASONS = {"robots", "blocked", "url_invalid", "content_type", "too_large", "redirects", "out_of_scope"}
_SCHEDULE_EVERY_S = 30.0
_STALE_S = 120.0  # a running crawl whose row was not touched for this long belongs to a dead actor
_MAX_SITEMAPS = 20
_JOB_POLL_S = 0.5
_JOB_WAIT_S = 1800.0
_HTML = re.compile(r"html|xhtml", re.I)


@dataclass
class _Crawl:
    id: int
    source: Source
    trigger: str
    started: float = field(default_factory=time.time)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    state: str = "running"
    error: str | None = None
    pages: list[dict[str, Any]] = field(default_factory=list)
    finished_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source.name, "state": self.state, "trigger": self.trigger,
                "counts": dict(self.counts), "error": self.error, "started_at": _iso(self.started),
                "finished_at": _iso(self.finished_at) if self.finished_at else None,
                "duration_s": round((self.finished_at or time.time()) - self.started, 2),
                "pages": list(self.pages)}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# ----------------------------------------------------------------- URL scope

def normalise_url(url: str) -> str | None:
    """The URL without its fragment, or None when it is not http(s)."""
    url = urldefrag(url.strip())[0]
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if not parts.path:
        url = url + "/" if not parts.query else url.replace("?", "/?", 1)
    return url


def pattern_matches(pattern: str, url: str) -> bool:
    """`re:<regex>` or `^<regex>`: a regular expression searched in the URL; anything else: a glob
    over the whole URL (`*` also crosses `/`)."""
    if pattern.startswith("re:"):
        return re.search(pattern[3:], url) is not None
    if pattern.startswith("^"):
        return re.search(pattern, url) is not None
    return fnmatch.fnmatchcase(url, pattern)


def in_scope(url: str, source: Source, hosts: set[str]) -> bool:
    if source.allow_patterns:
        return any(pattern_matches(p, url) for p in source.allow_patterns)
    return urlsplit(url).netloc.lower() in hosts


def scope_hosts(source: Source) -> set[str]:
    starts = source.seed_urls or ([source.sitemap_url] if source.sitemap_url else [])
    return {urlsplit(url).netloc.lower() for url in starts}


def page_links(body: bytes, base_url: str) -> list[str]:
    """Absolute http(s) links of an HTML page (honouring <base href>), in document order, unique."""
    import lxml.html

    try:
        root = lxml.html.fromstring(body)
    except Exception:
        return []
    base = root.find(".//base[@href]")
    if base is not None:
        base_url = urljoin(base_url, base.get("href", ""))
    found: dict[str, None] = {}
    for anchor in root.iterfind(".//a[@href]"):
        if "nofollow" in (anchor.get("rel") or "").lower():
            continue
        url = normalise_url(urljoin(base_url, anchor.get("href", "")))
        if url:
            found[url] = None
    return list(found)


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _filename(title: str, url: str) -> str:
    """A .txt file name whose stem is the page title (the Ingestor titles a .txt by its stem)."""
    stem = re.sub(r"[\\/\r\n\t]+", " ", title or "").strip().strip(".") or urlsplit(url).path.rsplit("/", 1)[-1] \
        or urlsplit(url).netloc
    return stem[:200] + ".txt"


# ----------------------------------------------------------------- the actor

class Crawler:
    async def __init__(self, settings: Settings, schedule: bool = True,
                       pause_after: int = PAUSE_AFTER_FAILURES) -> None:
        import redis.asyncio as aioredis
        from ray.util.metrics import Counter

        from actors.clients.ingestion import Ingestion
        from core.db.pool import open_pool
        from core.db.roles import Role
        from core.logs import setup_logging
        from core.scrape.fetch import PageFetcher

        setup_logging(settings, "crawler")
        self.settings = settings
        self.pause_after = max(1, pause_after)
        self.pool = await open_pool(settings.DATABASE_URL or "", Role.CRAWLER, max_size=5, name="crawler")
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=2, socket_timeout=10)
        self.fetcher = PageFetcher(settings, self.redis)
        self.ingestion = Ingestion()
        self.crawls: dict[str, _Crawl] = {}  # source name -> its running or latest crawl (this actor's)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.pages_total = Counter("ustadh_crawl_pages_total", description="Pages met by crawls, by outcome",
                                   tag_keys=("source", "outcome"))
        self.crawls_total = Counter("ustadh_crawls_total", description="Finished crawls, by state",
                                    tag_keys=("source", "outcome"))
        stale = await sources.fail_stale_crawls(self.pool, _STALE_S)
        if stale:
            logger.warning("crawls of a previous crawler marked failed", count=stale)
        self.scheduler = asyncio.create_task(self._schedule_loop()) if schedule else None
        logger.info("crawler started", schedule=schedule, delay_s=getattr(settings, "SCRAPE_HOST_DELAY_S", None))

    # ----------------------------------------------------------------- API

    @traced
    async def sync(self, source_name: str, trigger: str = "manual") -> dict[str, Any]:
        """Start a crawl of `source_name`; the crawl as `status` shows it. CrawlRunning if one runs.
        A manual sync of a paused source resumes it."""
        source = await sources.get_source(self.pool, source_name)
        task = self.tasks.get(source.name)
        if task is not None and not task.done():
            raise CrawlRunning(f"a crawl of {source.name} is already running")
        if source.status == "paused":
            if trigger != "manual":
                raise SourceError(f"source {source.name} is paused: {source.pause_reason}")
            source = await sources.set_active(self.pool, source.name)
        await sources.fail_stale_crawls(self.pool, _STALE_S, source.id)
        row = await sources.start_crawl(self.pool, source.id, dict.fromkeys(COUNT_KEYS, 0), trigger)
        crawl = _Crawl(row["id"], source, trigger)
        self.crawls[source.name] = crawl
        self.tasks[source.name] = asyncio.create_task(self._run(crawl))
        logger.info("crawl started", source=source.name, crawl=crawl.id, trigger=trigger)
        return crawl.public()

    @traced
    async def status(self, source_name: str) -> dict[str, Any]:
        """{"source": the source, "crawl": its running or latest crawl (with per-page outcomes) or None}."""
        source = await sources.get_source(self.pool, source_name)
        crawl = self.crawls.get(source.name)
        row = await sources.latest_crawl(self.pool, source.id)
        if crawl is not None and row is not None and crawl.id == row["id"]:  # ours: live counts and pages
            return {"source": source.public(), "crawl": crawl.public()}
        if row is None:
            return {"source": source.public(), "crawl": None}
        found = sources.crawl_public(row, source.name)
        found["pages"] = await sources.crawl_pages(self.pool, row["id"])
        return {"source": source.public(), "crawl": found}

    @traced
    async def pause(self, source_name: str, reason: str = "paused by an admin") -> dict[str, Any]:
        """Pause the source (no scheduled syncs) and stop its running crawl, if any."""
        source = await sources.set_paused(self.pool, source_name, reason)
        task = self.tasks.get(source.name)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=10)
        return source.public()

    @traced
    async def resume(self, source_name: str) -> dict[str, Any]:
        """Resume a paused source (scheduled syncs again, failures forgotten); its next sync is not started."""
        return (await sources.set_active(self.pool, source_name)).public()

    @traced
    async def save(self, source_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Create the source or replace its crawl settings (`core.scrape.sources.upsert_source`'s arguments);
        {"source": ..., "created": bool}."""
        source, created = await sources.upsert_source(self.pool, source_name, **settings)
        return {"source": source.public(), "created": created}

    @traced
    async def list(self) -> list[dict[str, Any]]:
        """The crawlable sources, by name."""
        return [source.public() for source in await sources.list_sources(self.pool)]

    @traced
    async def collection(self, name: str, visibility: str = "public") -> int:
        """The id of the named document collection `name`, created on first use."""
        return await sources.ensure_collection(self.pool, name, visibility)

    @traced
    async def ping(self) -> dict[str, Any]:
        return {"running": sorted(name for name, task in self.tasks.items() if not task.done())}

    # ----------------------------------------------------------------- crawling

    async def _run(self, crawl: _Crawl) -> None:
        source = crawl.source
        try:
            await self._crawl(crawl)
            counts = crawl.counts
            failed = counts["fetched"] > 0 and counts["errors"] == counts["fetched"]
            error = f"all {counts['fetched']} page fetches failed" if failed else None
            await self._finish(crawl, "failed" if failed else "done", error, count_failure=failed)
        except asyncio.CancelledError:
            await self._finish(crawl, "failed", "stopped: the source was paused", count_failure=False)
            raise
        except Exception as exc:
            logger.exception("crawl failed", source=source.name, crawl=crawl.id)
            await self._finish(crawl, "failed", f"{type(exc).__name__}: {exc}", count_failure=True)

    async def _finish(self, crawl: _Crawl, state: str, error: str | None, *, count_failure: bool) -> None:
        """Record the crawl's end (and pause the source after too many failures), then show it as ended:
        whoever sees a finished crawl may start the next one at once."""
        source = crawl.source
        try:
            await sources.finish_crawl(self.pool, crawl.id, state, crawl.counts, error)
            failures = await sources.sync_finished(self.pool, source.id, failed=count_failure)
            if count_failure and failures >= self.pause_after:
                reason = f"{failures} crawls in a row failed; last: {error}"
                await sources.set_paused(self.pool, source.name, reason)
                logger.warning("source paused", source=source.name, reason=reason)
            self.crawls_total.inc(1, tags={"source": source.name, "outcome": state})
        except Exception:
            logger.exception("crawl not recorded", source=source.name, crawl=crawl.id)
        finally:
            self.tasks.pop(source.name, None)
            crawl.state, crawl.error, crawl.finished_at = state, error, time.time()
        logger.info("crawl finished", source=source.name, crawl=crawl.id, state=state, counts=crawl.counts,
                    error=error)

    async def _crawl(self, crawl: _Crawl) -> None:
        source = crawl.source
        hosts = scope_hosts(source)
        frontier: deque[tuple[str, int]] = deque()
        seen: set[str] = set()
        jobs: dict[str, dict[str, Any]] = {}  # ingestion job id -> the page it carries
        near = SimHashIndex(max_distance=3)
        digests: dict[str, str] = {}  # sha256 of extracted text -> first URL with it

        def enqueue(url: str, depth: int) -> None:
            normal = normalise_url(url)
            if normal and normal not in seen and in_scope(normal, source, hosts):
                seen.add(normal)
                frontier.append((normal, depth))

        for url in source.seed_urls:
            enqueue(url, 0)
        for url in await self._sitemap_pages(crawl):
            enqueue(url, 0)
        watcher = asyncio.create_task(self._watch_jobs(crawl, jobs))
        try:
            while frontier and crawl.counts["fetched"] < source.page_budget:
                url, depth = frontier.popleft()
                links = await self._page(crawl, url, jobs, near, digests)
                if depth < source.max_depth:
                    for link in links:
                        enqueue(link, depth + 1)
            deadline = time.monotonic() + _JOB_WAIT_S
            while jobs and time.monotonic() < deadline:
                await asyncio.sleep(_JOB_POLL_S)
        finally:
            watcher.cancel()
        for job_id, page in list(jobs.items()):  # the Ingestor never finished them
            await self._outcome(crawl, page["url"], "error", "ingestion did not finish", **page["validators"],
                                links=page["links"])
            jobs.pop(job_id)
        crawl.counts["pending"] = 0

    async def _sitemap_pages(self, crawl: _Crawl) -> list[str]:
        """Page URLs of the source's sitemap and of the sitemaps robots.txt declares for the seeds'
        origins, nested sitemap indexes followed (at most `_MAX_SITEMAPS` sitemap fetches)."""
        from core.scrape.fetch import FetchError
        from core.scrape.sitemap import parse_sitemap

        source = crawl.source
        queue = [source.sitemap_url] if source.sitemap_url else []
        for origin in sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, source.seed_urls)}):
            queue.extend(await self._robots_sitemaps(origin))
        pages: list[str] = []
        done: set[str] = set()
        while queue and len(done) < _MAX_SITEMAPS:
            url = queue.pop(0)
            if url in done:
                continue
            done.add(url)
            try:
                fetched = await self.fetcher.get(url)
                found, nested = await asyncio.to_thread(parse_sitemap, fetched.body)
            except FetchError as exc:
                logger.info("sitemap not read", source=source.name, url=url, reason=exc.reason, error=str(exc))
                continue
            except Exception as exc:
                logger.info("sitemap not parsed", source=source.name, url=url, error=str(exc))
                continue
            pages.extend(found)
            queue.extend(nested)
        return pages

    async def _robots_sitemaps(self, origin: str) -> list[str]:
        """The Sitemap: lines of the origin's robots.txt (through the fetcher's robots policy)."""
        robots = getattr(self.fetcher, "robots", None)
        if robots is None or not hasattr(robots, "sitemaps"):
            return []
        try:
            found = robots.sitemaps(origin)
            if inspect.isawaitable(found):
                found = await found
            return list(found or [])
        except Exception as exc:
            logger.info("robots sitemaps not read", origin=origin, error=str(exc))
            return []

    async def _page(self, crawl: _Crawl, url: str, jobs: dict[str, dict[str, Any]], near: SimHashIndex,
                    digests: dict[str, str]) -> list[str]:
        """Fetch, compare, extract and submit one page; the links to follow from it."""
        from core.scrape.extract import extract_page
        from core.scrape.fetch import FetchError
        from core.text.simhash import simhash

        source = crawl.source
        known = await sources.known_page(self.pool, source.id, url)
        usable = known is not None and known["outcome"] != "error"
        crawl.counts["fetched"] += 1
        try:
            page = await self.fetcher.get(url, etag=known["etag"] if usable else None,
                                          last_modified=known["last_modified"] if usable else None)
        except FetchError as exc:
            outcome = "skipped" if exc.reason in _SKIP_REASONS else "error"
            await self._outcome(crawl, url, outcome, f"{exc.reason}: {exc}", keep_validators=True)
            return []
        if page.not_modified and known is not None:
            await self._outcome(crawl, url, "unchanged", "not modified (304)", keep_validators=True,
                                document_id=known["document_id"])
            return list(known["links"] or [])
        digest = hashlib.sha256(page.body).hexdigest()
        validators = {"etag": page.etag, "last_modified": page.last_modified, "content_sha256": digest}
        is_html = bool(_HTML.search(page.content_type or ""))
        links = await asyncio.to_thread(page_links, page.body, page.url) if is_html else []
        if usable and known["content_sha256"] == digest:
            await self._outcome(crawl, url, "unchanged", "same content as the last crawl", **validators,
                                document_id=known["document_id"], links=links)
            return links
        if is_html:
            extracted = await asyncio.to_thread(extract_page, _decode(page.body, getattr(page, "charset", None)), page.url)
            title, text = (extracted.title, extracted.text) if extracted is not None else ("", "")
        else:
            title, text = "", _decode(page.body, getattr(page, "charset", None)).strip()
        if not text.strip():
            await self._outcome(crawl, url, "rejected", "boilerplate: no main text", **validators, links=links)
            return links
        text_digest = hashlib.sha256(text.encode()).hexdigest()
        fingerprint = await asyncio.to_thread(simhash, text)
        twin = digests.get(text_digest)
        if twin is not None:
            reason = f"the same text as {twin} (same crawl)"
        elif fingerprint and (close := near.near(fingerprint)):
            twin = str(close[0][0])
            reason = f"a near-duplicate of {twin} (same crawl)"
        if twin is not None:
            await self._outcome(crawl, url, "duplicate", reason, **validators, links=links)
            return links
        digests[text_digest] = url
        if fingerprint:
            near.add(url, fingerprint)
        try:
            job = await self.ingestion.submit_file(text.encode("utf-8"), _filename(title, url),
                                                   media_type="text/plain", uri=url,
                                                   visibility=source.visibility, source_id=source.id)
        except Exception as exc:
            await self._outcome(crawl, url, "error", f"ingestion unavailable: {exc}", keep_validators=True)
            return links
        jobs[job["id"]] = {"url": url, "validators": validators, "links": links}
        crawl.counts["pending"] += 1
        if job["state"] in ("indexed", "failed"):
            await self._job_done(crawl, jobs, job)
        return links

    async def _watch_jobs(self, crawl: _Crawl, jobs: dict[str, dict[str, Any]]) -> None:
        """Turn the ends of the crawl's ingestion jobs into page outcomes, as they come."""
        while True:
            await asyncio.sleep(_JOB_POLL_S)
            if not jobs:
                continue
            try:
                found = await self.ingestion.jobs(list(jobs))
            except Exception as exc:
                logger.info("ingestion jobs not readable", error=str(exc))
                continue
            for job in found:
                if job["state"] in ("indexed", "failed") and job["id"] in jobs:
                    await self._job_done(crawl, jobs, job)

    async def _job_done(self, crawl: _Crawl, jobs: dict[str, dict[str, Any]], job: dict[str, Any]) -> None:
        page = jobs.pop(job["id"], None)
        if page is None:
            return
        crawl.counts["pending"] -= 1
        if job["state"] == "indexed":
            unchanged = bool((job["result"] or {}).get("unchanged"))
            outcome, reason = ("unchanged", "already indexed") if unchanged else \
                ("kept", f"{(job['result'] or {}).get('chunks', 0)} chunks ({(job['result'] or {}).get('language')})")
        elif job["error_code"] == "duplicate":
            outcome, reason = "duplicate", job["error"]
        else:
            outcome, reason = "rejected", f"{job['error_code']}: {job['error']}"
        await self._outcome(crawl, page["url"], outcome, reason, **page["validators"],
                            document_id=job["document_id"], links=page["links"])

    async def _outcome(self, crawl: _Crawl, url: str, outcome: str, reason: str | None, *,
                       etag: str | None = None, last_modified: str | None = None,
                       content_sha256: str | None = None, document_id: int | None = None,
                       links: list[str] | None = None, keep_validators: bool = False) -> None:
        source = crawl.source
        await sources.record_page(self.pool, source.id, crawl.id, url, outcome, reason=reason, etag=etag,
                                  last_modified=last_modified, content_sha256=content_sha256,
                                  document_id=document_id, links=links, keep_validators=keep_validators)
        crawl.counts[_COUNT_OF[outcome]] += 1
        crawl.pages.append({"url": url, "outcome": outcome, "reason": reason, "document_id": document_id})
        self.pages_total.inc(1, tags={"source": source.name, "outcome": outcome})
        await sources.update_crawl(self.pool, crawl.id, crawl.counts)
        logger.debug("page", source=source.name, url=url, outcome=outcome, reason=reason)

    # ----------------------------------------------------------------- schedules

    async def _schedule_loop(self) -> None:
        while True:
            await asyncio.sleep(_SCHEDULE_EVERY_S)
            try:
                for source in await sources.due_sources(self.pool):
                    try:
                        await self.sync(source.name, trigger="schedule")
                    except SourceError as exc:
                        logger.info("scheduled sync not started", source=source.name, error=str(exc))
            except Exception:
                logger.exception("schedule round failed")
