"""TelegramBot: the one process that talks to the Telegram Bot API for Ustadh.

It owns the Bot session and the Dispatcher. In polling mode it long-polls getUpdates; in webhook
mode the Serve gateway forwards each update to `feed`. Ray restarts it if it dies; polling resumes
from Telegram's stored offset.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from loguru import logger
from psycopg_pool import AsyncConnectionPool

from actors.tracing import traced
from bot.app import build_bot, build_dispatcher, publish_commands
from core.config import Settings
from core.db.pool import open_pool
from core.db.roles import Role
from core.logs import setup_logging

OPTIONS = {"num_cpus": 0.1, "max_restarts": -1}
# Updates handled at once while polling; a burst beyond waits its turn in memory instead of
# waiting on the bot's 8 database connections until the pool gives up (seen with 1,000 at once).
_UPDATES_AT_ONCE = 32


class TelegramBot:
    def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "telegram_bot")
        self.settings = settings
        self.pool: AsyncConnectionPool | None = None
        self.bot: Bot | None = None
        self.dp: Dispatcher | None = None
        self.polling: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Connect, publish the command menu, then poll or register the webhook; returns the mode."""
        if self.dp is not None:
            return self.mode
        self.pool = await open_pool(self.settings.DATABASE_URL or "", Role.BOT, max_size=8, name="bot")
        self.bot = build_bot(self.settings)
        self.dp = build_dispatcher(self.settings, self.pool)
        await publish_commands(self.bot, self.settings.ADMIN_TELEGRAM_IDS)
        if self.settings.TELEGRAM_WEBHOOK_URL:
            secret = self.settings.TELEGRAM_WEBHOOK_SECRET
            await self.bot.set_webhook(self.settings.TELEGRAM_WEBHOOK_URL,
                                       secret_token=secret.get_secret_value() if secret else None,
                                       allowed_updates=self.dp.resolve_used_update_types())
        else:
            await self.bot.delete_webhook()
            self.polling = asyncio.create_task(self.dp.start_polling(
                self.bot, handle_signals=False, close_bot_session=False, tasks_concurrency_limit=_UPDATES_AT_ONCE,
                allowed_updates=self.dp.resolve_used_update_types()))
        logger.info("telegram bot started", mode=self.mode)
        return self.mode

    @property
    def mode(self) -> str:
        return "webhook" if self.settings.TELEGRAM_WEBHOOK_URL else "polling"

    @traced
    async def feed(self, update: dict[str, Any]) -> None:
        """Handle one update delivered by the webhook route."""
        if self.dp is None or self.bot is None:
            raise RuntimeError("bot not started")
        await self.dp.feed_raw_update(self.bot, update)

    @traced
    async def ping(self) -> dict[str, Any]:
        alive = self.polling is not None and not self.polling.done()
        return {"mode": self.mode, "started": self.dp is not None,
                **({"polling": alive} if self.mode == "polling" else {})}

    async def stop(self) -> None:
        if self.dp is not None and self.polling is not None:
            await self.dp.stop_polling()
            await asyncio.wait([self.polling], timeout=5)
        if self.bot is not None:
            await self.bot.session.close()
        if self.pool is not None:
            await self.pool.close()
        logger.info("telegram bot stopped")
