"""How a finished answer and a refusal read in Telegram: escaped answer text, then its cited sources.

The answer's own text is rendered for the bot's HTML parse mode by aiogram.utils.formatting
(citations [n] stay as typed); the sources footer comes from `core.answer.sources.render_sources`,
in the answer's language.
"""
from __future__ import annotations

from typing import Any

from aiogram.utils.formatting import Italic, Text

from bot.texts import Translator
from core.answer.sources import Source, render_sources


def render_answer(t: Translator, done: dict[str, Any]) -> str:
    sources = [Source(**source) for source in done["sources"]]
    body = Text(done["text"]).as_html()
    if done["mode"] == "extractive":
        body = f"{body}\n\n{Italic(t.plain('answer_fallback_note')).as_html()}"
    if sources:
        body = f"{body}\n\n{render_sources(sources, [s.number for s in sources], done.get('language') or t.language)}"
    return body


def render_refusal(t: Translator, refused: dict[str, Any]) -> str:
    key = f"refused_{refused['reason']}"
    return t(key, seconds=refused.get("retry_after_s", 60), detail=refused.get("detail", ""))
