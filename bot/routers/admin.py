"""Admin commands: /topup, /tier, /token. Refused, with a message, to everyone who is not an admin."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from psycopg_pool import AsyncConnectionPool

from actors.wallet_client import Wallet
from bot.filters import IsAdmin
from bot.ledger_errors import explain
from bot.texts import Translator
from core.db import api_tokens, users
from core.db.users import TIERS, User
from core.ledger.errors import LedgerError
from core.ledger.grants import grant_request_id, monthly_grant
from core.ledger.money import format_credits, parse_credits

ADMIN_COMMANDS = ("topup", "tier", "token")


def _arguments(command: CommandObject, count: int) -> list[str] | None:
    parts = (command.args or "").split()
    return parts if len(parts) == count else None


async def _target(message: Message, pool: AsyncConnectionPool, reference: str, t: Translator) -> User | None:
    target = await users.find(pool, reference)
    if target is None:
        await message.answer(t("user_not_found", user=reference[:64]))
    return target


async def top_up(message: Message, command: CommandObject, pool: AsyncConnectionPool, wallet: Wallet,
                 t: Translator) -> None:
    args = _arguments(command, 2)
    if args is None:
        await message.answer(t("topup_usage"))
        return
    try:
        amount = parse_credits(args[1])
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    target = await _target(message, pool, args[0], t)
    if target is None:
        return
    request_id = f"topup:{message.chat.id}:{message.message_id}"  # a redelivered update tops up once
    try:
        balance = await wallet.top_up(target.id, amount, request_id, memo=f"by telegram:{message.from_user.id}")
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(t("topup_done", amount=format_credits(amount, t.language), user=args[0],
                           available=format_credits(balance.available, t.language)))


async def set_tier(message: Message, command: CommandObject, pool: AsyncConnectionPool, wallet: Wallet,
                   t: Translator) -> None:
    args = _arguments(command, 2)
    if args is None or args[1].lower() not in TIERS:
        await message.answer(t("tier_usage"))
        return
    target = await _target(message, pool, args[0], t)
    if target is None:
        return
    tier = args[1].lower()
    updated = await users.set_tier(pool, target.id, tier)
    try:
        await wallet.grant(updated.id, monthly_grant(tier), grant_request_id(updated.id, tier),
                           memo=f"{tier} monthly grant")
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(t("tier_done", user=args[0], tier=tier,
                           grant=format_credits(monthly_grant(tier), t.language)))


async def issue_token(message: Message, command: CommandObject, pool: AsyncConnectionPool, t: Translator) -> None:
    args = _arguments(command, 1)
    if args is None:
        await message.answer(t("token_usage"))
        return
    target = await _target(message, pool, args[0], t)
    if target is None:
        return
    token = await api_tokens.issue(pool, target.id, target.role)
    await message.answer(t("token_issued", user=args[0], role=target.role, token=token))


async def refuse(message: Message, t: Translator) -> None:
    await message.answer(t("admin_only"))


def make_router() -> Router:
    router = Router(name="admin")
    router.message.register(top_up, Command("topup"), IsAdmin())
    router.message.register(set_tier, Command("tier"), IsAdmin())
    router.message.register(issue_token, Command("token"), IsAdmin())
    router.message.register(refuse, Command(*ADMIN_COMMANDS))
    return router
