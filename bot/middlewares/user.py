"""Loads (or creates, on first contact: `core.app.accounts.Accounts.first_contact`) the user behind
an update."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser

from core.app.accounts import Accounts


class UserMiddleware(BaseMiddleware):
    def __init__(self, accounts: Accounts, admin_ids: tuple[int, ...]) -> None:
        self.accounts = accounts
        self.admin_ids = admin_ids

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        data["user"] = None
        if sender is not None and not sender.is_bot:
            data["user"] = await self.accounts.first_contact(
                sender.id, username=sender.username, first_name=sender.first_name,
                language_code=sender.language_code, admin_ids=self.admin_ids)
        return await handler(event, data)
