"""The safety net: an update whose handler raised is logged with its request id and the learner is
told something went wrong, instead of silence; the bot goes on with the next update."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import ErrorEvent
from loguru import logger

from bot.texts import Translator


async def on_error(event: ErrorEvent, t: Translator | None = None) -> None:
    logger.opt(exception=event.exception).error("update failed", update_id=event.update.update_id)
    message = event.update.message
    if message is None or t is None:
        return
    try:
        await message.answer(t("err_generic"))
    except Exception as exc:
        logger.warning("could not report the failure to the chat", error=str(exc))


def make_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
