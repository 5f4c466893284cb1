"""/language: show a keyboard of languages, or switch directly with `/language fr`."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.commands import register
from bot.texts import LANGUAGE_NAMES, Translator
from core.app.accounts import Accounts
from core.user import LANGUAGES, User


class LanguageChoice(CallbackData, prefix="lang"):
    code: str


async def language(message: Message, command: CommandObject, user: User, accounts: Accounts,
                   t: Translator) -> None:
    if command.args is None:
        await ask_language(message, t)
    else:
        await language_from_argument(message, command, user, accounts, t)


async def ask_language(message: Message, t: Translator) -> None:
    keyboard = InlineKeyboardBuilder()
    for code in LANGUAGES:
        keyboard.button(text=LANGUAGE_NAMES[code], callback_data=LanguageChoice(code=code))
    await message.answer(t("language_prompt"), reply_markup=keyboard.as_markup())


async def language_from_argument(message: Message, command: CommandObject, user: User,
                                 accounts: Accounts, t: Translator) -> None:
    code = (command.args or "").strip().lower()
    if code not in LANGUAGES:
        await message.answer(t("language_unknown"))
        return
    updated = await accounts.change_language(user.id, code)
    await message.answer(Translator(updated.language)("language_set"))


async def language_chosen(query: CallbackQuery, callback_data: LanguageChoice, user: User,
                          accounts: Accounts) -> None:
    updated = await accounts.change_language(user.id, callback_data.code)
    await query.answer()
    if query.message is not None:
        await query.message.answer(Translator(updated.language)("language_set"))


def make_router() -> Router:
    router = register(Router(name="language"), {"language": language})
    router.callback_query.register(language_chosen, LanguageChoice.filter(F.code.in_(LANGUAGES)))
    return router
