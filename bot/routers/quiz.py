"""Quizzes: `/quiz <topic> [n]` sends native Telegram quiz polls; answers come back as poll_answer
updates and are recorded; `/score` shows the learner's results and what is due for review.

The Tutor makes and bills the quiz (and chooses the review questions); this router sends each
question as a non-anonymous `type=quiz` poll and tells the Tutor which poll carries which question.
"""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject
from aiogram.types import Message, PollAnswer
from loguru import logger

from actors.clients.tutor import Tutor, TutorUnavailable
from bot.answer_view import render_refusal
from bot.commands import register
from bot.texts import Translator
from core.user import User

DEFAULT_COUNT = 5


def topic_and_count(args: str | None) -> tuple[str, int]:
    """'/quiz photosynthesis 3' → ('photosynthesis', 3); a missing count is DEFAULT_COUNT."""
    words = (args or "").split()
    if len(words) > 1 and words[-1].isdecimal() and len(words[-1]) <= 3:
        return " ".join(words[:-1]), int(words[-1])
    return " ".join(words), DEFAULT_COUNT


async def quiz(message: Message, command: CommandObject, bot: Bot, user: User, tutor: Tutor, t: Translator) -> None:
    topic, count = topic_and_count(command.args)
    if not topic:
        await message.answer(t("quiz_usage"))
        return
    await bot.send_chat_action(message.chat.id, "typing")
    try:
        made = await tutor.quiz(user.id, topic, count, f"tg:{message.chat.id}:{message.message_id}")
        if made["type"] == "refused":
            await message.answer(render_refusal(t, made))
            return
        questions = made["questions"]
        reviews = sum(1 for q in questions if q["review_of"])
        await message.answer(t("quiz_intro", count=len(questions), reviews=reviews))
        for question in questions:
            poll = await bot.send_poll(
                message.chat.id, question=question["question"], options=question["options"], type="quiz",
                correct_option_id=question["correct"], explanation=question["explanation"] or None,
                is_anonymous=False, question_parse_mode=None, explanation_parse_mode=None)  # plain text
            await tutor.poll_sent(question["id"], poll.poll.id)
    except TutorUnavailable as exc:
        logger.warning("tutor unavailable", error=str(exc))
        await message.answer(render_refusal(t, {"reason": "unavailable"}))


async def poll_answer(answer: PollAnswer, user: User, tutor: Tutor) -> None:
    try:
        correct = await tutor.poll_answer(answer.poll_id, user.id, list(answer.option_ids))
    except TutorUnavailable as exc:
        logger.warning("poll answer not recorded", error=str(exc), poll_id=answer.poll_id)
        return
    logger.info("poll answer", poll_id=answer.poll_id, correct=correct)


async def score(message: Message, user: User, tutor: Tutor, t: Translator) -> None:
    try:
        result = await tutor.score(user.id)
    except TutorUnavailable:
        await message.answer(render_refusal(t, {"reason": "unavailable"}))
        return
    await message.answer(t("score", **result))


def make_router() -> Router:
    router = register(Router(name="quiz"), {"quiz": quiz, "score": score})
    router.poll_answer.register(poll_answer, F.user)
    return router
