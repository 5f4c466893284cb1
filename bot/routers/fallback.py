"""Last in line: what no other router understood.

A command nobody knows gets a pointer to /help; a sticker, photo or other non-text message in a
private chat is told that questions are asked in text; button presses no router understood are
acknowledged, so Telegram clients stop their loading spinner. Nothing else happens.
"""
from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from loguru import logger

from bot.texts import Translator


async def unknown_command(message: Message, t: Translator) -> None:
    await message.answer(t("unknown_command"))


async def not_text(message: Message, t: Translator) -> None:
    await message.answer(t("text_only"))


async def unknown_callback(query: CallbackQuery) -> None:
    logger.info("unhandled callback data ignored", size=len(query.data or ""))
    await query.answer()


def make_router() -> Router:
    router = Router(name="fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(not_text, F.chat.type == "private", ~F.text)
    router.callback_query.register(unknown_callback)
    return router
