"""Following ingestion jobs until they end, on every surface: the bot tells the chat a job came from
how it ended, `ustadh ingest` and `ustadh eval` show a progress bar over theirs.

The Ingestor owns the jobs (`JobOwner`); this is the one home of the follow loop: one query per
poll for all the jobs still running, riding out an Ingestor restart (`Unavailable`) until
`limit_s`, a job finished when `indexed` or `failed`.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from core.app.ports import JobOwner, Unavailable

FINISHED = ("indexed", "failed")


async def follow_jobs(owner: JobOwner, queued: list[dict[str, Any]], *, poll_s: float, limit_s: float
                      ) -> AsyncIterator[list[dict[str, Any]]]:
    """Every job's latest state, in the order given, after each poll until all have finished (the
    last list yielded) or `limit_s` has passed."""
    latest = {job["id"]: job for job in queued}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while any(job["state"] not in FINISHED for job in latest.values()) and loop.time() < deadline:
        await asyncio.sleep(poll_s)
        try:
            running = [i for i, job in latest.items() if job["state"] not in FINISHED]
            latest.update({job["id"]: job for job in await owner.jobs(running)})
        except Unavailable:
            continue
        yield [latest[job["id"]] for job in queued]
