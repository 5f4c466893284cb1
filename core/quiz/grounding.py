"""Whether a model-written quiz item is grounded in the passages it was given: owns the rule the
Tutor applies before such an item reaches a learner, and that `ustadh eval --quizzes` measures.

An option is supported by a passage when its text occurs in the passage as whole words
(`core.text.comparison.contains_words`), or when more than half of its content terms do
(`core.retrieval.analysis.terms`, light-stemmed: "الماء" meets "ماء", "privilèges" "privilege").
A model's item is kept only with exactly `OPTIONS` distinct options (after matching
normalisation) and a correct option that a given passage supports: the passage it cites, or else
the first given passage that does, which it then cites (small models number passages wrongly).
An item whose question already holds the correct option (every content term of the option is in
the question: "Which winner …?" answered "the winner") is dropped too: it asks nothing.
Any other item is dropped: a learner is never asked a question the material does not answer.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.quiz.model import Passage
from core.retrieval.analysis import terms
from core.text.arabic import normalise_for_matching
from core.text.comparison import contains_words

OPTIONS = 4


def supported(option: str, text: str | None) -> bool:
    """The option's text, or more than half of its content terms, found in `text`."""
    if not text:
        return False
    if contains_words(text, option):
        return True
    content = set(terms(option))
    return bool(content) and len(content & set(terms(text))) > len(content) / 2


def given_away(question: str, answer: str) -> bool:
    """Every content term of the answer is already in the question."""
    content = set(terms(answer))
    return bool(content) and content <= set(terms(question))


def four_distinct(options: Sequence[str]) -> bool:
    """Exactly `OPTIONS` options, no two alike after matching normalisation."""
    return len(options) == OPTIONS and len({normalise_for_matching(o).strip() for o in options}) == OPTIONS


def supporting_passage(answer: str, passages: Sequence[Passage], cited: int) -> int | None:
    """The index of the passage that states `answer`: `cited` when it does, else the first given
    passage that does; None when none does."""
    order = [cited, *(i for i in range(len(passages)) if i != cited)]
    return next((i for i in order if supported(answer, passages[i]["text"])), None)
