"""A retrieval request, validated: bad input raises QueryError (a 4xx for HTTP, a message in the bot)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

from core.text.arabic import normalise_for_matching
from core.text.language import Language, detect

MAX_QUERY_CHARS = 2_000
MAX_K = 50
LANGUAGES = ("ar", "fr", "en")
_WORD_CHAR = regex.compile(r"[\p{L}\p{N}]")


class QueryError(ValueError):
    """The request cannot be served as given; the message says what to change."""


@dataclass(frozen=True)
class Query:
    text: str          # as the user wrote it, trimmed, control characters removed
    matching: str      # normalised for matching and cache keys
    language: Language
    k: int


def parse(text: object, k: object = 5, lang: object = None) -> Query:
    if not isinstance(text, str):
        raise QueryError("query must be text")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    cleaned = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\n\t").strip()
    if not cleaned:
        raise QueryError("query is empty")
    if not _WORD_CHAR.search(cleaned):
        raise QueryError("query has no letters or digits")
    if type(k) is not int or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}")
    if lang is not None and lang not in LANGUAGES:
        raise QueryError(f"lang must be one of {', '.join(LANGUAGES)}")
    language = lang if lang is not None else detect(cleaned, fallback="en")
    return Query(cleaned, " ".join(normalise_for_matching(cleaned).split()), language, k)  # type: ignore[arg-type]
