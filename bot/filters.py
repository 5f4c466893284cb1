"""Filters shared by routers: who may use a handler (`bot.commands.refusals` answers those who may not)."""
from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from core.user import User


class IsAdmin(Filter):
    """Passes for users whose role is admin (ADMIN_TELEGRAM_IDS are admins on first contact)."""

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is not None and user.is_admin
