"""How a finished answer and a refusal read in Telegram: escaped answer text, then its cited sources.

The answer's own text is escaped for parse_mode=HTML (citations [n] stay as typed); the sources footer
comes from `core.answer.sources.render_sources`, in the answer's language.
"""
from __future__ import annotations

import html
from typing import Any

from bot.texts import Translator
from core.answer.sources import Source, render_sources


def render_answer(t: Translator, done: dict[str, Any]) -> str:
    sources = [Source(**source) for source in done["sources"]]
    body = html.escape(done["text"], quote=False)
    if done["mode"] == "extractive":
        body = f"{body}\n\n<i>{html.escape(t('answer_fallback_note'), quote=False)}</i>"
    if sources:
        body = f"{body}\n\n{render_sources(sources, [s.number for s in sources], done.get('language') or t.language)}"
    return body


def render_refusal(t: Translator, refused: dict[str, Any]) -> str:
    key = f"refused_{refused['reason']}"
    return html.escape(t(key, seconds=refused.get("retry_after_s", 60), detail=refused.get("detail", "")), quote=False)
