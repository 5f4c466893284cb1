"""Honouring Telegram's flood control: a session request middleware that waits out a 429.

On `TelegramRetryAfter` the request is retried after ``retry_after`` seconds (plus a small
margin), up to ``max_attempts`` attempts in all. A wait longer than ``max_wait_s`` is not
worth holding a handler for: the error is re-raised at once, as it is when attempts run out.
Registered on the bot's session in `bot.app.build_bot`, so every Bot API call gets it. Every 429
counts in `ustadh_telegram_retry_after_total` (a Ray metric, `ray_`-prefixed on `/metrics`) by Bot
API method and `outcome`: retried, or raised to the caller.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType
from loguru import logger
from ray.util.metrics import Counter

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

Sleep = Callable[[float], Awaitable[object]]


@cache
def _retry_after_total() -> Counter:
    """One counter per process, however many sessions it builds."""
    return Counter("ustadh_telegram_retry_after", "Bot API calls refused with 429 (flood control)",
                   tag_keys=("method", "outcome"))


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Retry a Bot API call refused with 429 after the wait Telegram asks for."""

    def __init__(self, max_attempts: int = 3, max_wait_s: float = 30.0, margin_s: float = 0.05,
                 sleep: Sleep = asyncio.sleep) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts, self.max_wait_s, self.margin_s = max_attempts, max_wait_s, margin_s
        self._sleep = sleep
        self._refused = _retry_after_total()

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                retry = self._should_retry(error, attempt, method)
                self._refused.inc(tags={"method": method.__api_method__, "outcome": "retried" if retry else "raised"})
                if not retry:
                    raise
                wait_s = error.retry_after + self.margin_s
            await self._sleep(wait_s)
            attempt += 1

    def _should_retry(self, error: TelegramRetryAfter, attempt: int, method: TelegramMethod[TelegramType]) -> bool:
        name = type(method).__name__
        if error.retry_after > self.max_wait_s:
            logger.warning("flood control wait too long, giving up", method=name,
                           retry_after=error.retry_after, max_wait_s=self.max_wait_s)
            return False
        if attempt >= self.max_attempts:
            logger.warning("flood control persists, giving up", method=name, attempts=attempt)
            return False
        logger.info("flood control, retrying", method=name, retry_after=error.retry_after, attempt=attempt)
        return True
