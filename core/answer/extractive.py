"""Offline extractive answer: owns answering from the passages alone, without an LLM, by quoting
the sentences that best support the question (see `core.answer.support`), each followed by its
[n] citation.

Quotes are the passages' original text: letters, diacritics, accents and punctuation untouched
(matching happens on analysed copies, never on what is shown); only a run of whitespace holding a
line break (hard-wrapped PDF text) becomes one space, so that each quote is one line. Sentences are taken best first while they
score at least `_RELATIVE` of the best one and the answer stays under `MAX_ANSWER_CHARS`; a
sentence longer than `MAX_QUOTE_CHARS` is clipped at word boundaries to the window holding most
question terms, and the cut is marked with …. No answer (None) when the passages do not support
the question (`support.supported`): the caller then says the material does not cover it. Quotes
are in the passages' language even when the learner asked in another one.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from core.answer.support import MIN_SUPPORT, loose_match, question_terms, scored_sentences
from core.retrieval.analysis import terms

MAX_ANSWER_CHARS = 700
MAX_QUOTE_CHARS = 400
_RELATIVE = 0.6
_WORD = regex.compile(r"\S+")
_WRAPPED = regex.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class ExtractiveAnswer:
    """`text`: the quotes, one a line, each ending with its [n]; `cited`: those n, ascending."""

    text: str
    cited: list[int]


def _is_hit(word: str, query: frozenset[str]) -> bool:
    return any(t in query or any(loose_match(t, q) for q in query) for t in terms(word))


def clip(sentence: str, query: frozenset[str], limit: int = MAX_QUOTE_CHARS) -> str:
    """`sentence` cut at word boundaries to the window of at most `limit` characters holding most
    words that match `query`; … marks each cut. Short sentences come back unchanged."""
    if len(sentence) <= limit:
        return sentence
    words = list(_WORD.finditer(sentence))
    hits = [_is_hit(w.group(), query) for w in words]
    best = (-1, 0, 0)
    end = 0
    for start in range(len(words)):
        end = max(end, start)
        while end + 1 < len(words) and words[end + 1].end() - words[start].start() <= limit:
            end += 1
        best = max(best, (sum(hits[start:end + 1]), -start, end))
    first, last = words[-best[1]].start(), words[best[2]].end()
    return ("… " if first > 0 else "") + sentence[first:last] + (" …" if last < len(sentence) else "")


def extractive_answer(question: str, passages: Sequence[Mapping[str, Any]], language: str,
                      max_sentences: int = 3) -> ExtractiveAnswer | None:
    """The best supporting sentences of `passages` quoted with their [n], or None when the passages
    do not support an answer. `language` (the learner's) does not change the quotes, which stay in
    the passages' own words; it is accepted so every answerer has the same call."""
    scored = scored_sentences(question, passages)
    if not scored or scored[0].score < MIN_SUPPORT:
        return None
    query = question_terms(question)
    lines: list[str] = []
    cited: set[int] = set()
    for item in scored:
        if len(lines) >= max_sentences or item.score < _RELATIVE * scored[0].score:
            break
        quote = _WRAPPED.sub(" ", clip(item.sentence.text, query))
        line = f"{quote} [{item.sentence.number}]"
        if not lines or sum(map(len, lines)) + len(lines) + len(line) <= MAX_ANSWER_CHARS:
            lines.append(line)
            cited.add(item.sentence.number)
    return ExtractiveAnswer(text="\n".join(lines), cited=sorted(cited))
