"""Web sources and their crawls in PostgreSQL: `sources` (0001), `crawls` and `crawl_pages` (0005).

A source is a named crawl configuration (seed URLs and/or a sitemap, allowed URL patterns, depth,
page budget, schedule, visibility); each sync of it is a row in `crawls` (at most one `running`
per source, enforced by a partial unique index), and each page it met has one row in
`crawl_pages` with the outcome of its latest fetch and the validators (ETag / Last-Modified) and
digest the next crawl compares against. A source without seeds or sitemap is a named collection
of uploaded documents (`ensure_collection`: the evaluation's sets, an admin's private corpus).

The Crawler actor is the one writer of these three tables; everything else asks it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

OUTCOMES = ("kept", "unchanged", "duplicate", "rejected", "skipped", "error")
LANGUAGES = ("ar", "fr", "en")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")  # also ':', as in "eval:xquad:ar"


class SourceError(ValueError):
    """A source request that cannot be done; `code` says why (for the surfaces' messages)."""

    code = "invalid"


class UnknownSource(SourceError):
    code = "unknown"


class CrawlRunning(SourceError):
    """A crawl of this source is already running (only one at a time per source)."""

    code = "running"


@dataclass(frozen=True)
class Source:
    id: int
    name: str
    seed_urls: list[str]
    sitemap_url: str | None
    allow_patterns: list[str]
    language_hint: str | None
    max_depth: int
    page_budget: int
    schedule_minutes: int | None
    visibility: str
    status: str
    pause_reason: str | None
    last_sync_at: datetime | None
    consecutive_failures: int
    created_at: datetime

    def public(self) -> dict[str, Any]:
        found = asdict(self)
        for key in ("last_sync_at", "created_at"):
            found[key] = found[key].isoformat() if found[key] else None
        return found


_COLUMNS = ("id, name, seed_urls, sitemap_url, allow_patterns, language_hint, max_depth, page_budget, "
            "schedule_minutes, visibility, status, pause_reason, last_sync_at, consecutive_failures, created_at")
_CRAWL_COLUMNS = "id, source_id, state, trigger, counts, started_at, updated_at, finished_at, error"


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise SourceError(f"invalid source name {name!r}: letters, digits, '.', '_' or '-', at most 64")
    return name


async def upsert_source(pool: AsyncConnectionPool, name: str, *, seed_urls: list[str],
                        sitemap_url: str | None = None, allow_patterns: list[str] | None = None,
                        language_hint: str | None = None, max_depth: int = 2, page_budget: int = 100,
                        schedule_minutes: int | None = None, visibility: str = "public") -> tuple[Source, bool]:
    """Create the source `name`, or replace its crawl settings; (source, created)."""
    check_name(name)
    for url in [*seed_urls, *([sitemap_url] if sitemap_url else [])]:
        if not re.match(r"^https?://[^\s/]+", url):
            raise SourceError(f"not an http(s) URL: {url!r}")
    if not seed_urls and not sitemap_url:
        raise SourceError("a source needs a seed URL or a sitemap")
    if language_hint is not None and language_hint not in LANGUAGES:
        raise SourceError(f"unsupported language {language_hint!r}")
    if max_depth < 0 or page_budget < 1 or (schedule_minutes is not None and schedule_minutes < 1):
        raise SourceError("depth must be >= 0, budget >= 1 and the schedule >= 1 minute")
    if visibility not in ("public", "admin"):
        raise SourceError(f"unsupported visibility {visibility!r}")
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"""INSERT INTO sources (name, seed_urls, sitemap_url, allow_patterns, language_hint, max_depth,
                                     page_budget, schedule_minutes, visibility)
                VALUES (%(name)s, %(seeds)s, %(sitemap)s, %(allow)s, %(lang)s, %(depth)s, %(budget)s,
                        %(every)s, %(visibility)s)
                ON CONFLICT (name) DO UPDATE SET
                    seed_urls = EXCLUDED.seed_urls, sitemap_url = EXCLUDED.sitemap_url,
                    allow_patterns = EXCLUDED.allow_patterns, language_hint = EXCLUDED.language_hint,
                    max_depth = EXCLUDED.max_depth, page_budget = EXCLUDED.page_budget,
                    schedule_minutes = EXCLUDED.schedule_minutes, visibility = EXCLUDED.visibility
                RETURNING {_COLUMNS}, (xmax = 0) AS created""",
            {"name": name, "seeds": list(seed_urls), "sitemap": sitemap_url, "allow": list(allow_patterns or []),
             "lang": language_hint, "depth": max_depth, "budget": page_budget, "every": schedule_minutes,
             "visibility": visibility})).fetchone()
    created = bool(row.pop("created"))
    return Source(**row), created


