"""How well the passages support a question, sentence by sentence: owns the lexical support score
that the extractive answer quotes from and that decides "not in the material".

Every sentence of the distinct passages (`quote_spans`: `core.text.sentences`, a sentence over
`MAX_SENTENCE_CHARS` also cut after ; ؛ : so that a quote stays short; a sentence repeated by
overlapping chunks counts once, under its best-ranked passage) is analysed with the retrieval
analysis (`core.retrieval.analysis.terms`: normalisation, Arabic clitics, French elisions, stop
words), so وبالمدرسة meets المدرسة and l'école meets école. The question's content terms are its
terms less interrogatives (كم, combien, how...) and function words that a clitic hid from the stop
list (والتي). A question term matches a sentence term exactly (weight 1) or loosely (weight
`_LOOSE`): Latin words sharing a prefix of at least 5 letters that covers all but 2 letters of
the shorter one (prisonnier / prisonnières), Arabic words of which one begins with the other
(مسرح / مسرحية) or that are equal once an imperfective prefix ي ت ن is dropped (يضمن / تضمن).

Each question term weighs its IDF over the sentences (a rare name counts more than a frequent
word); a term found in no sentence keeps the largest weight, so what the passages never mention
lowers every score. A sentence scores the share of the question's weight it matches (0..1), and
the passages support the question when the best sentence scores at least `MIN_SUPPORT`. Measured
on XQuAD ar/en and PIAF fr with the gold passage among 5 BM25 hits, and with the 4 other hits
alone (unanswerable), this threshold keeps most answerable questions and rejects most
unanswerable ones; lexical support cannot tell a paraphrase it does not share words with, nor a
question that reuses the passages' words to ask what they do not say.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex
from stop_words import get_stop_words

from core.answer.sources import distinct_passages
from core.retrieval.analysis import terms
from core.text.arabic import normalise_for_matching
from core.text.sentences import sentence_spans

MIN_SUPPORT = 0.35
MAX_SENTENCE_CHARS = 320
_LOOSE = 0.7
_ARABIC = regex.compile(r"^\p{Script=Arabic}+$")

# Interrogatives and question frames of the four languages: they say what is asked, not about what.
_QUESTION_WORDS = (
    "what which who whom whose when where why how many much does did is are was were do name list "
    "quel quelle quels quelles qui que quoi quand où comment pourquoi combien lequel laquelle lesquels "
    "lesquelles est-ce est ce sont était étaient nom nommer citez cite "
    "ما ماذا من متى أين كيف لماذا لم كم هل أي أية ماهو ماهي ما هو ما هي اذكر ذكر سم بما عما مما "
    "شنهو اشنهو شنهي اشنهي امنين فين اشحال شحال كيفاش لاش علاش اشكون شكون"
)


@dataclass(frozen=True)
class Sentence:
    """One quotable sentence: the number of its passage and its original text."""

    number: int
    text: str
    terms: frozenset[str]


@dataclass(frozen=True)
class Scored:
    score: float
    sentence: Sentence


@lru_cache(maxsize=1)
def _non_content() -> frozenset[str]:
    hidden = [f"{clitic}{w}" for w in get_stop_words("arabic") for clitic in ("و", "ف")]
    return frozenset(terms(_QUESTION_WORDS)) | frozenset(terms(" ".join(hidden)))


def question_terms(question: str) -> frozenset[str]:
    """The content terms of a question: analysed terms less interrogatives and function words."""
    return frozenset(terms(question)) - _non_content()


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quotable sentence of `text`: a sentence longer than
    `MAX_SENTENCE_CHARS` is also cut after ; ؛ : so that a quote stays short."""
    return sentence_spans(text, max_chars=MAX_SENTENCE_CHARS)


def sentences(passages: Iterable[Mapping[str, Any]]) -> list[Sentence]:
    """The distinct sentences of the distinct passages, in passage then text order."""
    seen: set[str] = set()
    found = []
    for number, passage in enumerate(distinct_passages(passages), start=1):
        text = str(passage.get("text") or "")
        for start, end in quote_spans(text):
            key = normalise_for_matching(text[start:end])
            if key not in seen:
                seen.add(key)
                found.append(Sentence(number, text[start:end], frozenset(terms(text[start:end]))))
    return found


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _arabic_core(word: str) -> str:
    return word[1:] if len(word) >= 4 and word[0] in "يتن" else word


@lru_cache(maxsize=100_000)
def loose_match(a: str, b: str) -> bool:
    """Whether two different analysed terms are forms of one word (see the module docstring)."""
    shorter = min(len(a), len(b))
    if _ARABIC.match(a) and _ARABIC.match(b):
        return (shorter >= 3 and _common_prefix(a, b) == shorter) or _arabic_core(a) == _arabic_core(b)
    return shorter >= 5 and _common_prefix(a, b) >= max(5, shorter - 2)


def _match(term: str, sentence_terms: frozenset[str]) -> float:
    if term in sentence_terms:
        return 1.0
    return _LOOSE if any(loose_match(term, t) for t in sentence_terms) else 0.0


def scored_sentences(question: str, passages: Iterable[Mapping[str, Any]]) -> list[Scored]:
    """The sentences matching some content term of the question, best first (ties: passage order)."""
    query = question_terms(question)
    found = sentences(passages)
    if not query or not found:
        return []
    matches = {t: [_match(t, s.terms) for s in found] for t in query}
    n = len(found)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5))
           for t, df in ((t, sum(m > 0 for m in ms)) for t, ms in matches.items())}
    mass = sum(idf.values())
    scores = [sum(idf[t] * matches[t][i] for t in query) / mass for i in range(n)]
    order = sorted((i for i in range(n) if scores[i] > 0), key=lambda i: (-scores[i], i))
    return [Scored(scores[i], found[i]) for i in order]


def supported(question: str, passages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the best sentence of the passages carries at least MIN_SUPPORT of the question."""
    scored = scored_sentences(question, passages)
    return bool(scored) and scored[0].score >= MIN_SUPPORT
