"""The bot running against the loopback Bot API, and a Telegram user talking to it (shared by the
surface tests: `from tests.telegram_chat import Chat, tg` makes the `tg` fixture available)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
from pydantic import SecretStr

from bot.app import build_bot, build_dispatcher
from core.config import Settings
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram

ADMIN = 900001


class Chat:
    """A Telegram user talking to the bot: send a text, get the bot's next reply in that chat as the
    user reads it (HTML parsed)."""

    def __init__(self, tg: FakeTelegram, user_id: int, language: str = "en") -> None:
        self.tg, self.user_id, self.language, self.seen = tg, user_id, language, 0

    async def say(self, text: str) -> str:
        self.tg.message_update(chat_id=self.user_id, user_id=self.user_id, text=text, language_code=self.language)
        return await self.reply()

    async def send_file(self, name: str, content: bytes, mime_type: str = "text/plain") -> str:
        self.tg.document_message_update(chat_id=self.user_id, user_id=self.user_id, file_name=name, content=content,
                                mime_type=mime_type, language_code=self.language)
        return await self.reply()

    async def reply(self, timeout: float = 30) -> str:
        self.seen += 1
        call = await self.tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == str(self.user_id),
                                      count=self.seen, timeout=timeout)
        return call.shown


@asynccontextmanager
async def running_bot(settings: Settings, pool: Any, tutor: Any = None, **overrides: Any) -> AsyncIterator[FakeTelegram]:
    """The real bot long-polling a fresh FakeTelegram, with `settings` (and `overrides`) and the given Tutor."""
    async with FakeTelegram() as fake:
        bot_settings = settings.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr(fake.token),
                                                   "TELEGRAM_API_BASE": fake.base_url, **overrides})
        bot = build_bot(bot_settings)
        dp = build_dispatcher(bot_settings, pool, tutor=tutor)
        task = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False,
                                                    close_bot_session=False))
        yield fake
        await dp.stop_polling()
        await asyncio.wait([task], timeout=5)
        await bot.session.close()


@pytest_asyncio.fixture
async def tg(ray_system: RaySystem, pool: Any) -> AsyncIterator[FakeTelegram]:
    async with running_bot(ray_system.settings, pool) as fake:
        yield fake


async def issue_token(admin: Chat, telegram_id: int) -> str:
    reply = await admin.say(f"/token {telegram_id}")
    return reply.rsplit("\n", 1)[-1]


async def admin_and_learner_tokens(tg: FakeTelegram, learner_id: int) -> tuple[str, str]:
    """API tokens the admin issues from the bot: its own, and one for a learner who has just said /start."""
    admin = Chat(tg, ADMIN)
    await Chat(tg, learner_id).say("/start")
    return await issue_token(admin, ADMIN), await issue_token(admin, learner_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
