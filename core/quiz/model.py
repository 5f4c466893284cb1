"""The quiz's data: what goes in (retrieval passages) and what comes out (one quiz question).

`QuizQuestion` is exactly what a Telegram quiz poll needs (question, options, index of the
correct option, explanation shown after answering) plus where it came from (chunk id and the
citation label that the explanation ends with). `Passage` is the shape of the retrieval hit
dicts (`core.retrieval.pipeline.Hit.to_json()`); only `chunk_id` and `text` are required here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict


class Passage(TypedDict):
    chunk_id: str
    text: str
    title: NotRequired[str]
    source: NotRequired[str]
    url: NotRequired[str | None]
    page: NotRequired[int | None]
    language: NotRequired[str | None]
    document_id: NotRequired[int]
    score: NotRequired[float]


@dataclass(frozen=True)
class QuizQuestion:
    question: str
    options: tuple[str, ...]
    correct: int
    explanation: str
    chunk_id: str
    citation: str

    @property
    def answer(self) -> str:
        """The text of the correct option."""
        return self.options[self.correct]
