"""`ustadh sync <source>`: one crawl of a web source through the running system, with a progress bar.

Like `ustadh ingest`, it joins the running system's Ray cluster and asks its Crawler actor to sync
the source (following the crawl that already runs, if any); the bar counts page fetches against the
source's page budget and shows the live outcome counts; the final report lists every page with its
outcome and reason. Exit status 1 if the crawl failed.
"""
from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tqdm import tqdm

from core.config import Settings

_POLL_S = 0.5


async def sync(name: str, quiet: bool = False) -> dict[str, Any]:
    """Start (or follow) a crawl of `name` until it ends; {"source", "crawl"} as the Crawler reports them."""
    from actors.crawler import Crawls
    from core.scrape.sources import CrawlRunning

    crawls = Crawls()
    try:
        crawl = await crawls.sync(name)
    except CrawlRunning:
        crawl = (await crawls.status(name))["crawl"]
    status = await crawls.status(name)
    with tqdm(total=status["source"]["page_budget"], unit="page", desc=f"syncing {name}", disable=quiet) as bar:
        while True:
            current = status["crawl"]
            if current is not None and current["id"] == crawl["id"]:
                counts = current["counts"]
                bar.n = min(counts.get("fetched", 0), bar.total)
                bar.set_postfix({k: counts.get(k, 0) for k in ("kept", "unchanged", "duplicates", "rejected",
                                                               "skipped", "errors")})
                bar.refresh()
                if current["state"] != "running":
                    return status
            await asyncio.sleep(_POLL_S)
            status = await crawls.status(name)


def report(status: dict[str, Any]) -> str:
    crawl = status["crawl"]
    counts = ", ".join(f"{k} {v}" for k, v in crawl["counts"].items() if k != "pending")
    lines = [f"crawl #{crawl['id']} of {status['source']['name']}: {crawl['state']}"
             + (f" ({crawl['error']})" if crawl.get("error") else "") + f": {counts}"]
    lines += [f"{page['outcome']:<9} {page['url']}: {page.get('reason') or ''}" for page in crawl.get("pages") or []]
    if status["source"]["status"] == "paused":
        lines.append(f"source paused: {status['source']['pause_reason']}")
    return "\n".join(lines)


def run_sync(settings: Settings, args: argparse.Namespace) -> int:
    from core.scrape.sources import SourceError
    from ops.ray_local import join_running_system

    join_running_system(settings)
    try:
        status = asyncio.run(sync(args.source))
    except SourceError as exc:
        print(f"ustadh sync: {exc}")
        return 1
    print(report(status))
    return 1 if status["crawl"]["state"] == "failed" else 0
