"""Assembles the bot: Bot session (real or local Bot API server), Dispatcher, routers, middlewares.

The bot's one parse-mode convention: HTML, set once here as the Bot's default. Every text it sends
is Telegram HTML, built by `Translator` or aiogram.utils.formatting from plain values; only poll
questions and the drafts of a streamed answer (bot.streaming), which are plain text, say
parse_mode=None.
"""
from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand
from psycopg_pool import AsyncConnectionPool

from actors.ingestion_client import Ingestion
from actors.wallet_client import Wallet
from bot.middlewares.i18n import I18nMiddleware
from bot.middlewares.request_id import RequestIdMiddleware
from bot.middlewares.retry_after import RetryAfterMiddleware
from bot.middlewares.user import UserMiddleware
from bot.routers import admin, chat, errors, fallback, ingestion, language, quiz, reindex, search, start
from bot.routers import sources as source_commands
from bot.routers import wallet as wallet_commands
from bot.texts import Translator
from core.app.accounts import Accounts
from core.app.wallet_view import WalletView
from core.config import Settings
from core.db.users import LANGUAGES
from serve_app.retrieval_client import Retrieval
from serve_app.tutor_client import Tutor

LEARNER_COMMANDS = ("start", "help", "quiz", "score", "new", "search", "balance", "history", "language")


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
    dp = Dispatcher(pool=pool, settings=settings, wallet=wallet, wallets=wallets, accounts=Accounts(pool, wallets),
                    ingestion=Ingestion(), retrieval=Retrieval(), tutor=tutor or Tutor())
    dp.update.outer_middleware(RequestIdMiddleware())
    dp.update.outer_middleware(UserMiddleware(pool, settings.ADMIN_TELEGRAM_IDS))
    dp.update.outer_middleware(I18nMiddleware())
    dp.include_routers(errors.make_router(), start.make_router(), language.make_router(), wallet_commands.make_router(), admin.make_router(),
                       ingestion.make_router(), reindex.make_router(), search.make_router(), quiz.make_router(),
                       source_commands.make_router(), chat.make_router(), fallback.make_router())
    return dp


async def publish_commands(bot: Bot) -> None:
    """The command menu in each language Telegram shows it in."""
    for code in LANGUAGES:
        t = Translator(code)
        commands = [BotCommand(command=name, description=t.plain(f"cmd_{name}")) for name in LEARNER_COMMANDS]
        await bot.set_my_commands(commands, language_code=code)
