"""Assembles the bot: Bot session (real or local Bot API server), Dispatcher, routers, middlewares.

The bot's one parse-mode convention: HTML, set once here as the Bot's default. Every text it sends
is Telegram HTML, built by `Translator` or aiogram.utils.formatting from plain values; only poll
questions and the drafts of a streamed answer (bot.streaming), which are plain text, say
parse_mode=None.
"""
from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand, BotCommandScopeChat
from psycopg_pool import AsyncConnectionPool

from actors.clients.ingestion import Ingestion
from actors.clients.retrieval import Retrieval
from actors.clients.sources import Crawls
from actors.clients.tutor import Tutor
from actors.clients.wallet import Wallet
from bot import commands
from bot.middlewares.i18n import I18nMiddleware
from bot.middlewares.metrics import UpdateMetricsMiddleware
from bot.middlewares.request_id import RequestIdMiddleware
from bot.middlewares.retry_after import RetryAfterMiddleware
from bot.middlewares.user import UserMiddleware
from bot.routers import admin, asked, chat, errors, fallback, ingestion, language, quiz, reindex, search, start
from bot.routers import sources as source_commands
from bot.routers import wallet as wallet_commands
from bot.texts import Translator
from core.app.accounts import Accounts
from core.app.reindex import Reindexing
from core.app.sources import WebSources
from core.app.stats import Statistics
from core.app.top_ups import TopUps
from core.app.wallet_view import WalletView
from core.config import Settings
from core.user import LANGUAGES


def build_bot(settings: Settings) -> Bot:
    if settings.TELEGRAM_BOT_TOKEN is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    session = AiohttpSession()
    if settings.TELEGRAM_API_BASE:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.TELEGRAM_API_BASE, is_local=False))
    session.middleware(RetryAfterMiddleware())
    return Bot(settings.TELEGRAM_BOT_TOKEN.get_secret_value(), session=session,
               default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_dispatcher(settings: Settings, pool: AsyncConnectionPool, tutor: Tutor | None = None) -> Dispatcher:
    """`tutor` defaults to the running system's Tutor deployment (tests may pass another app's)."""
    wallet = Wallet(settings)
    wallets = WalletView(wallet)
    accounts = Accounts(pool, wallets)
    dp = Dispatcher(pool=pool, settings=settings, wallet=wallet, wallets=wallets, accounts=accounts,
                    top_ups=TopUps(accounts, wallet),
                    web_sources=WebSources(Crawls()), statistics=Statistics(pool),
                    reindexing=Reindexing(Ingestion()), ingestion=Ingestion(), retrieval=Retrieval(),
                    tutor=tutor or Tutor())
    dp.update.outer_middleware(UpdateMetricsMiddleware())
    dp.update.outer_middleware(RequestIdMiddleware())
    dp.update.outer_middleware(UserMiddleware(accounts, settings.ADMIN_TELEGRAM_IDS))
    dp.update.outer_middleware(I18nMiddleware())
    dp.include_routers(errors.make_router(), start.make_router(), language.make_router(), wallet_commands.make_router(), asked.make_router(),
                       search.make_router(), quiz.make_router(), admin.make_router(), ingestion.make_router(),
                       reindex.make_router(), source_commands.make_router(), commands.refusals(),
                       chat.make_router(), fallback.make_router())
    return dp


async def publish_commands(bot: Bot, admin_ids: Iterable[int] = ()) -> None:
    """The command menus, from the command table, in each language Telegram shows them in: the
    learners' commands for everyone, and with the admin commands in each configured admin's chat."""
    for code in LANGUAGES:
        t = Translator(code)
        learner = [BotCommand(command=c.name, description=t.plain(f"cmd_{c.name}")) for c in commands.LEARNER]
        admin = [BotCommand(command=c.name, description=t.plain(f"cmd_{c.name}")) for c in commands.ADMIN]
        await bot.set_my_commands(learner, language_code=code)
        for chat_id in admin_ids:
            await bot.set_my_commands(learner + admin, scope=BotCommandScopeChat(chat_id=chat_id), language_code=code)
