"""HTTP surface of web sources (admins), thin over `core.app.sources.WebSources`:

    GET  /admin/sources                  the crawlable sources
    POST /admin/sources                  create a source (201) or replace its settings (200)
    GET  /admin/sources/{name}           the source and its running or latest crawl (live counts;
                                         per-page outcomes and reasons)
    POST /admin/sources/{name}/sync      start a crawl: 202 with the crawl, or the running one with
                                         `already_running: true`
    POST /admin/sources/{name}/pause     no scheduled syncs; a running crawl is stopped
    POST /admin/sources/{name}/resume    scheduled syncs again

Poll `GET /admin/sources/{name}` until `crawl.state` is `done` or `failed`. An unknown source is a
404, invalid settings a 422, a crawl that keeps running and ending under a sync a 409 (rare),
the Crawler restarting a 503.
"""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from actors.clients.sources import Crawls
from core.app.ports import Unavailable
from core.app.sources import NAME, CrawlRunning, SourceError, SourceSettings, UnknownSource, WebSources
from serve_app import strict_json
from serve_app.deps import admin

router = strict_json.router(prefix="/admin/sources", tags=["sources"], dependencies=[Depends(admin)])
web_sources = WebSources(Crawls())
SourceName = Annotated[str, Path(pattern=NAME.pattern)]
T = TypeVar("T")


class SourceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(pattern=NAME.pattern)
    seed_urls: list[str] = Field(default_factory=list, max_length=50)
    sitemap_url: str | None = None
    allow_patterns: list[str] = Field(default_factory=list, max_length=50)
    language_hint: str | None = Field(None, pattern="^(ar|fr|en)$")
    max_depth: int = Field(2, ge=0, le=10)
    page_budget: int = Field(100, ge=1, le=100_000)
    schedule_minutes: int | None = Field(None, ge=1, le=525_600)
    visibility: str = Field("public", pattern="^(public|admin)$")


class SourceOut(BaseModel):
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
    status: str = Field(description="active | paused")
    pause_reason: str | None
    last_sync_at: str | None
    consecutive_failures: int
    created_at: str | None


class SourcesOut(BaseModel):
    sources: list[SourceOut]


class PageOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str
    outcome: str = Field(description="kept | unchanged | duplicate | rejected | skipped | error")
    reason: str | None = None
    document_id: int | None = None


class CrawlOut(BaseModel):
    id: int
    source: str
    state: str = Field(description="running | done | failed")
    trigger: str
    counts: dict[str, int]
    error: str | None
    started_at: str
    finished_at: str | None
    duration_s: float
    pages: list[PageOut] = Field(default_factory=list)


class StatusOut(BaseModel):
    source: SourceOut
    crawl: CrawlOut | None


class SyncOut(BaseModel):
    crawl: CrawlOut
    already_running: bool


async def _answer(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except UnknownSource as exc:
        raise HTTPException(404, str(exc)) from None
    except CrawlRunning as exc:
        raise HTTPException(409, str(exc)) from None
    except SourceError as exc:
        raise HTTPException(422, str(exc)) from None
    except Unavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.get("")
async def list_sources() -> SourcesOut:
    return SourcesOut(sources=[SourceOut(**s) for s in await _answer(web_sources.list())])


@router.post("", status_code=201, response_model=SourceOut,
             responses={200: {"model": SourceOut, "description": "settings replaced"}})
async def save_source(new: SourceIn) -> JSONResponse:
    settings = SourceSettings(**new.model_dump(exclude={"name"}))
    source, created = await _answer(web_sources.add(new.name, settings))
    return JSONResponse(SourceOut(**source).model_dump(), status_code=201 if created else 200)


@router.get("/{name}")
async def source_status(name: SourceName) -> StatusOut:
    return StatusOut(**await _answer(web_sources.status(name)))


@router.post("/{name}/sync", status_code=202)
async def sync(name: SourceName) -> SyncOut:
    started = await _answer(web_sources.sync(name))
    return SyncOut(crawl=CrawlOut(**started.crawl), already_running=started.already_running)


@router.post("/{name}/pause")
async def pause(name: SourceName) -> SourceOut:
    return SourceOut(**await _answer(web_sources.pause(name)))


@router.post("/{name}/resume")
async def resume(name: SourceName) -> SourceOut:
    return SourceOut(**await _answer(web_sources.resume(name)))
