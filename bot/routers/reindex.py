"""`/reindex` (admins): embed every chunk the current embedding model has no vector for, from Telegram.

Thin over `core.app.reindex.Reindexing`: it starts the Ingestor's reindex job (one at a time across
the system, whichever surface started it: a second /reindex while one runs is told so) and follows
it in a background task, so the bot keeps answering; one progress message is edited as it goes, and
the end (or a stop, e.g. the ingestor restarting) is sent as a new message.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message
from loguru import logger

from bot.commands import admin_router, register
from bot.texts import Translator
from core.app.ports import Unavailable
from core.app.reindex import Reindexing
from core.config import Settings
from core.embeddings import uses_openai
from core.embeddings.offline import OfflineEmbedder

POLL_S = 1.0
FOLLOW_LIMIT_S = 24 * 3600.0
_EDIT_EVERY_S = 2.0  # Telegram limits edits; the last count is always shown
_followers: set[asyncio.Task[None]] = set()


def embedding_model(settings: Settings) -> str:
    """The model the embedding batcher uses with these settings (as `core.embeddings.make_embedder`)."""
    return settings.EMBEDDING_MODEL if uses_openai(settings) else OfflineEmbedder.name


async def _edit(bot: Bot, message: Message, text: str) -> None:
    try:
        await bot.edit_message_text(text, chat_id=message.chat.id, message_id=message.message_id)
    except TelegramAPIError as exc:  # e.g. "message is not modified" or deleted: progress is cosmetic
        logger.info("reindex progress not edited", error=str(exc))


async def follow(bot: Bot, chat_id: int, reindexing: Reindexing, job_id: str, t: Translator, model: str) -> None:
    """One progress message once the job has counted what is missing, edited; then the outcome."""
    loop = asyncio.get_running_loop()
    progress: Message | None = None
    shown, edited_at, last = "", loop.time(), None
    async for job in reindexing.follow(job_id, poll_s=POLL_S, limit_s=FOLLOW_LIMIT_S):
        last = job
        if job["collection"] is None:
            continue  # still counting
        text = t("reindex_progress", done=job["done"], total=job["total"])
        if progress is None:
            progress, shown = await bot.send_message(chat_id, text), text
        elif text != shown and (job["state"] != "running" or loop.time() - edited_at >= _EDIT_EVERY_S):
            await _edit(bot, progress, text)
            shown, edited_at = text, loop.time()
    await bot.send_message(chat_id, _outcome(t, last, model))


def _outcome(t: Translator, job: dict[str, Any] | None, model: str) -> str:
    if job is not None and job["state"] == "done":
        return t("reindex_done", total=job["done"], model=model)
    if job is not None and job["error"]:
        logger.warning("reindex stopped", error=job["error"], done=job["done"])
    return t("reindex_failed", done=job["done"] if job else 0)


async def reindex(message: Message, bot: Bot, reindexing: Reindexing, settings: Settings, t: Translator) -> None:
    try:
        job = await reindexing.start()
    except Unavailable:
        await message.answer(t("reindex_failed", done=0))
        return
    if job["already_running"]:
        await message.answer(t("reindex_running"))
        return
    model = embedding_model(settings)
    await message.answer(t("reindex_started", model=model))
    task = asyncio.create_task(follow(bot, message.chat.id, reindexing, job["id"], t, model))
    _followers.add(task)
    task.add_done_callback(_followers.discard)


def make_router() -> Router:
    return register(admin_router("reindex"), {"reindex": reindex})
