"""Sentences of a passage for quoting: owns where a quotable sentence starts and ends.

A sentence ends after . ! ? … or Arabic ؟ (with any closing quote or bracket » ” " ' ) ] that
follows) when a space or the end comes next, and at a blank line. Single line breaks do not end
a sentence (PDF text is hard-wrapped). A period after a one-letter word or a usual abbreviation
(M. Mme Dr p. av. J.-C. etc.) does not end one. A sentence still longer than `max_chars` is also
cut after ; ؛ and : so that a quote stays short. Unlike the chunker's atoms, the Arabic comma ،
and French guillemets « do not cut: they join clauses of one sentence.

Spans are (start, end) offsets into the original text, trimmed of surrounding whitespace, so a
quote is always `text[start:end]`: diacritics, accents and punctuation exactly as written.
"""
from __future__ import annotations

import regex

MAX_SENTENCE_CHARS = 320

_END = regex.compile(r"[.!?…؟]+[»”\"'’)\]]*(?=\s|$)|\n\s*\n")
_CLAUSE_END = regex.compile(r"[;:؛]+[»”\"'’)\]]*(?=\s|$)")
_LAST_WORD = regex.compile(r"([\p{L}.\-]+)\.$")
_ABBREVIATIONS = frozenset({"m", "mm", "mme", "mlle", "dr", "pr", "st", "ste", "p", "pp", "av", "apr", "j.-c",
                            "etc", "cf", "vol", "no", "n°", "fig", "chap", "mr", "mrs", "ms", "vs", "e.g", "i.e",
                            "jr", "sr", "ibid", "éd", "ed"})


def _is_abbreviation(text: str, end: int) -> bool:
    match = _LAST_WORD.search(text, max(0, end - 12), end)
    if match is None or text[end - 1] != ".":
        return False
    word = match.group(1).casefold().rstrip(".")
    return len(word) == 1 or word in _ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(text: str, start: int, end: int, pattern: regex.Pattern[str], check_abbreviation: bool) -> list[tuple[int, int]]:
    spans, begin = [], start
    for match in pattern.finditer(text, start, end):
        if check_abbreviation and _is_abbreviation(text, match.end()):
            continue
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[0] < s[1]]


def sentence_spans(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, in order; long sentences cut at ; ؛ : as well."""
    spans: list[tuple[int, int]] = []
    for start, end in _cut(text, 0, len(text), _END, check_abbreviation=True):
        if end - start > max_chars:
            spans.extend(_cut(text, start, end, _CLAUSE_END, check_abbreviation=False))
        else:
            spans.append((start, end))
    return spans
