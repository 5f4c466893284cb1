"""/start and /help."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.filters import IsAdmin
from bot.texts import Translator


async def start(message: Message, t: Translator) -> None:
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(t("start", name=name))


async def help_admin(message: Message, t: Translator) -> None:
    await message.answer(t("help") + "\n\n" + t("help_admin"))


async def help_learner(message: Message, t: Translator) -> None:
    await message.answer(t("help"))


def make_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(help_admin, Command("help"), IsAdmin())
    router.message.register(help_learner, Command("help"))
    return router
