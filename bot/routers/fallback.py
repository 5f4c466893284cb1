"""Last in line: button presses no other router understood are acknowledged, so Telegram clients
stop their loading spinner, and nothing else happens."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from loguru import logger


async def unknown_callback(query: CallbackQuery) -> None:
    logger.info("unhandled callback data ignored", size=len(query.data or ""))
    await query.answer()


def make_router() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(unknown_callback)
    return router
