"""Admins manage web sources from Telegram: `/sources`, `/source_add`, `/sync <source>`,
`/source_pause <source>`, `/source_resume <source>`; thin over `core.app.sources.WebSources`.

`/source_add <name> <URL> [depth=N] [budget=N] [every=MINUTES] [lang=ar|fr|en]` creates the source
(or replaces its settings). `/sync` starts a crawl in the Crawler actor (or follows the one that
runs) and sends one status message that is edited with the live counts until the crawl ends, then
the final report as a new message. Non-admins are refused.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import CommandObject
from aiogram.types import Message
from aiogram.utils.formatting import Text
from loguru import logger

from bot.commands import admin_router, register
from bot.texts import Translator
from core.app.ports import Unavailable
from core.app.sources import SourceError, SourceSettings, UnknownSource, WebSources

POLL_S = 1.0
EDIT_EVERY_S = 2.0  # Telegram limits edits; the last counts always show in the final report
FOLLOW_LIMIT_S = 6 * 3600.0
_REPORT_PAGES = 15
_ICONS = {"kept": "✅", "unchanged": "▫️", "duplicate": "♊", "rejected": "🚫", "skipped": "⏭", "error": "❌"}
_OPTIONS = {"depth": "max_depth", "budget": "page_budget", "every": "schedule_minutes", "lang": "language_hint"}
_followers: set[asyncio.Task[None]] = set()


def parse_add(args: str) -> dict[str, Any] | None:
    """`<name> <URL> [key=value ...]` as the name and `SourceSettings` fields; None when malformed."""
    words = args.split()
    if len(words) < 2 or "=" in words[0] or "=" in words[1]:
        return None
    found: dict[str, Any] = {"name": words[0], "seed_urls": [words[1]]}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or key not in _OPTIONS or not value:
            return None
        if key == "lang":
            found[_OPTIONS[key]] = value.lower()
        elif value.isdigit():
            found[_OPTIONS[key]] = int(value)
        else:
            return None
    return found


def counts_text(t: Translator, key: str, name: str, counts: dict[str, int], **extra: Any) -> str:
    values = {k: counts.get(k, 0) for k in ("fetched", "kept", "unchanged", "duplicates", "rejected", "skipped",
                                             "errors")}
    return t(key, name=name, **values, **extra)


def report_text(t: Translator, name: str, crawl: dict[str, Any], source: dict[str, Any] | None = None) -> str:
    """The final report: counts, then the pages that were not kept (the first few), then a pause notice."""
    if crawl["state"] == "failed":
        lines = [t("sync_failed", name=name, error=crawl.get("error") or "?"),
                 counts_text(t, "sync_progress", name, crawl["counts"])]
    else:
        lines = [counts_text(t, "sync_done", name, crawl["counts"], seconds=f"{crawl.get('duration_s', 0):g}")]
    pages = crawl.get("pages") or []
    notable = [p for p in pages if p["outcome"] != "unchanged"]
    for page in notable[:_REPORT_PAGES]:
        reason = (page.get("reason") or "").replace("\n", " ")
        lines.append(Text(_ICONS.get(page["outcome"], "•"), " ", page["url"], " — ", reason[:160]).as_html())
    if len(notable) > _REPORT_PAGES:
        lines.append(f"… +{len(notable) - _REPORT_PAGES}")
    if source is not None and source.get("status") == "paused":
        lines.append(t("sync_source_paused", name=name, reason=source.get("pause_reason") or "?"))
    return "\n".join(lines)


async def list_sources(message: Message, web_sources: WebSources, t: Translator) -> None:
    try:
        found = await web_sources.list()
    except Unavailable:
        await message.answer(t("crawler_unavailable"))
        return
    if not found:
        await message.answer(t("sources_empty"))
        return
    lines = [t("sources_header")]
    for source in found:
        active = source["status"] == "active"
        status = t.plain("source_status_active") if active else \
            t.plain("source_status_paused", reason=source["pause_reason"] or "?")
        last = source["last_sync_at"][:16].replace("T", " ") + " UTC" if source["last_sync_at"] \
            else t.plain("source_never_synced")
        url = source["seed_urls"][0] if source["seed_urls"] else source["sitemap_url"] or ""
        lines.append(t("source_line", icon="🟢" if active else "⏸", name=source["name"], status=status, url=url,
                       last=last))
    await message.answer("\n".join(lines))


async def add_source(message: Message, command: CommandObject, web_sources: WebSources, t: Translator) -> None:
    parsed = parse_add(command.args or "")
    if parsed is None:
        await message.answer(t("source_add_usage"))
        return
    name = parsed.pop("name")
    try:
        source, _ = await web_sources.add(name, SourceSettings(**parsed))
    except SourceError as exc:
        await message.answer(t("source_invalid", error=str(exc)))
        return
    except Unavailable:
        await message.answer(t("crawler_unavailable"))
        return
    schedule = t("source_every", minutes=source["schedule_minutes"]) if source["schedule_minutes"] \
        else t("source_no_schedule")
    await message.answer(t("source_saved", name=source["name"], url=source["seed_urls"][0], depth=source["max_depth"],
                           budget=source["page_budget"], schedule=schedule))


async def _edit(bot: Bot, message: Message, text: str) -> None:
    try:
        await bot.edit_message_text(text, chat_id=message.chat.id, message_id=message.message_id)
    except TelegramAPIError as exc:  # "message is not modified", deleted, ...: progress is cosmetic
        logger.info("sync progress not edited", error=str(exc))


async def follow(bot: Bot, chat_id: int, web_sources: WebSources, name: str, crawl_id: int, t: Translator) -> None:
    """One status message edited with the live counts until the crawl ends, then the final report."""
    loop = asyncio.get_running_loop()
    shown = counts_text(t, "sync_progress", name, {})
    progress = await bot.send_message(chat_id, shown)
    edited_at = loop.time()
    try:
        async for status in web_sources.follow(name, crawl_id, poll_s=POLL_S, limit_s=FOLLOW_LIMIT_S):
            crawl = status["crawl"]
            text = counts_text(t, "sync_progress", name, crawl["counts"])
            finished = crawl["state"] != "running"
            if text != shown and (finished or loop.time() - edited_at >= EDIT_EVERY_S):
                await _edit(bot, progress, text)
                shown, edited_at = text, loop.time()
            if finished:
                await bot.send_message(chat_id, report_text(t, name, crawl, status["source"]))
    except SourceError as exc:
        await bot.send_message(chat_id, t("sync_failed", name=name, error=str(exc)))


def _source_name(command: CommandObject) -> str | None:
    """The one word after the command: a source's name; None when missing or more than one word."""
    name = (command.args or "").strip()
    return name if name and " " not in name else None


