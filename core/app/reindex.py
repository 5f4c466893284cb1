"""Reindexing on every surface (bot /reindex, `POST /admin/reindex`, `ustadh reindex`): start the
Ingestor's reindex job, or find the one that runs, and follow it until it ends.

One job runs at a time across the system (the Ingestor owns it), whichever surface started it; a
surface that asks while one runs is told so and may follow it. An Ingestor restart ends the job
(its status lives in the actor's memory) and following stops with the last status seen, still
"running"; the next start finishes the work, which embeds only what is still missing.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from core.app.ports import ReindexOwner, Unavailable


class Reindexing:
    def __init__(self, owner: ReindexOwner) -> None:
        self.owner = owner

    async def start(self) -> dict[str, Any]:
        """The job's status, with `already_running` true when one was running (and no new one started)."""
        return await self.owner.start_reindex()

    async def status(self) -> dict[str, Any] | None:
        """The running or latest job, None when none ran since the Ingestor started."""
        return await self.owner.reindex_status()

    async def follow(self, job_id: str, *, poll_s: float, limit_s: float) -> AsyncIterator[dict[str, Any]]:
        """The job's status every `poll_s` until it ends (the last one yielded), is gone or `limit_s` passed."""
        loop = asyncio.get_running_loop()
        deadline, seen = loop.time() + limit_s, False
        while loop.time() < deadline:
            try:
                job = await self.owner.reindex_status()
            except Unavailable:
                job = None
            if job is None or job["id"] != job_id:
                if seen:
                    return  # the Ingestor restarted: the job is over, its last status was the last yielded
            else:
                seen = True
                yield job
                if job["state"] != "running":
                    return
            await asyncio.sleep(poll_s)
