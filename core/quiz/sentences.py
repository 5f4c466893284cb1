"""Sentences of a passage, as exact substrings of it, for questions built on one sentence.

A sentence ends at . ! ? … ; and the Arabic question mark ؟ and semicolon ؛ (with any closing
quotes or brackets, a French » after its space included) when a space or the end follows, and at
a line break. A mark followed by a lowercase Latin letter does not end one (« vraiment ? »
dit-il ; "séance ; ils permettent" stays whole, since a clause starting with "ils" needs the one
before it), nor does a period after a single letter (an initial, "J. Smith") or a common
abbreviation (M., Mme., p., cf.). Commas (Arabic ، included) and colons never end a sentence.

Not `core.text.chunking`'s splitter: chunks cut at commas and colons too (small atoms pack tighter
into token budgets), which would make half-clauses into "sentences" here. No offline segmenter
library (pysbd, blingfire) knows ؟ and ؛ and returns exact substrings in all three languages.
"""
from __future__ import annotations

import regex

_END = regex.compile(r"[.!?…;؟؛]+(?:[\"'”’)\]]|[ \u00a0\u202f]?»)*(?=\s|$)|\n")
_LOWER_NEXT = regex.compile(r"[\s«\"“'(\[]*\p{Ll}")
_WORD_BEFORE = regex.compile(r"(\p{L}+)\.$")
_ABBREVIATIONS = frozenset({"m", "mm", "mme", "mmes", "mlle", "dr", "mr", "mrs", "ms", "st", "p", "pp",
                            "cf", "ex", "vol", "no", "n°", "art", "chap", "fig", "etc", "vs", "env"})


def _is_abbreviation(text: str, end: int) -> bool:
    found = _WORD_BEFORE.search(text, 0, end)
    if found is None:
        return False
    word = found.group(1)
    return len(word) == 1 or word.casefold() in _ABBREVIATIONS


def _continues(text: str, end: int) -> bool:
    """True when the mark before `end` does not end the sentence: an abbreviation, an initial,
    or a Latin lowercase letter next (« vraiment ? » dit-il ; etc. and so on)."""
    return _is_abbreviation(text, end) or _LOWER_NEXT.match(text, end) is not None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty sentence, trimmed of surrounding whitespace."""
    spans, start = [], 0
    for match in _END.finditer(text):
        if match.group() != "\n" and _continues(text, match.end()):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    return start + left, start + len(piece.rstrip())


def sentences(text: str) -> list[str]:
    """The sentences of `text`, each exactly as written there."""
    return [text[a:b] for a, b in sentence_spans(text)]
