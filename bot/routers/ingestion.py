"""Admins feed the corpus from Telegram: send a file, `/ingest <URL>`, or `/ingest` in reply to a
message with a file (e.g. one a teacher posted in a group); `/jobs` lists recent jobs.

Each queued job is followed in the background and its outcome (indexed with N passages, or failed
with the reason in the admin's language) is sent to the chat it came from. Non-admins who send a
file are told that only admins add material.
"""
from __future__ import annotations

import asyncio
from io import BytesIO
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject
from aiogram.types import Document, Message
from loguru import logger

from actors.clients.ingestion import Ingestion, IngestionUnavailable
from bot.commands import admin_router, register
from bot.texts import CATALOG, Translator
from core.app.ingestion import FINISHED, follow_jobs
from core.config import Settings
from core.user import User

_FOLLOW_POLL_S = 2.0
_FOLLOW_LIMIT_S = 3600.0
_ICONS = {"indexed": "✅", "failed": "❌"}
_followers: set[asyncio.Task[None]] = set()


def reason_text(t: Translator, job: dict[str, Any]) -> str:
    """Plain text, like `job_name`: the message's `t(...)` escapes both once."""
    key = f"reason_{job['error_code']}"
    return t.plain(key) if key in CATALOG else job["error"] or ""


def job_name(job: dict[str, Any]) -> str:
    name = job["title"] or job["filename"] or job["input"]
    return name if len(name) <= 60 else name[:59] + "…"


def outcome_text(t: Translator, job: dict[str, Any]) -> str:
    if job["state"] == "failed":
        return t("ingest_failed", name=job_name(job), reason=reason_text(t, job))
    result = job["result"] or {}
    if result.get("unchanged"):
        return t("ingest_unchanged", name=job_name(job))
    return t("ingest_indexed", name=job_name(job), chunks=result.get("chunks", 0), language=result.get("language", "?"))


def job_line(t: Translator, job: dict[str, Any]) -> str:
    state = job["state"]
    label = t.plain(f"job_state_{state}", done=job["progress"]["done"], total=job["progress"]["total"],
              chunks=(job["result"] or {}).get("chunks", 0))
    extra = f": {reason_text(t, job)}" if state == "failed" else ""
    return t("job_line", icon=_ICONS.get(state, "⏳"), name=job_name(job), state=label, extra=extra)


async def _follow(bot: Bot, chat_id: int, job: dict[str, Any], ingestion: Ingestion, t: Translator) -> None:
    """Tell the chat how the job ended (the job runs in the ingestor actor)."""
    async for (latest,) in follow_jobs(ingestion, [job], poll_s=_FOLLOW_POLL_S, limit_s=_FOLLOW_LIMIT_S):
        if latest["state"] in FINISHED:
            await bot.send_message(chat_id, outcome_text(t, latest))


def _queued(message: Message, bot: Bot, job: dict[str, Any], ingestion: Ingestion, t: Translator) -> str:
    if job["state"] in FINISHED:
        return outcome_text(t, job)
    task = asyncio.create_task(_follow(bot, message.chat.id, job, ingestion, t))
    _followers.add(task)
    task.add_done_callback(_followers.discard)
    return t("ingest_queued", job=job["id"][:8], name=job_name(job))


async def ingest_file(message: Message, bot: Bot, user: User, ingestion: Ingestion, settings: Settings,
                      t: Translator) -> None:
    assert message.document is not None
    await _ingest_document(message, message.document, bot, user, ingestion, settings, t)


async def _ingest_document(message: Message, document: Document, bot: Bot, user: User, ingestion: Ingestion,
                           settings: Settings, t: Translator) -> None:
    """Download `document` and queue it; the replies go to `message`'s chat."""
    if document.file_size and document.file_size > settings.ingest_max_bytes:
        await message.answer(t("ingest_too_large", size=f"{document.file_size / 1048576:.1f}",
                               limit=f"{settings.INGEST_MAX_MB:g}"))
        return
    buffer = BytesIO()
    await bot.download(document, destination=buffer)
    try:
        job = await ingestion.submit_file(buffer.getvalue(), document.file_name, media_type=document.mime_type,
                                          requested_by=user.id)
    except IngestionUnavailable as exc:
        logger.warning("ingestion unavailable", error=str(exc))
        await message.answer(t("ingest_unavailable"))
        return
    await message.answer(_queued(message, bot, job, ingestion, t))


async def ingest_command(message: Message, command: CommandObject, bot: Bot, user: User, ingestion: Ingestion,
                         settings: Settings, t: Translator) -> None:
    """`/ingest <URL>`, or `/ingest` in reply to a message with a file: that file, as if it were sent."""
    url = (command.args or "").strip()
    replied = message.reply_to_message
    if not url:
        if replied is not None and replied.document is not None:
            await _ingest_document(message, replied.document, bot, user, ingestion, settings, t)
        else:
            await message.answer(t("ingest_reply_usage"))
        return
    if " " in url:
        await message.answer(t("ingest_usage"))
        return
    try:
        job = await ingestion.submit_url(url, requested_by=user.id)
    except IngestionUnavailable:
        await message.answer(t("ingest_unavailable"))
        return
    await message.answer(_queued(message, bot, job, ingestion, t))


async def list_jobs(message: Message, ingestion: Ingestion, t: Translator) -> None:
    try:
        recent = await ingestion.recent(10)
    except IngestionUnavailable:
        await message.answer(t("ingest_unavailable"))
        return
    if not recent:
        await message.answer(t("jobs_empty"))
        return
    await message.answer("\n".join([t("jobs_header"), *(job_line(t, job) for job in recent)]))


def make_router() -> Router:
    router = register(admin_router("ingestion"), {"ingest": ingest_command, "jobs": list_jobs})
    router.message.register(ingest_file, F.document)
    return router
