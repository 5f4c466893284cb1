"""Ingestion jobs in PostgreSQL: a persisted state machine with an audit row per transition.

    queued → extracting → normalising → chunking → embedding → indexed
                      ↘ failed (from any state before indexed, with a reason)

A job's `state` names the stage it is in (or last reached); the stage's output is saved before
the job moves on, so after a crash the owner (the Ingestor actor) runs the stage again from its
input. Every change of state, every retry and every failure writes an `ingestion_audit` row in
the same transaction. Transitions are compare-and-set on the current state: a second attempt to
make the same move changes nothing and says so.

The Ingestor actor is the one writer of `ingestion_jobs` and `ingestion_audit`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

STAGES = ("queued", "extracting", "normalising", "chunking", "embedding")
TERMINAL = ("indexed", "failed")
STATES = STAGES + TERMINAL
_NEXT = {STAGES[i]: (STAGES + ("indexed",))[i + 1] for i in range(len(STAGES))}

_COLUMNS = ("id, document_id, source_id, input_uri, filename, media_type, payload_path, state, error, error_code, "
            "attempts, next_attempt_at, requested_by, request_id, title, visibility, content_sha256, "
            "progress_done, progress_total, result, created_at, updated_at")


@dataclass(frozen=True)
class Job:
    id: UUID
    document_id: int | None
    source_id: int | None
    input_uri: str
    filename: str | None
    media_type: str | None
    payload_path: str | None
    state: str
    error: str | None
    error_code: str | None
    attempts: int
    next_attempt_at: datetime
    requested_by: int | None
    request_id: str
    title: str | None
    visibility: str
    content_sha256: str | None
    progress_done: int
    progress_total: int
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def public(self) -> dict[str, Any]:
        """The job as the HTTP API and the CLI show it."""
        return {"id": str(self.id), "state": self.state, "input": self.input_uri, "filename": self.filename,
                "title": self.title, "document_id": self.document_id, "error": self.error,
                "error_code": self.error_code, "attempts": self.attempts,
                "progress": {"done": self.progress_done, "total": self.progress_total},
                "result": self.result, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def next_state(state: str) -> str:
    return _NEXT[state]


@dataclass(frozen=True)
class NewJob:
    id: UUID
    input_uri: str
    request_id: str
    filename: str | None = None
    media_type: str | None = None
    payload_path: str | None = None
    requested_by: int | None = None
    source_id: int | None = None
    visibility: str = "public"


async def create(conn: AsyncConnection[dict[str, Any]], job: NewJob, refusal: tuple[str, str] | None = None) -> Job:
    """The job, queued; with `refusal` (reason code, message) it is failed in the same transaction, so no
    worker ever sees it queued."""
    async with conn.transaction():
        row = await (await conn.execute(
            f"""INSERT INTO ingestion_jobs (id, input_uri, filename, media_type, payload_path, requested_by,
                                            source_id, visibility, request_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
            (job.id, job.input_uri, job.filename, job.media_type, job.payload_path, job.requested_by,
             job.source_id, job.visibility, job.request_id))).fetchone()
        await _audit(conn, job.id, None, "queued", "job created", job.request_id)
        created = Job(**row)
        if refusal is not None:
            return await fail(conn, created, *refusal) or created
    return created


async def get(conn: AsyncConnection[dict[str, Any]], job_id: UUID) -> Job | None:
    row = await (await conn.execute(f"SELECT {_COLUMNS} FROM ingestion_jobs WHERE id = %s", (job_id,))).fetchone()
    return Job(**row) if row else None


async def many(conn: AsyncConnection[dict[str, Any]], job_ids: list[UUID]) -> list[Job]:
    rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM ingestion_jobs WHERE id = ANY(%s)", (job_ids,))).fetchall()
    return [Job(**row) for row in rows]


async def recent(conn: AsyncConnection[dict[str, Any]], limit: int = 10) -> list[Job]:
    rows = await (await conn.execute(
        f"SELECT {_COLUMNS} FROM ingestion_jobs ORDER BY created_at DESC LIMIT %s", (limit,))).fetchall()
    return [Job(**row) for row in rows]


