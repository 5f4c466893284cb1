"""Sentence boundaries in Arabic, French and English text: owns where a sentence starts and ends,
as (start, end) offsets into the original text.

A sentence ends after . ! ? … or the Arabic question mark ؟ — and, with `semicolon_ends`, after
; and the Arabic semicolon ؛ — together with any closing quotes or brackets that follow (» ” " ' ’
) ], a French » after its space or no-break space included), when a space or the end comes next.
It also ends at a blank line, and with `newline_ends` at any line break (leave it off for
hard-wrapped PDF text). A mark does not end a sentence when it is a period after a usual
abbreviation (M. Mme Dr p. av. cf. etc.) or an initial (J. Smith, J.-C., U.S., Arabic ص.), nor
when a lowercase letter comes next, possibly after an opening quote or bracket: « vraiment ? »
dit-il, "séance ; ils permettent" stay whole. The Arabic comma ، commas and colons never end a
sentence, and French guillemets « » do not cut one. With `max_chars`, a sentence still longer
than that is also cut after ; ؛ and : so that a quote stays short.

Spans are trimmed of surrounding whitespace, so a sentence is always `text[start:end]`:
diacritics, accents and punctuation exactly as written.

Not `core.text.chunking`'s splitter: chunk atoms are also cut at commas, colons and before «
(small atoms pack tighter into token budgets), which would make half-clauses into sentences here.
No offline segmenter library (pysbd, blingfire) knows ؟ and ؛ and returns exact substrings in all
three languages.
"""
from __future__ import annotations

import regex

_CLOSERS = r"(?:[\"'”’)\]]|[ \u00a0\u202f]?»)*(?=\s|$)"
_MARKS = "[.!?…؟]+" + _CLOSERS
_MARKS_OR_SEMICOLON = "[.!?…;؟؛]+" + _CLOSERS
_END = {  # (semicolon_ends, newline_ends) -> pattern
    (semicolon, newline): regex.compile((_MARKS_OR_SEMICOLON if semicolon else _MARKS) + "|"
                                        + (r"\n" if newline else r"\n\s*\n"))
    for semicolon in (False, True) for newline in (False, True)
}
_CLAUSE_END = regex.compile("[;:؛]+" + _CLOSERS)
_LOWER_NEXT = regex.compile(r"[\s«\"“'(\[]*\p{Ll}")
_LAST_WORD = regex.compile(r"([\p{L}.\-]+)\.$")
_LAST_LETTERS = regex.compile(r"\p{L}+$")
_ABBREVIATIONS = frozenset({"m", "mm", "mme", "mmes", "mlle", "mr", "mrs", "ms", "dr", "pr", "st", "ste", "jr", "sr",
                            "p", "pp", "av", "apr", "etc", "cf", "ex", "e.g", "i.e", "vs", "vol", "no", "art",
                            "chap", "fig", "env", "ibid", "éd", "ed"})


def _is_abbreviation(text: str, end: int) -> bool:
    """True when `text[:end]` ends with a period after an abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    match = _LAST_WORD.search(text, max(0, end - 12), end)
    if match is None:
        return False
    word = match.group(1).casefold().rstrip(".")
    last = _LAST_LETTERS.search(word)
    return word in _ABBREVIATIONS or (last is not None and len(last.group()) == 1)


def _continues(text: str, end: int) -> bool:
    """True when the mark before `end` does not end the sentence."""
    return _is_abbreviation(text, end) or _LOWER_NEXT.match(text, end) is not None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(text: str, start: int, end: int, pattern: regex.Pattern[str], check: bool) -> list[tuple[int, int]]:
    spans, begin = [], start
    for match in pattern.finditer(text, start, end):
        if check and text[match.start()] != "\n" and _continues(text, match.end()):
            continue
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[0] < s[1]]


def sentence_spans(text: str, *, semicolon_ends: bool = False, newline_ends: bool = False,
                   max_chars: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each non-empty sentence of `text`, in order, trimmed of whitespace.

    `semicolon_ends`: ; and ؛ end a sentence. `newline_ends`: a single line break ends one (a
    blank line always does). `max_chars`: a longer sentence is cut after ; ؛ : as well."""
    spans: list[tuple[int, int]] = []
    for start, end in _cut(text, 0, len(text), _END[semicolon_ends, newline_ends], check=True):
        if max_chars is not None and end - start > max_chars:
            spans.extend(_cut(text, start, end, _CLAUSE_END, check=False))
        else:
            spans.append((start, end))
    return spans


def sentences(text: str, *, semicolon_ends: bool = False, newline_ends: bool = False,
              max_chars: int | None = None) -> list[str]:
    """The sentences of `text`, each exactly as written there (see `sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text, semicolon_ends=semicolon_ends, newline_ends=newline_ends,
                                                 max_chars=max_chars)]
