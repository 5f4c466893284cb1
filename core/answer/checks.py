"""Checks on a model's finished answer before the learner keeps it: owns what an answer may cite
and how a refusal is recognised.

* A citation may only name a passage the prompt gave: [n] outside 1..count is removed (a mark
  naming several numbers keeps the valid ones), so a footer never lists a source the model
  invented. Small local models also forget to cite: an answer with no valid citation gets one, to
  the given passage sharing the most content words with it (the best-ranked one on a tie, or when
  none shares any, as in an Arabic answer from an English passage).
* A refusal is an answer that carries one of the prompt's fixed "not in the material" sentences (a
  model often wraps it in a few words of its own); it cites nothing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.answer.prompt import NOT_IN_MATERIAL
from core.answer.sources import cited_numbers, distinct_passages, keep_given_citations
from core.answer.support import question_terms


def is_refusal(text: str) -> bool:
    """`text` carries the fixed refusal sentence (of any course language: a model may answer the
    refusal in the passages' language)."""
    folded = text.casefold()
    return any(sentence.rstrip(".").casefold() in folded for sentence in NOT_IN_MATERIAL.values())


def checked_answer(text: str, passages: Sequence[Mapping[str, Any]]) -> str:
    """The answer as kept: only given passages cited, and at least one cited unless it refuses."""
    given = distinct_passages(passages)
    text = keep_given_citations(text, len(given))
    if not text or not given or is_refusal(text) or cited_numbers(text, len(given)):
        return text
    return f"{text} [{_best_supported(text, given)}]"


def _best_supported(text: str, passages: Sequence[Mapping[str, Any]]) -> int:
    terms = question_terms(text)
    overlaps = [len(terms & question_terms(str(p.get("text") or ""))) for p in passages]
    best = max(range(len(passages)), key=lambda i: (overlaps[i], -i))
    return best + 1
