"""Filters shared by routers: who may use a handler, and the answer to those who may not."""
from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import Message, TelegramObject

from bot.texts import Translator
from core.db.users import User


class IsAdmin(Filter):
    """Passes for users whose role is admin (ADMIN_TELEGRAM_IDS are admins on first contact)."""

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is not None and user.is_admin


async def refuse_non_admin(message: Message, t: Translator) -> None:
    """What every admin command answers to everyone else (registered after its IsAdmin handler)."""
    await message.answer(t("admin_only"))
