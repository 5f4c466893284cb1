"""`/reindex` (admins): embed every chunk the current embedding model has no vector for, from Telegram.

Like `ustadh reindex`, it drives the Ingestor's `reindex_step` until nothing is left, at which point
the Ingestor makes the new collection the one readers use (until then they keep the previous one).
The work runs in a background task, so the bot keeps answering; one progress message is edited
as it goes, and the end (or a stop, e.g. the ingestor restarting) is sent as a new message. One
reindex at a time per bot process: a second /reindex while one runs is told so.
"""
from __future__ import annotations

import asyncio

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import Message
from loguru import logger

from actors.ingestion_client import Ingestion
from bot.filters import IsAdmin, refuse_non_admin
from bot.texts import Translator
from core.config import Settings
from core.embeddings import uses_openai
from core.embeddings.offline import OfflineEmbedder

STEP = 256  # chunks per reindex_step, as `ustadh reindex`
_EDIT_EVERY_S = 2.0  # Telegram limits edits; the last count is always shown
_STALLED_STEPS = 5  # steps in a row that embed nothing while chunks remain: give up (and say so)
_running: set[asyncio.Task[None]] = set()


def embedding_model(settings: Settings) -> str:
    """The model the embedding batcher uses with these settings (as `core.embeddings.make_embedder`)."""
    return settings.EMBEDDING_MODEL if uses_openai(settings) else OfflineEmbedder.name


async def _edit(bot: Bot, message: Message, text: str) -> None:
    try:
        await bot.edit_message_text(text, chat_id=message.chat.id, message_id=message.message_id)
    except TelegramAPIError as exc:  # e.g. "message is not modified" or deleted: progress is cosmetic
        logger.info("reindex progress not edited", error=str(exc))


async def run_reindex(bot: Bot, chat_id: int, ingestion: Ingestion, t: Translator, model: str) -> None:
    """Step until no chunk is left; one progress message, edited; then the outcome."""
    loop = asyncio.get_running_loop()
    done = 0
    try:
        step = await ingestion.reindex_step(0)  # counts what is left, embeds nothing
        shown = t("reindex_progress", done=0, total=step["remaining"])
        progress = await bot.send_message(chat_id, shown)
        edited_at, stalled = loop.time(), 0
        while step["remaining"]:
            step = await ingestion.reindex_step(STEP)
            done += step["done"]
            stalled = 0 if step["done"] else stalled + 1
            if stalled >= _STALLED_STEPS:
                raise RuntimeError(f"{step['remaining']} chunks left but none could be embedded")
            text = t("reindex_progress", done=done, total=done + step["remaining"])
            if text != shown and (not step["remaining"] or loop.time() - edited_at >= _EDIT_EVERY_S):
                await _edit(bot, progress, text)
                shown, edited_at = text, loop.time()
    except Exception as exc:
        logger.warning("reindex stopped", error=str(exc), done=done)
        await bot.send_message(chat_id, t("reindex_failed", done=done))
        return
    logger.info("reindex finished", chunks=done, collection=step["collection"])
    await bot.send_message(chat_id, t("reindex_done", total=done, model=model))


async def reindex(message: Message, bot: Bot, ingestion: Ingestion, settings: Settings, t: Translator) -> None:
    if _running:
        await message.answer(t("reindex_running"))
        return
    model = embedding_model(settings)
    await message.answer(t("reindex_started", model=model))
    task = asyncio.create_task(run_reindex(bot, message.chat.id, ingestion, t, model))
    _running.add(task)
    task.add_done_callback(_running.discard)


def make_router() -> Router:
    router = Router(name="reindex")
    router.message.register(reindex, Command("reindex"), IsAdmin())
    router.message.register(refuse_non_admin, Command("reindex"))
    return router