async def get_source(pool: AsyncConnectionPool, name: str) -> Source:
    async with pool.connection() as conn:
        row = await (await conn.execute(f"SELECT {_COLUMNS} FROM sources WHERE name = %s", (name,))).fetchone()
    if row is None:
        raise UnknownSource(f"no source named {name!r}")
    return Source(**row)


async def list_sources(pool: AsyncConnectionPool) -> list[Source]:
    """Sources that can be crawled (a seed or a sitemap), by name."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            f"SELECT {_COLUMNS} FROM sources WHERE seed_urls <> '{{}}' OR sitemap_url IS NOT NULL "
            "ORDER BY name")).fetchall()
    return [Source(**row) for row in rows]


async def set_paused(pool: AsyncConnectionPool, name: str, reason: str) -> Source:
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"UPDATE sources SET status = 'paused', pause_reason = %s WHERE name = %s RETURNING {_COLUMNS}",
            (reason, name))).fetchone()
    if row is None:
        raise UnknownSource(f"no source named {name!r}")
    return Source(**row)


async def set_active(pool: AsyncConnectionPool, name: str) -> Source:
    """Resume a source: scheduled syncs again, its failure count cleared."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "UPDATE sources SET status = 'active', pause_reason = NULL, consecutive_failures = 0 "
            f"WHERE name = %s RETURNING {_COLUMNS}", (name,))).fetchone()
    if row is None:
        raise UnknownSource(f"no source named {name!r}")
    return Source(**row)


async def ensure_collection(pool: AsyncConnectionPool, name: str, visibility: str = "public") -> int:
    """The id of the collection `name` (a source with nothing to crawl), created on first use."""
    if not COLLECTION.match(name or ""):
        raise SourceError(f"invalid collection name {name!r}: letters, digits, '.', '_', ':' or '-', at most 128")
    if visibility not in ("public", "admin"):
        raise SourceError(f"unsupported visibility {visibility!r}")
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """INSERT INTO sources (name, visibility) VALUES (%s, %s)
               ON CONFLICT (name) DO UPDATE SET visibility = EXCLUDED.visibility RETURNING id""",
            (name, visibility))).fetchone()
    return int(row["id"])


