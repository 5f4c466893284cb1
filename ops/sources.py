"""`ustadh sources add|list|pause|resume` and `ustadh sync <source>`: web sources from the command
line, through the running system, by `core.app.sources.WebSources` as the bot and the HTTP routes.

Each joins the running system's Ray cluster and asks its Crawler actor (the sources' one writer).
`sync` starts a crawl (or follows the one that runs) with a progress bar counting page fetches
against the source's page budget and the live outcome counts; the final report lists every page
with its outcome and reason. Exit status 1 if the crawl failed or the request was refused.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tqdm import tqdm

from core.app.sources import LANGUAGES, SourceError, SourceSettings, WebSources
from core.config import Settings

_POLL_S = 0.5
_FOLLOW_LIMIT_S = 6 * 3600.0


def add_arguments(command: argparse.ArgumentParser) -> None:
    actions = command.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a web source, or replace its settings")
    add.add_argument("name")
    add.add_argument("url", nargs="+", help="seed URL(s)")
    add.add_argument("--sitemap")
    add.add_argument("--allow", action="append", default=[], help="allowed URL pattern (glob, or re:...)")
    add.add_argument("--lang", choices=LANGUAGES)
    add.add_argument("--depth", type=int, default=2)
    add.add_argument("--budget", type=int, default=100, help="page fetches per crawl")
    add.add_argument("--every", type=int, help="minutes between scheduled syncs (none: manual only)")
    add.add_argument("--visibility", choices=("public", "admin"), default="public")
    actions.add_parser("list", help="the web sources, their status and last sync")
    for name, help_text in (("pause", "stop scheduled syncs (and a running crawl)"),
                            ("resume", "scheduled syncs again")):
        actions.add_parser(name, help=help_text).add_argument("name")


def line(source: dict[str, Any]) -> str:
    url = source["seed_urls"][0] if source["seed_urls"] else source["sitemap_url"] or ""
    status = source["status"] + (f" ({source['pause_reason']})" if source["pause_reason"] else "")
    every = f"every {source['schedule_minutes']} min" if source["schedule_minutes"] else "manual"
    return f"{source['name']}\t{status}\t{every}\t{source['last_sync_at'] or 'never synced'}\t{url}"


async def act(web_sources: WebSources, args: argparse.Namespace) -> str:
    if args.action == "add":
        settings = SourceSettings(args.url, args.sitemap, args.allow, args.lang, args.depth, args.budget, args.every,
                                  args.visibility)
        source, created = await web_sources.add(args.name, settings)
        return ("created " if created else "updated ") + line(source)
    if args.action == "list":
        return "\n".join(line(s) for s in await web_sources.list()) or "no web sources"
    change = web_sources.pause if args.action == "pause" else web_sources.resume
    return line(await change(args.name))


async def sync(web_sources: WebSources, name: str, quiet: bool = False) -> dict[str, Any]:
    """Start (or follow) a crawl of `name` until it ends; {"source", "crawl"} as the Crawler reports them."""
    started = await web_sources.sync(name)
    budget = (await web_sources.status(name))["source"]["page_budget"]
    status: dict[str, Any] = {}
    with tqdm(total=budget, unit="page", desc=f"syncing {name}", disable=quiet) as bar:
        async for status in web_sources.follow(name, started.crawl["id"], poll_s=_POLL_S, limit_s=_FOLLOW_LIMIT_S):
            counts = status["crawl"]["counts"]
            bar.n = min(counts.get("fetched", 0), bar.total)
            bar.set_postfix({k: counts.get(k, 0) for k in ("kept", "unchanged", "duplicates", "rejected", "skipped",
                                                           "errors")})
            bar.refresh()
    return status


def report(status: dict[str, Any]) -> str:
    crawl = status["crawl"]
    counts = ", ".join(f"{k} {v}" for k, v in crawl["counts"].items() if k != "pending")
    lines = [f"crawl #{crawl['id']} of {status['source']['name']}: {crawl['state']}"
             + (f" ({crawl['error']})" if crawl.get("error") else "") + f": {counts}"]
    lines += [f"{page['outcome']:<9} {page['url']}: {page.get('reason') or ''}" for page in crawl.get("pages") or []]
    if status["source"]["status"] == "paused":
        lines.append(f"source paused: {status['source']['pause_reason']}")
    return "\n".join(lines)


def _web_sources(settings: Settings) -> WebSources:
    from actors.clients.sources import Crawls
    from ops.ray_local import join_running_system

    join_running_system(settings)
    return WebSources(Crawls())


def run_sources(settings: Settings, args: argparse.Namespace) -> int:
    web_sources = _web_sources(settings)
    try:
        print(asyncio.run(act(web_sources, args)))
    except SourceError as exc:
        print(f"ustadh sources: {exc}", file=sys.stderr)
        return 1
    return 0


def run_sync(settings: Settings, args: argparse.Namespace) -> int:
    web_sources = _web_sources(settings)
    try:
        status = asyncio.run(sync(web_sources, args.source))
    except SourceError as exc:
        print(f"ustadh sync: {exc}", file=sys.stderr)
        return 1
    if not status:
        print(f"ustadh sync: the crawl of {args.source} did not end within {_FOLLOW_LIMIT_S / 3600:g} h")
        return 1
    print(report(status))
    return 1 if status["crawl"]["state"] == "failed" else 0
