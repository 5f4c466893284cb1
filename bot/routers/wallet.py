"""/balance and /history: a learner's own wallet. Both first claim this month's tier grant."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from actors.wallet_client import Wallet
from bot.ledger_errors import explain
from bot.texts import Translator
from bot.wallet_view import balance_text, history_text
from core.db.users import User
from core.ledger.errors import LedgerError
from core.ledger.grants import grant_request_id, monthly_grant

RECENT = 5


async def claim_monthly_grant(wallet: Wallet, user: User) -> None:
    await wallet.grant(user.id, monthly_grant(user.tier), grant_request_id(user.id, user.tier),
                       memo=f"{user.tier} monthly grant")


async def show_balance(message: Message, user: User, wallet: Wallet, t: Translator) -> None:
    try:
        await claim_monthly_grant(wallet, user)
        balance = await wallet.balance(user.id)
        recent = await wallet.movements(user.id, limit=RECENT)
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(balance_text(t, balance) + "\n\n" + history_text(t, recent))


async def show_history(message: Message, user: User, wallet: Wallet, t: Translator) -> None:
    try:
        await claim_monthly_grant(wallet, user)
        movements = await wallet.movements(user.id, limit=20)
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(history_text(t, movements))


def make_router() -> Router:
    router = Router(name="wallet")
    router.message.register(show_balance, Command("balance"))
    router.message.register(show_history, Command("history"))
    return router
