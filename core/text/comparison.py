"""Text as two texts are compared word for word (a gold answer inside an answer, a quiz option
inside its passage): `normalise_for_matching` (NFKC, casefold, Arabic folding, Arabic-Indic and
Persian digits → ASCII, accents folded), punctuation and symbols → spaces, whitespace collapsed,
and digit groups of a thousands separator joined ("100 000", "100,000", "١٠٠٬٠٠٠" → "100000").
"""
from __future__ import annotations

import regex

from core.text.arabic import normalise_for_matching

_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_THOUSANDS = regex.compile(r"(?<=\d) (?=\d{3}(?!\d))")


def comparable(text: str) -> str:
    """`text` as it is compared (see the module docstring)."""
    folded = _PUNCTUATION.sub(" ", normalise_for_matching(text))
    return _THOUSANDS.sub("", " ".join(folded.split()))


def contains_words(text: str, phrase: str) -> bool:
    """`phrase` occurs in `text` as whole words, both compared as `comparable` text."""
    wanted = comparable(phrase)
    return bool(wanted) and f" {wanted} " in f" {comparable(text)} "
