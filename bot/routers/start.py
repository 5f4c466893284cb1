"""/start and /help."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.filters import IsAdmin
from bot.texts import Translator

router = Router(name="start")


@router.message(CommandStart())
async def start(message: Message, t: Translator) -> None:
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(t("start", name=name))


@router.message(Command("help"), IsAdmin())
async def help_admin(message: Message, t: Translator) -> None:
    await message.answer(t("help") + "\n\n" + t("help_admin"))


@router.message(Command("help"))
async def help_learner(message: Message, t: Translator) -> None:
    await message.answer(t("help"))
