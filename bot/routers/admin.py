"""Admin commands: /topup, /tier, /token, /users, /role, /stats. Refused, with a message, to everyone
who is not an admin."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.commands import admin_router, register
from bot.ledger_errors import explain
from bot.texts import Translator
from core.app.accounts import AccountError, Accounts
from core.app.stats import Statistics, Stats
from core.app.top_ups import TopUps
from core.ledger.errors import LedgerError
from core.ledger.money import format_credits, parse_credits
from core.ledger.tiers import tier as tier_named
from core.user import ROLES, TIERS, User

USERS_SHOWN = 30
_NAME_MAX = 32


def _arguments(command: CommandObject, count: int) -> list[str] | None:
    parts = (command.args or "").split()
    return parts if len(parts) == count else None


async def _target(message: Message, accounts: Accounts, reference: str, t: Translator) -> User | None:
    try:
        return await accounts.find(reference)
    except AccountError:
        await message.answer(t("user_not_found", user=reference[:64]))
        return None


async def top_up(message: Message, command: CommandObject, top_ups: TopUps, t: Translator) -> None:
    args = _arguments(command, 2)
    if args is None:
        await message.answer(t("topup_usage"))
        return
    request_id = f"telegram:{message.chat.id}:{message.message_id}"  # a redelivered update tops up once
    try:
        amount = parse_credits(args[1])
        credited = await top_ups.credit(args[0], amount, request_id, by=f"telegram:{message.from_user.id}")
    except AccountError:
        await message.answer(t("user_not_found", user=args[0][:64]))
        return
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(t("topup_done", amount=format_credits(amount, t.language), user=args[0],
                           available=format_credits(credited.balance.available, t.language)))


async def set_tier(message: Message, command: CommandObject, accounts: Accounts, t: Translator) -> None:
    args = _arguments(command, 2)
    if args is None or args[1].lower() not in TIERS:
        await message.answer(t("tier_usage"))
        return
    target = await _target(message, accounts, args[0], t)
    if target is None:
        return
    try:
        updated = await accounts.change_tier(target.id, args[1])
    except LedgerError as error:
        await message.answer(explain(t, error))
        return
    await message.answer(t("tier_done", user=args[0], tier=updated.tier,
                           grant=format_credits(tier_named(updated.tier).monthly_grant, t.language)))


async def issue_token(message: Message, command: CommandObject, accounts: Accounts, t: Translator) -> None:
    args = _arguments(command, 1)
    if args is None:
        await message.answer(t("token_usage"))
        return
    target = await _target(message, accounts, args[0], t)
    if target is None:
        return
    user, token = await accounts.issue_token(target.id)
    await message.answer(t("token_issued", user=args[0], role=user.role, token=token))


def display_name(user: User) -> str:
    name = f"@{user.username}" if user.username else (user.first_name or "—")
    return name if len(name) <= _NAME_MAX else name[:_NAME_MAX - 1] + "…"


async def list_users(message: Message, accounts: Accounts, t: Translator) -> None:
    page = await accounts.page(USERS_SHOWN)
    lines = [t("users_header", count=page.total)]
    lines += [t("user_line", id=u.id, name=display_name(u), role=u.role, tier=u.tier) for u in page.users]
    await message.answer("\n".join(lines))


async def set_role(message: Message, command: CommandObject, accounts: Accounts, t: Translator) -> None:
    args = _arguments(command, 2)
    if args is None or args[1].lower() not in ROLES:
        await message.answer(t("role_usage"))
        return
    target = await _target(message, accounts, args[0], t)
    if target is None:
        return
    updated = await accounts.change_role(target.id, args[1])
    await message.answer(t("role_done", user=args[0], role=updated.role))


def stats_caption(stats: Stats, t: Translator) -> str:
    today = stats.days[-1]  # there is always today
    p95 = "—" if today.p95_latency_ms is None else f"{today.p95_latency_ms} ms"
    return t("stats_caption", users=stats.users, questions=today.questions,
             spent=format_credits(today.credits_spent, t.language), p95=p95)


async def show_stats(message: Message, statistics: Statistics, t: Translator) -> None:
    stats = await statistics.recent(7)
    chart = await statistics.chart(stats)
    await message.answer_photo(BufferedInputFile(chart, filename="stats.png"), caption=stats_caption(stats, t))


def make_router() -> Router:
    return register(admin_router("admin"), {"topup": top_up, "tier": set_tier, "token": issue_token,
                                            "users": list_users, "role": set_role, "stats": show_stats})
