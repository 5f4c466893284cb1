"""Is a text worth indexing? Cheap heuristics that reject junk with a stable reason code.

Checks, in order (the first failure is the verdict):
- `binary`: NUL, other control characters or U+FFFD replacement characters in ≥ 0.5% of the
  text — bytes decoded as if they were text.
- `too_short`: fewer than `min_words` words.
- `symbols`: letters are under `min_letter_share` of the non-space characters (tables of
  numbers, markup, symbol soup). Real eval passages are ≥ 0.72.
- `boilerplate`: at least half of the non-empty lines repeat an earlier line (menus, headers
  and footers pasted on every page).
- `stopwords`: in a text of ≥ 30 words, function words of the stated language are rarer than
  normal prose has (keyword lists, wrong language, garbled extraction). Minimum shares on the
  eval passages: ar 0.00 (a 24-word sentence), 0.045 from 30 words on; fr 0.32; en 0.13.

Stop-word lists come from the `stop-words` package (BSD, lists shipped in the wheel; Arabic
162, French 348, English 1,333 words), compared after `normalise_for_matching`.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

import regex
from stop_words import get_stop_words

from core.text.arabic import normalise_for_matching
from core.text.language import Language

_WORD = regex.compile(r"[\p{L}\p{N}]+")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_MESSAGES = {
    "binary": "the text contains control or replacement characters: probably binary data decoded as text",
    "too_short": "the text has too few words to be useful",
    "symbols": "the text is mostly digits, symbols or markup rather than words",
    "boilerplate": "most lines repeat earlier lines (headers, footers or menus)",
    "stopwords": "the text lacks the common words of its language (a word list, another language or garbled text)",
}


@dataclass(frozen=True, slots=True)
class QualityRules:
    min_words: int = 20
    min_letter_share: float = 0.6
    max_control_share: float = 0.005
    max_repeated_line_share: float = 0.5
    min_lines_for_boilerplate: int = 4
    min_words_for_stopwords: int = 30
    min_stopword_share: dict[str, float] = field(
        default_factory=lambda: {"ar": 0.03, "fr": 0.10, "en": 0.10})


@dataclass(frozen=True, slots=True)
class QualityStats:
    words: int
    lines: int
    letter_share: float
    control_share: float
    repeated_line_share: float
    stopword_share: float


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None
    message: str | None
    stats: QualityStats


@cache
def stop_words(language: Language) -> frozenset[str]:
    """The language's stop words, matching-normalised."""
    return frozenset(normalise_for_matching(word) for word in get_stop_words(language))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _is_control(ch: str) -> bool:
    return ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)


def _non_empty_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def measure(text: str, language: Language) -> QualityStats:
    """The numbers `assess` judges on."""
    words = _WORD.findall(normalise_for_matching(text))
    visible = [ch for ch in text if not ch.isspace()]
    lines = _non_empty_lines(text)
    stops = stop_words(language)
    return QualityStats(
        words=len(words),
        lines=len(lines),
        letter_share=_share(sum(ch.isalpha() for ch in visible), len(visible)),
        control_share=_share(sum(_is_control(ch) for ch in text), len(text)),
        repeated_line_share=_share(len(lines) - len(set(lines)), len(lines)),
        stopword_share=_share(sum(word in stops for word in words), len(words)),
    )


def _reason(text: str, stats: QualityStats, language: Language, rules: QualityRules) -> str | None:
    if "\x00" in text or stats.control_share >= rules.max_control_share:
        return "binary"
    if stats.words < rules.min_words:
        return "too_short"
    if stats.letter_share < rules.min_letter_share:
        return "symbols"
    if stats.lines >= rules.min_lines_for_boilerplate and stats.repeated_line_share >= rules.max_repeated_line_share:
        return "boilerplate"
    if (stats.words >= rules.min_words_for_stopwords
            and stats.stopword_share < rules.min_stopword_share[language]):
        return "stopwords"
    return None


def assess(text: str, language: Language, rules: QualityRules = QualityRules()) -> Verdict:
    """Verdict on `text` written in `language`: ok, or the first failed check's code and message."""
    stats = measure(text, language)
    reason = _reason(text, stats, language, rules)
    return Verdict(ok=reason is None, reason=reason, message=_MESSAGES[reason] if reason else None,
                   stats=stats)
