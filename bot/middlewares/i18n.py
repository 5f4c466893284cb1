"""Gives handlers `t`, a translator in the user's language (Telegram's language before a user row)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot.texts import Translator
from core.user import language_from_telegram


class I18nMiddleware(BaseMiddleware):
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("user")
        sender = data.get("event_from_user")
        language = user.language if user else language_from_telegram(getattr(sender, "language_code", None))
        data["t"] = Translator(language)
        return await handler(event, data)
