"""HTTP surface of reindexing (admins), thin over `core.app.reindex.Reindexing`:

    POST /admin/reindex   start the reindex job: 202 with its status, or the running one's with
                          `already_running: true`
    GET  /admin/reindex   the running or latest job (404 before the first since the Ingestor started)

Poll the GET until `state` is `done` or `failed`; a failed or interrupted job is finished by
starting another (it embeds only what is still missing).
"""
from __future__ import annotations

from fastapi import Depends, HTTPException
from pydantic import BaseModel, Field

from core.app.ports import Unavailable
from serve_app import strict_json
from serve_app.deps import Res, admin

router = strict_json.router(prefix="/admin/reindex", tags=["admin"], dependencies=[Depends(admin)])


class ReindexOut(BaseModel):
    id: str
    state: str = Field(description="running | done | failed")
    collection: str | None = Field(description="the collection being filled; null while counting")
    done: int = Field(description="chunks embedded")
    total: int = Field(description="chunks that had no vector from the current model")
    error: str | None
    started_at: str
    finished_at: str | None


class StartedOut(ReindexOut):
    already_running: bool


@router.post("", status_code=202)
async def start(res: Res) -> StartedOut:
    try:
        return StartedOut(**await res.reindexing.start())
    except Unavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.get("")
async def status(res: Res) -> ReindexOut:
    try:
        job = await res.reindexing.status()
    except Unavailable as exc:
        raise HTTPException(503, str(exc)) from None
    if job is None:
        raise HTTPException(404, "no reindex has run since the ingestor started")
    return ReindexOut(**job)
