"""/asked: a learner's own recent requests (questions and quizzes: when, how they ended, what they
cost), the record `GET /questions` shows over HTTP, read from the Tutor."""
from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import Message

from actors.clients.tutor import Tutor, TutorUnavailable
from bot.commands import register
from bot.texts import Translator
from core.ledger.money import format_credits
from core.user import User

SHOWN = 10


def asked_line(t: Translator, row: dict[str, Any]) -> str:
    cost = format_credits(row["cost"], t.language)
    return t("asked_line", date=row["created_at"][:16].replace("T", " "), kind=t.plain(f"asked_kind_{row['kind']}"),
             status=t.plain(f"asked_status_{row['status']}"), cost=f"\u2066{cost}\u2069")


async def show_asked(message: Message, user: User, tutor: Tutor, t: Translator) -> None:
    try:
        rows = await tutor.questions(user.id, SHOWN)
    except TutorUnavailable:
        await message.answer(t("asked_unavailable"))
        return
    if not rows:
        await message.answer(t("asked_empty"))
        return
    await message.answer("\n".join([t("asked_header"), *(asked_line(t, r) for r in rows)]))


def make_router() -> Router:
    return register(Router(name="asked"), {"asked": show_asked})
