"""Learners' questions: any text that is not a command is answered by the Tutor, streamed.

The Tutor deployment (through its handle) does the work and the billing; this router only shows it:
pieces of the answer go to a `ReplyStream` (drafts in private chats, throttled edits elsewhere), the
final answer with its sources replaces them, a refusal is said in the learner's language. `/new`
forgets the conversation memory.
"""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import Message
from loguru import logger

from actors.clients.tutor import Tutor, TutorUnavailable
from bot.answer_view import render_answer, render_refusal
from bot.commands import register
from bot.streaming import ReplyStream
from bot.texts import Translator
from core.config import Settings
from core.user import User


async def ask(message: Message, bot: Bot, user: User, tutor: Tutor, settings: Settings, t: Translator) -> None:
    key = f"tg:{message.chat.id}:{message.message_id}"  # a redelivered update is billed once
    private = message.chat.type == "private"
    async with ReplyStream(bot, message.chat.id, private=private, min_interval_s=settings.STREAM_INTERVAL_S) as stream:
        text = ""
        try:
            async for event in tutor.ask(user.id, message.text or "", key):
                if event["type"] == "delta":
                    text += event["text"]
                    await stream.update(text)
                elif event["type"] == "reset":
                    text = ""
                elif event["type"] == "waiting":
                    await stream.update(t.plain("answer_queued"))
                elif event["type"] == "done":
                    await stream.finish(render_answer(t, event))
                else:
                    await stream.finish(render_refusal(t, event))
        except TutorUnavailable as exc:
            logger.warning("tutor unavailable", error=str(exc))
            await stream.finish(render_refusal(t, {"reason": "unavailable"}))


async def new_conversation(message: Message, user: User, tutor: Tutor, t: Translator) -> None:
    try:
        await tutor.forget(user.id)
    except TutorUnavailable:
        await message.answer(render_refusal(t, {"reason": "unavailable"}))
        return
    await message.answer(t("memory_cleared"))


def make_router() -> Router:
    router = register(Router(name="chat"), {"new": new_conversation})
    router.message.register(ask, F.text, ~F.text.startswith("/"), F.from_user, ~F.from_user.is_bot)
    return router
