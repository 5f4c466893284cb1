"""Telegram's sendPoll limits for quiz polls, and making a question fit them.

Limits (Bot API, sendPoll): question 1-300 characters; 2-10 options of 1-100 characters each;
explanation 0-200 characters with at most 2 line feeds; `correct_option_id` a valid index.
Lengths are counted in UTF-16 code units, as Telegram counts text everywhere (entity offsets):
for Arabic, French and English letters this is one per character, and it never undercounts an
emoji. On top of Telegram's rules a quiz must be fair and cited: options are unique after
stripping and matching normalisation (so "élève" and "eleve" are not both offered), and the
explanation ends with "[citation]"; its text, not the citation, is what gets shortened.

Shortening cuts at a word boundary, or between grapheme clusters (`\\X`) when one word is too
long, so an Arabic letter never loses its harakat/shadda and a base letter never its accent.
"""
from __future__ import annotations

from dataclasses import replace

import regex

from core.quiz.model import QuizQuestion
from core.text.arabic import normalise_for_matching

MAX_QUESTION = 300
MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_OPTION = 100
MAX_EXPLANATION = 200
MAX_CITATION = 60
ELLIPSIS = "…"
_GRAPHEME = regex.compile(r"\X")
_SPACE = regex.compile(r"\s+")
_TRAILING = regex.compile(r"[\s,;:،؛\-–—(«\"'“]+$")


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _prefix_within(text: str, budget: int) -> str:
    used, kept = 0, []
    for grapheme in _GRAPHEME.findall(text):
        used += tg_len(grapheme)
        if used > budget:
            break
        kept.append(grapheme)
    return "".join(kept)


def shorten(text: str, limit: int) -> str:
    """`text` (whitespace collapsed) if it fits in `limit`, else a prefix cut at a word boundary
    (a grapheme boundary for a single long word) followed by "…"."""
    text = _collapse(text)
    if tg_len(text) <= limit:
        return text
    if limit < 1:
        return ""
    prefix = _prefix_within(text, limit - tg_len(ELLIPSIS))
    space = prefix.rfind(" ")
    if space > 0 and not text[len(prefix)].isspace():
        prefix = prefix[:space]
    return _TRAILING.sub("", prefix) + ELLIPSIS


def _citation_suffix(citation: str) -> str:
    return f"[{citation}]"


def _fit_explanation(explanation: str, given: str, citation: str) -> str:
    suffix = _citation_suffix(citation)
    body = _collapse(explanation).removesuffix(_citation_suffix(given)).removesuffix(suffix).strip()
    budget = MAX_EXPLANATION - tg_len(suffix) - 1
    body = shorten(body, budget) if budget > 0 else ""
    return f"{body} {suffix}" if body and body != ELLIPSIS else suffix


def _option_key(option: str) -> str:
    return normalise_for_matching(option).strip()


def _fit_options(options: tuple[str, ...], correct: int) -> tuple[tuple[str, ...], int] | None:
    texts = [shorten(option, MAX_OPTION) for option in options]
    if not texts[correct]:
        return None
    seen = {_option_key(texts[correct])}
    kept: list[tuple[str, bool]] = []
    for i, text in enumerate(texts):
        key = _option_key(text)
        if i == correct or (text and key not in seen):
            kept.append((text, i == correct))
            seen.add(key)
    while len(kept) > MAX_OPTIONS:
        last_wrong = max(i for i, (_, right) in enumerate(kept) if not right)
        del kept[last_wrong]
    if len(kept) < MIN_OPTIONS:
        return None
    return tuple(text for text, _ in kept), next(i for i, (_, right) in enumerate(kept) if right)


def fit_poll(q: QuizQuestion) -> QuizQuestion | None:
    """`q` made valid for a Telegram quiz poll, or None when it cannot be: empty or over-long
    question (a question is never cut: its end is what is asked), no citation (one over
    MAX_CITATION characters is shortened), correct index out
    of range, fewer than 2 distinct options. Over-long options are shortened, duplicates and
    options beyond the tenth (never the correct one) dropped, the explanation shortened so that
    it still ends with "[citation]". Idempotent: fit_poll(fit_poll(q)) == fit_poll(q)."""
    question = q.question.strip()
    given = _collapse(q.citation)
    citation = shorten(given, MAX_CITATION)
    if not question or tg_len(question) > MAX_QUESTION or not citation:
        return None
    if isinstance(q.correct, bool) or not isinstance(q.correct, int):
        return None
    options = tuple(str(option) for option in q.options)
    if not 0 <= q.correct < len(options):
        return None
    fitted = _fit_options(options, q.correct)
    if fitted is None:
        return None
    return replace(q, question=question, options=fitted[0], correct=fitted[1], citation=citation,
                   explanation=_fit_explanation(q.explanation, given, citation))
