"""/balance and /history: a learner's own wallet, through `core.app.wallet_view` (which claims this
month's tier grant first, as every surface does)."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from bot.commands import register
from bot.ledger_errors import explain
from bot.texts import Translator
from bot.wallet_view import balance_text, history_text
from core.app.wallet_view import WalletView
from core.ledger.errors import LedgerError
from core.user import User


async def show_balance(message: Message, user: User, wallets: WalletView, t: Translator) -> None:
    try:
        summary = await wallets.summary(user.id, user.tier)
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(balance_text(t, summary.balance) + "\n\n" + history_text(t, summary.recent))


async def show_history(message: Message, user: User, wallets: WalletView, t: Translator) -> None:
    try:
        movements = await wallets.history(user.id, user.tier)
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(history_text(t, movements))


def make_router() -> Router:
    return register(Router(name="wallet"), {"balance": show_balance, "history": show_history})
