"""A request id is born for every Telegram update and bound for everything the update causes.

An update that arrived through the webhook keeps the id of the HTTP request that carried it.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from loguru import logger

from core.request_id import bound, current_request_id


class RequestIdMiddleware(BaseMiddleware):
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        with bound(current_request_id()) as rid:
            data["request_id"] = rid
            kind = event.event_type if isinstance(event, Update) else type(event).__name__
            started = time.perf_counter()
            logger.info("update received", update_type=kind,
                        update_id=getattr(event, "update_id", None))
            try:
                return await handler(event, data)
            finally:
                logger.info("update handled", ms=round((time.perf_counter() - started) * 1000, 1))
