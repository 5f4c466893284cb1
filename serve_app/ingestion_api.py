"""HTTP surface of ingestion (admins): queue a file or a URL, and follow a job.

    POST /ingestion/jobs   multipart: file=<upload> | url=<http(s) URL>, [visibility], [uri]
    GET  /ingestion/jobs/{id}
    GET  /ingestion/jobs?limit=

A queued job answers 202 with the job. A file over INGEST_MAX_MB answers 413: at once, before the
body is read, when the request declares its length (`serve_app.body_limit`), else with the job
that records the refusal. Bad jobs (corrupt PDF, empty text, ...) end `failed` with `error_code` and
`error`; poll the job until `state` is `indexed` or `failed`.
"""
from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import File, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from actors.clients.ingestion import IngestionUnavailable
from serve_app import strict_json
from serve_app.deps import Admin, Res

router = strict_json.router(prefix="/ingestion", tags=["ingestion"])
UPLOAD_PATH = "/ingestion/jobs"  # its body limit is INGEST_MAX_MB (serve_app.gateway)


class ProgressOut(BaseModel):
    done: int
    total: int


class JobOut(BaseModel):
    """An ingestion job as `core.ingest.jobs.Job.public` shows it."""

    id: str
    state: str = Field(description="queued, extracting, chunking, embedding, indexing, done, failed, ...")
    input: str
    filename: str | None
    title: str | None
    document_id: int | None
    error: str | None
    error_code: str | None = Field(description="e.g. too_large, unsupported_type, fetch_failed")
    attempts: int
    progress: ProgressOut
    result: dict[str, Any] | None
    created_at: str
    updated_at: str


class JobsOut(BaseModel):
    jobs: list[JobOut]


@router.post("/jobs", status_code=202, response_model=JobOut,
             responses={413: {"model": JobOut, "description": "the file is over INGEST_MAX_MB: the job failed"}})
async def create_job(caller: Admin, res: Res,
                     file: Annotated[UploadFile | None, File()] = None,
                     url: Annotated[str | None, Form(max_length=2000)] = None,
                     visibility: Annotated[str, Form(pattern="^(public|admin)$")] = "public",
                     uri: Annotated[str | None, Form(min_length=1, max_length=2000)] = None) -> JSONResponse:
    if (file is None) == (url is None):
        raise HTTPException(422, "send exactly one of: a file (multipart field 'file') or a 'url'")
    try:
        if file is not None:
            data = await file.read(res.settings.ingest_max_bytes + 1)
            job = await res.ingestion.submit_file(data, file.filename, media_type=file.content_type, uri=uri,
                                                  requested_by=caller.user_id, visibility=visibility)
        else:
            job = await res.ingestion.submit_url(url or "", requested_by=caller.user_id, visibility=visibility)
    except IngestionUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return JSONResponse(JobOut.model_validate(job).model_dump(), status_code=413 if job["error_code"] == "too_large" else 202)


@router.get("/jobs/{job_id}")
async def get_job(job_id: UUID, _: Admin,
                  res: Res) -> JobOut:
    job = await _unavailable_as_503(res.ingestion.job(str(job_id)))
    if job is None:
        raise HTTPException(404, f"no ingestion job {job_id}")
    return JobOut.model_validate(job)


@router.get("/jobs")
async def list_jobs(_: Admin, res: Res,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20) -> JobsOut:
    return JobsOut(jobs=[JobOut.model_validate(j) for j in await _unavailable_as_503(res.ingestion.recent(limit))])


async def _unavailable_as_503(pending: Any) -> Any:
    try:
        return await pending
    except IngestionUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
