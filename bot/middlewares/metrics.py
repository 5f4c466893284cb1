"""Counts every Telegram update by type and times its handling, as Ray metrics.

`ustadh_bot_updates_total` by `type` (message, callback_query, poll_answer, ...) and
`ustadh_bot_handler_seconds` by `type`: from the update reaching the dispatcher to its handling
ending (the user row, the language and the handler, whether it answered or raised). The outermost
update middleware, registered in `bot.app.build_dispatcher`; on `/metrics` with a `ray_` prefix.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from ray.util.metrics import Counter, Histogram


@cache
def _metrics() -> tuple[Counter, Histogram]:
    """One pair per process, however many dispatchers it builds."""
    return (Counter("ustadh_bot_updates", "Telegram updates received, by type", tag_keys=("type",)),
            Histogram("ustadh_bot_handler_seconds", "Handling of a Telegram update, by type",
                      boundaries=[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], tag_keys=("type",)))


class UpdateMetricsMiddleware(BaseMiddleware):
    def __init__(self) -> None:
        self.updates, self.seconds = _metrics()

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        tags = {"type": _update_type(event)}
        self.updates.inc(tags=tags)
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            self.seconds.observe(time.perf_counter() - started, tags=tags)


def _update_type(event: TelegramObject) -> str:
    if isinstance(event, Update):
        try:
            return event.event_type
        except UpdateTypeLookupError:  # a type this aiogram does not know
            return "unknown"
    return type(event).__name__
