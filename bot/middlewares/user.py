"""Loads (or creates, on first contact) the user row for the Telegram user behind an update."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from psycopg_pool import AsyncConnectionPool

from core.db.users import upsert_from_telegram


class UserMiddleware(BaseMiddleware):
    def __init__(self, pool: AsyncConnectionPool, admin_ids: tuple[int, ...]) -> None:
        self.pool = pool
        self.admin_ids = admin_ids

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        data["user"] = None
        if sender is not None and not sender.is_bot:
            data["user"] = await upsert_from_telegram(
                self.pool, sender.id, username=sender.username, first_name=sender.first_name,
                language_code=sender.language_code, admin_ids=self.admin_ids)
        return await handler(event, data)
