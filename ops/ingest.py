"""`ustadh ingest PATH|URL...` and `ustadh reindex`: ingestion driven from the command line.

Both work through the running system's actors (the Ingestor owns the corpus; Milvus Lite has a
single opener), joined over Ray like `ustadh jobs expire`. `ingest` queues one job per path or URL
(a directory is walked for the supported file types) and shows a progress bar of chunks embedded
until every job is indexed or failed, then one line per job; exit status 1 if any failed.
`reindex` starts the Ingestor's reindex job (or follows the one that runs; `core.app.reindex`, as
the bot's /reindex and `POST /admin/reindex`): every chunk the current embedding model has no vector
for is embedded into that model's collection, with a progress bar, then that collection becomes
the one readers use (until then they keep using the previous one: no downtime).
"""
from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.config import Settings

SUFFIXES = {".pdf", ".html", ".htm", ".md", ".markdown", ".txt", ".text", ".docx"}
_FOLLOW_LIMIT_S = 24 * 3600.0
_POLL_S = 0.5


def inputs(items: list[str]) -> list[str]:
    """URLs as given; files as absolute paths; directories walked for supported files, sorted."""
    found: list[str] = []
    for item in items:
        path = Path(item)
        if item.startswith(("http://", "https://")):
            found.append(item)
        elif path.is_dir():
            found.extend(str(p.resolve()) for p in sorted(path.rglob("*")) if p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            found.append(str(path.resolve()))
        else:
            raise FileNotFoundError(f"no such file or directory: {item}")
    return found


async def ingest(items: list[str], visibility: str, quiet: bool = False) -> list[dict[str, Any]]:
    from actors.clients.ingestion import Ingestion

    client = Ingestion()
    queued = [await _submit(client, item, visibility) for item in items]
    return await ingest_jobs(client, queued, desc="ingesting", quiet=quiet)


async def ingest_jobs(client: Any, queued: list[dict[str, Any]], *, desc: str,
                      quiet: bool = False) -> list[dict[str, Any]]:
    """Wait for queued jobs with a progress bar of chunks embedded; the finished jobs, in order."""
    from core.app.ingestion import follow_jobs

    latest = queued
    with tqdm(total=0, unit="chunk", desc=desc, disable=quiet) as bar:
        async for latest in follow_jobs(client, queued, poll_s=_POLL_S, limit_s=_FOLLOW_LIMIT_S):
            _update(bar, latest)
    return latest


async def _submit(client: Any, item: str, visibility: str) -> dict[str, Any]:
    if item.startswith(("http://", "https://")):
        return await client.submit_url(item, visibility=visibility)
    path = Path(item)
    data = await asyncio.to_thread(path.read_bytes)
    return await client.submit_file(data, path.name, uri=path.as_uri(), visibility=visibility)


def _update(bar: tqdm, jobs: list[dict[str, Any]]) -> None:
    bar.total = sum(job["progress"]["total"] for job in jobs)
    bar.n = sum(job["progress"]["done"] if job["state"] != "indexed" else job["progress"]["total"] for job in jobs)
    bar.set_postfix(jobs=f"{sum(job['state'] in ('indexed', 'failed') for job in jobs)}/{len(jobs)}")
    bar.refresh()


def summary(job: dict[str, Any]) -> str:
    if job["state"] == "failed":
        return f"failed   {job['input']}: {job['error_code']}: {job['error']}"
    result = job["result"] or {}
    if result.get("unchanged"):
        return f"indexed  {job['input']}: unchanged, nothing to do"
    return f"indexed  {job['input']}: {result.get('chunks', 0)} chunks ({result.get('language', '?')})"


async def reindex(quiet: bool = False) -> dict[str, Any] | None:
    """Start the Ingestor's reindex job (or follow the running one) until it ends; its last status."""
    from actors.clients.ingestion import Ingestion
    from core.app.reindex import Reindexing

    reindexing = Reindexing(Ingestion())
    job, last = await reindexing.start(), None
    with tqdm(unit="chunk", desc="reindexing", disable=quiet) as bar:
        async for last in reindexing.follow(job["id"], poll_s=0.5, limit_s=24 * 3600.0):
            bar.total, bar.n = last["total"], last["done"]
            bar.refresh()
    return last


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from ops.ray_local import join_running_system

    items = inputs(args.paths)
    if not items:
        print("nothing to ingest: no supported files (" + ", ".join(sorted(SUFFIXES)) + ")")
        return 1
    join_running_system(settings)
    results = asyncio.run(ingest(items, args.visibility))
    print("\n".join(summary(job) for job in results))
    return 1 if any(job["state"] == "failed" for job in results) else 0


def run_reindex(settings: Settings, _: argparse.Namespace) -> int:
    from ops.ray_local import join_running_system

    join_running_system(settings)
    job = asyncio.run(reindex())
    if job is None or job["state"] != "done":
        reason = "the ingestor restarted" if job is None or job["state"] == "running" else job["error"]
        print(f"reindex stopped after {job['done'] if job else 0} chunks ({reason}); run it again to finish")
        return 1
    print(f"collection {job['collection']} is active: every chunk has a vector from its model")
    return 0