async def due_sources(pool: AsyncConnectionPool) -> list[Source]:
    """Active scheduled sources whose schedule has elapsed since their last sync and that no crawl runs."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            f"""SELECT {_COLUMNS} FROM sources s
                WHERE status = 'active' AND schedule_minutes IS NOT NULL
                  AND (seed_urls <> '{{}}' OR sitemap_url IS NOT NULL)
                  AND (last_sync_at IS NULL OR last_sync_at + make_interval(mins => schedule_minutes) <= now())
                  AND NOT EXISTS (SELECT 1 FROM crawls c WHERE c.source_id = s.id AND c.state = 'running')
                ORDER BY last_sync_at NULLS FIRST""")).fetchall()
    return [Source(**row) for row in rows]


async def sync_finished(pool: AsyncConnectionPool, source_id: int, *, failed: bool) -> int:
    """Record a finished sync; the source's consecutive failures afterwards."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """UPDATE sources SET last_sync_at = now(),
                   consecutive_failures = CASE WHEN %s THEN consecutive_failures + 1 ELSE 0 END
               WHERE id = %s RETURNING consecutive_failures""", (failed, source_id))).fetchone()
    return int(row["consecutive_failures"]) if row else 0


# ----------------------------------------------------------------- crawls

def crawl_public(row: dict[str, Any], source: str) -> dict[str, Any]:
    return {"id": row["id"], "source": source, "state": row["state"], "trigger": row["trigger"],
            "counts": dict(row["counts"] or {}), "error": row["error"],
            "started_at": row["started_at"].isoformat(),
            "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
            "duration_s": round(((row["finished_at"] or row["updated_at"]) - row["started_at"]).total_seconds(), 2)}


async def start_crawl(pool: AsyncConnectionPool, source_id: int, counts: dict[str, int],
                      trigger: str = "manual") -> dict[str, Any]:
    """A new running crawl; CrawlRunning if one already runs for the source."""
    try:
        async with pool.connection() as conn:
            return await (await conn.execute(
                f"INSERT INTO crawls (source_id, counts, trigger) VALUES (%s, %s, %s) RETURNING {_CRAWL_COLUMNS}",
                (source_id, Jsonb(counts), trigger))).fetchone()
    except UniqueViolation:
        raise CrawlRunning(f"a crawl of source #{source_id} is already running") from None


async def running_crawl(pool: AsyncConnectionPool, source_id: int) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        return await (await conn.execute(
            f"SELECT {_CRAWL_COLUMNS} FROM crawls WHERE source_id = %s AND state = 'running'",
            (source_id,))).fetchone()


async def fail_stale_crawls(pool: AsyncConnectionPool, older_than_s: float, source_id: int | None = None) -> int:
    """Mark running crawls nobody updated for `older_than_s` failed (their actor died); how many."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            """UPDATE crawls SET state = 'failed', finished_at = now(), error = 'interrupted'
               WHERE state = 'running' AND updated_at < now() - make_interval(secs => %s)
                 AND (%s::bigint IS NULL OR source_id = %s)""", (older_than_s, source_id, source_id))
        return cursor.rowcount


async def update_crawl(pool: AsyncConnectionPool, crawl_id: int, counts: dict[str, int]) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE crawls SET counts = %s, updated_at = now() WHERE id = %s",
                           (Jsonb(counts), crawl_id))


async def finish_crawl(pool: AsyncConnectionPool, crawl_id: int, state: str, counts: dict[str, int],
                       error: str | None = None) -> dict[str, Any]:
    async with pool.connection() as conn:
        return await (await conn.execute(
            f"""UPDATE crawls SET state = %s, counts = %s, error = %s, finished_at = now(), updated_at = now()
                WHERE id = %s RETURNING {_CRAWL_COLUMNS}""", (state, Jsonb(counts), error, crawl_id))).fetchone()


async def latest_crawl(pool: AsyncConnectionPool, source_id: int) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        return await (await conn.execute(
            f"SELECT {_CRAWL_COLUMNS} FROM crawls WHERE source_id = %s ORDER BY started_at DESC, id DESC LIMIT 1",
            (source_id,))).fetchone()


# ----------------------------------------------------------------- pages

async def known_page(pool: AsyncConnectionPool, source_id: int, url: str) -> dict[str, Any] | None:
    """What the last crawl that met `url` recorded (validators, digest, outcome), or None."""
    async with pool.connection() as conn:
        return await (await conn.execute(
            """SELECT url, etag, last_modified, content_sha256, outcome, reason, document_id, crawl_id, links
               FROM crawl_pages WHERE source_id = %s AND url = %s""", (source_id, url))).fetchone()


async def record_page(pool: AsyncConnectionPool, source_id: int, crawl_id: int, url: str, outcome: str, *,
                      reason: str | None = None, etag: str | None = None, last_modified: str | None = None,
                      content_sha256: str | None = None, document_id: int | None = None,
                      links: list[str] | None = None, keep_validators: bool = False) -> None:
    """Upsert a page's latest outcome. `keep_validators`: leave stored ETag/Last-Modified/digest as they are
    (a 304, or an error that says nothing about the content); `links` None keeps the stored links."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO crawl_pages (source_id, url, crawl_id, etag, last_modified, content_sha256, outcome,
                                        reason, document_id, links)
               VALUES (%(source)s, %(url)s, %(crawl)s, %(etag)s, %(lm)s, %(sha)s, %(outcome)s, %(reason)s, %(doc)s,
                       COALESCE(%(links)s, '{}'::text[]))
               ON CONFLICT (source_id, url) DO UPDATE SET
                   crawl_id = EXCLUDED.crawl_id, outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
                   fetched_at = now(),
                   document_id = COALESCE(EXCLUDED.document_id, crawl_pages.document_id),
                   links = CASE WHEN %(links)s::text[] IS NULL THEN crawl_pages.links ELSE EXCLUDED.links END,
                   etag = CASE WHEN %(keep)s THEN crawl_pages.etag ELSE EXCLUDED.etag END,
                   last_modified = CASE WHEN %(keep)s THEN crawl_pages.last_modified ELSE EXCLUDED.last_modified END,
                   content_sha256 = CASE WHEN %(keep)s THEN crawl_pages.content_sha256
                                         ELSE EXCLUDED.content_sha256 END""",
            {"source": source_id, "url": url, "crawl": crawl_id, "etag": etag, "lm": last_modified,
             "sha": content_sha256, "outcome": outcome, "reason": reason, "doc": document_id,
             "links": links, "keep": keep_validators})


async def crawl_pages(pool: AsyncConnectionPool, crawl_id: int) -> list[dict[str, Any]]:
    """The pages a crawl met, with their outcome and reason, by URL."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            """SELECT url, outcome, reason, document_id, fetched_at FROM crawl_pages
               WHERE crawl_id = %s ORDER BY url""", (crawl_id,))).fetchall()
    return [{**row, "fetched_at": row["fetched_at"].isoformat()} for row in rows]