async def sync(message: Message, command: CommandObject, bot: Bot, web_sources: WebSources, t: Translator) -> None:
    name = _source_name(command)
    if name is None:
        await message.answer(t("sync_usage"))
        return
    try:
        started = await web_sources.sync(name)
    except UnknownSource:
        await message.answer(t("source_unknown", name=name))
        return
    except Unavailable:
        await message.answer(t("crawler_unavailable"))
        return
    except SourceError as exc:
        await message.answer(t("sync_failed", name=name, error=str(exc)))
        return
    if started.already_running:
        await message.answer(t("sync_running", name=name))
    task = asyncio.create_task(follow(bot, message.chat.id, web_sources, name, started.crawl["id"], t))
    _followers.add(task)
    task.add_done_callback(_followers.discard)


async def pause(message: Message, command: CommandObject, web_sources: WebSources, t: Translator) -> None:
    await _change(message, command, web_sources.pause, "source_pause_usage", "source_paused_now", t)


async def resume(message: Message, command: CommandObject, web_sources: WebSources, t: Translator) -> None:
    await _change(message, command, web_sources.resume, "source_resume_usage", "source_resumed_now", t)


async def _change(message: Message, command: CommandObject, change: Callable[[str], Awaitable[Any]], usage: str,
                  done: str, t: Translator) -> None:
    name = _source_name(command)
    if name is None:
        await message.answer(t(usage))
        return
    try:
        await change(name)
    except UnknownSource:
        await message.answer(t("source_unknown", name=name))
        return
    except Unavailable:
        await message.answer(t("crawler_unavailable"))
        return
    await message.answer(t(done, name=name))


def make_router() -> Router:
    return register(admin_router("sources"), {"sources": list_sources, "source_add": add_source, "sync": sync,
                                              "source_pause": pause, "source_resume": resume})
