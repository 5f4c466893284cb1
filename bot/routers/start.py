"""/start and /help."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import Message
from aiogram.utils.formatting import Text

from bot.commands import help_text, register
from bot.texts import Translator
from core.user import User


async def start(message: Message, t: Translator) -> None:
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(t("start", name=name))


async def show_help(message: Message, user: User, t: Translator) -> None:
    await message.answer(Text(help_text(t, admin=user.is_admin)).as_html())


def make_router() -> Router:
    return register(Router(name="start"), {"start": start, "help": show_help})
