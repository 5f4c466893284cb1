"""How one answer of `ustadh eval --answers` is scored: owns answer normalisation, contains-gold,
SQuAD-style token F1, refusal and answer-language checks, and the percentile used for latencies.

Normalisation (`normalise`): [n] citation marks removed (`core.answer.sources.strip_citations`),
then `core.text.comparison.comparable` (NFKC, casefold, Arabic folding, digits → ASCII, accents
folded, punctuation → spaces, thousands groups joined: "100 000", "١٠٠٬٠٠٠" → "100000").

Contains-gold: a gold answer's normalised text occurs in the normalised answer as whole words
(so "14" is not found in "2014"); before an Arabic gold answer the answer may carry a proclitic
and the article (و ف ب ك ل, ال, لل: "بالقاهرة" contains "القاهرة" and "قاهرة"). Token F1 is
SQuAD's (best over the gold answers, bag of normalised tokens), with the articles MLQA-style
evaluations drop: English a/an/the, French le/la/les/l/du/des/au/aux/un/une, and a leading ال
on Arabic words.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import regex

from core.answer.checks import is_refusal
from core.answer.sources import strip_citations
from core.text.comparison import comparable
from core.text.language import Language, detect

_ARABIC_START = regex.compile(r"^\p{Script=Arabic}")
_ARABIC_ARTICLE = regex.compile(r"^ال(?=\p{L}{2})")
_ARABIC_PROCLITICS = r"(?:[وف]?(?:[بك]?ال|لل|[بكل])?)"
_ARTICLES = frozenset({"a", "an", "the", "le", "la", "les", "l", "du", "des", "au", "aux", "un", "une"})


def normalise(text: str) -> str:
    """`text` as answers and gold answers are compared (see the module docstring)."""
    return comparable(strip_citations(text))


def _gold_pattern(gold: str) -> regex.Pattern[str] | None:
    text = normalise(gold)
    if not text:
        return None
    prefix = ""
    if _ARABIC_START.match(text):
        text, prefix = _ARABIC_ARTICLE.sub("", text), _ARABIC_PROCLITICS
    return regex.compile(rf"(?<![\p{{L}}\p{{N}}]){prefix}{regex.escape(text)}(?![\p{{L}}\p{{N}}])")


def contains_gold(answer: str, golds: Iterable[str]) -> bool:
    """The answer contains one of the gold answers, as whole words after normalisation."""
    text = normalise(answer)
    return any(pattern.search(text) for pattern in map(_gold_pattern, golds) if pattern is not None)


def tokens(text: str) -> list[str]:
    """The normalised tokens token F1 counts, articles dropped."""
    return [_ARABIC_ARTICLE.sub("", word) for word in normalise(text).split() if word not in _ARTICLES]


def _f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    same = sum((Counter(predicted) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(answer: str, golds: Iterable[str]) -> float:
    """SQuAD token F1 of the answer against its best-matching gold answer (0.0 without any)."""
    predicted = tokens(answer)
    return max((_f1(predicted, gold) for gold in map(tokens, golds) if gold), default=0.0)


def refused(text: str, mode: str) -> bool:
    """The answer says the material does not hold it: the Tutor's "unsupported" mode, or the fixed
    refusal sentence of any language in the text (`core.answer.checks.is_refusal`)."""
    return mode == "unsupported" or is_refusal(text)


def in_language(answer: str, language: Language) -> bool:
    """The answer, without its citations, is written in `language`; text that does not say (no
    letters, a very short Latin phrase such as a name) counts as written in it."""
    return detect(strip_citations(answer), fallback=language) == language


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` 0.5 → median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
