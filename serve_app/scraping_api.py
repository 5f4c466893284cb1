"""HTTP surface of web-source crawls (admins).

    POST /admin/scraping/{source}/sync   start a crawl: 202 with the crawl; 409 if one runs, 404 unknown source
    GET  /admin/scraping/{source}        the source and its running or latest crawl (live counts; per-page
                                         outcomes and reasons once it ended)

Poll the GET until `crawl.state` is `done` or `failed`.
"""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException
from fastapi.responses import JSONResponse

from actors.crawler import CrawlerUnavailable, Crawls
from core.db.api_tokens import Principal
from core.scrape.sources import CrawlRunning, SourceError, UnknownSource
from serve_app import strict_json
from serve_app.deps import admin

router = strict_json.router(prefix="/admin/scraping", tags=["scraping"])
crawls = Crawls()
T = TypeVar("T")


async def _answer(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except UnknownSource as exc:
        raise HTTPException(404, str(exc)) from None
    except CrawlRunning as exc:
        raise HTTPException(409, str(exc)) from None
    except SourceError as exc:
        raise HTTPException(422, str(exc)) from None
    except CrawlerUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.post("/{source}/sync", status_code=202)
async def sync(source: str, _: Annotated[Principal, Depends(admin)]) -> JSONResponse:
    return JSONResponse(await _answer(crawls.sync(source)), status_code=202)


@router.get("/{source}")
async def status(source: str, _: Annotated[Principal, Depends(admin)]) -> dict[str, Any]:
    return await _answer(crawls.status(source))