async def runnable(conn: AsyncConnection[dict[str, Any]], exclude: list[UUID], limit: int) -> list[Job]:
    """Unfinished jobs whose next attempt is due, oldest first, except those in `exclude`."""
    rows = await (await conn.execute(
        f"""SELECT {_COLUMNS} FROM ingestion_jobs
            WHERE state NOT IN ('indexed', 'failed') AND next_attempt_at <= now() AND NOT (id = ANY(%s))
            ORDER BY created_at LIMIT %s""", (exclude, limit))).fetchall()
    return [Job(**row) for row in rows]


async def audit_trail(conn: AsyncConnection[dict[str, Any]], job_id: UUID) -> list[dict[str, Any]]:
    return await (await conn.execute(
        "SELECT from_state, to_state, detail, request_id, at FROM ingestion_audit WHERE job_id = %s ORDER BY id",
        (job_id,))).fetchall()


async def advance(conn: AsyncConnection[dict[str, Any]], job: Job, *, detail: str = "",
                  **fields: Any) -> Job | None:
    """Move `job` from its state to the next one, setting `fields`; None if it was no longer there."""
    return await move(conn, job, next_state(job.state), detail=detail, attempts=0, error=None, **fields)


async def move(conn: AsyncConnection[dict[str, Any]], job: Job, to_state: str, *, detail: str = "",
               **fields: Any) -> Job | None:
    """Compare-and-set the state (with an audit row); must run inside the caller's transaction
    when other writes go with it. None when the job is not in `job.state` any more."""
    updates = {"state": to_state, **fields}
    assignments = ", ".join(f"{name} = %s" for name in updates)
    values = [Jsonb(v) if name == "result" else v for name, v in updates.items()]
    async with conn.transaction():
        row = await (await conn.execute(
            f"""UPDATE ingestion_jobs SET {assignments}, updated_at = now(), next_attempt_at = now()
                WHERE id = %s AND state = %s RETURNING {_COLUMNS}""", (*values, job.id, job.state))).fetchone()
        if row is None:
            return None
        await _audit(conn, job.id, job.state, to_state, detail, job.request_id)
    return Job(**row)


async def fail(conn: AsyncConnection[dict[str, Any]], job: Job, code: str, message: str) -> Job | None:
    return await move(conn, job, "failed", detail=f"{code}: {message}", error=message, error_code=code)


async def retry_later(conn: AsyncConnection[dict[str, Any]], job: Job, delay: timedelta, message: str) -> Job | None:
    """Keep the job in its state, count the attempt and hold it back for `delay`."""
    async with conn.transaction():
        row = await (await conn.execute(
            f"""UPDATE ingestion_jobs SET attempts = attempts + 1, next_attempt_at = now() + %s, error = %s,
                                          updated_at = now()
                WHERE id = %s AND state = %s RETURNING {_COLUMNS}""",
            (delay, message, job.id, job.state))).fetchone()
        if row is None:
            return None
        await _audit(conn, job.id, job.state, job.state,
                     f"attempt {row['attempts']} failed, retry in {delay.total_seconds():.0f} s: {message}",
                     job.request_id)
    return Job(**row)


async def progress(conn: AsyncConnection[dict[str, Any]], job_id: UUID, done: int, total: int) -> None:
    await conn.execute("UPDATE ingestion_jobs SET progress_done = %s, progress_total = %s, updated_at = now() "
                       "WHERE id = %s", (done, total, job_id))


async def _audit(conn: AsyncConnection[dict[str, Any]], job_id: UUID, from_state: str | None, to_state: str,
                 detail: str, request_id: str) -> None:
    await conn.execute("INSERT INTO ingestion_audit (job_id, from_state, to_state, detail, request_id) "
                       "VALUES (%s, %s, %s, %s, %s)", (job_id, from_state, to_state, detail[:2000], request_id))
