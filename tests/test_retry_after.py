"""RetryAfterMiddleware against the loopback Bot API: a 429 is waited out and retried; a wait over
the cap, or a flood that outlasts the attempts, reaches the caller."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from pydantic import SecretStr

from bot.middlewares.retry_after import RetryAfterMiddleware
from tests.fakes.telegram import FakeTelegram


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def make_bot(tg: FakeTelegram, middleware: RetryAfterMiddleware) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=False))
    session.middleware(middleware)
    return Bot(tg.token, session=session)


async def test_a_429_is_waited_out_and_the_call_succeeds(tg: FakeTelegram) -> None:
    bot = make_bot(tg, RetryAfterMiddleware())
    tg.inject_429("sendMessage", retry_after=1)
    try:
        message = await bot.send_message(42, "مرحبا")
    finally:
        await bot.session.close()
    assert message.text == "مرحبا"
    first, second = tg.calls("sendMessage")
    assert second.at - first.at >= 1.0


async def test_a_wait_above_the_cap_is_raised_at_once(tg: FakeTelegram) -> None:
    bot = make_bot(tg, RetryAfterMiddleware(max_wait_s=30))
    tg.inject_429("sendMessage", retry_after=60)
    try:
        with pytest.raises(TelegramRetryAfter) as raised:
            await bot.send_message(42, "hello")
    finally:
        await bot.session.close()
    assert raised.value.retry_after == 60
    assert len(tg.calls("sendMessage")) == 1


async def test_attempts_are_bounded(tg: FakeTelegram) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    bot = make_bot(tg, RetryAfterMiddleware(max_attempts=3, sleep=no_sleep))
    tg.inject_429("editMessageText", retry_after=2, times=5)
    try:
        with pytest.raises(TelegramRetryAfter):
            await bot.edit_message_text(text="x", chat_id=42, message_id=1)
    finally:
        await bot.session.close()
    assert len(tg.calls("editMessageText")) == 3
    assert len(waits) == 2 and all(w >= 2 for w in waits)


def test_build_bot_registers_the_middleware() -> None:
    from bot.app import build_bot
    from core.config import load_settings

    settings = load_settings(_env_file=None, TELEGRAM_BOT_TOKEN=SecretStr("123456:TEST-token"),
                             TELEGRAM_API_BASE="http://127.0.0.1:9")
    bot = build_bot(settings)
    assert any(isinstance(m, RetryAfterMiddleware) for m in bot.session.middleware)
