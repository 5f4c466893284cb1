"""Lexical analysis for BM25 in Arabic, French and English: text → index terms.

Steps: `normalise_for_matching` (NFKC, casefold, Arabic alef/yeh/teh-marbuta folding without
tatweel and diacritics, Latin accents folded), French and English elisions split off (l' d' qu'
j' n' s' c' m' t' jusqu' lorsqu' puisqu'), words of letters and digits (so ؟ « » ، and every other
punctuation mark separate words), stop words dropped, then a light stemmer: Arabic proclitics
(the article ال alone or after و ف ب ك ل, and a leading و) and a few suffixes are stripped when at
least three letters remain, following Light10 (bare ب ك ل ف are kept: كتاب must stay كتاب); French and English plural -s/-x dropped on longer words.

A hand-written light stemmer rather than a library: the offline stemmers on PyPI (snowballstemmer,
ISRI in nltk) either lack Arabic or over-stem (ISRI maps unrelated roots together and hurt recall
on the eval sets); light stemming of clitics is the standard strong baseline for Arabic IR
(Larkey, Ballesteros & Connell 2002).
"""
from __future__ import annotations

from functools import lru_cache

import regex
from stop_words import get_stop_words

from core.text.arabic import normalise_for_matching

_ELISION = regex.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)'(?=\p{L})")
_WORD = regex.compile(r"[\p{L}\p{N}]+")
_ARABIC = regex.compile(r"^\p{Script=Arabic}+$")
_PREFIXES = ("وبال", "وكال", "فبال", "ولل", "فلل", "وال", "فال", "بال", "كال", "لل", "ال", "و")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ي")
_MIN_STEM = 3


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    words: set[str] = set()
    for language in ("arabic", "french", "english"):
        words.update(normalise_for_matching(w) for w in get_stop_words(language))
    return frozenset(words)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The light stem of one normalised word."""
    if _ARABIC.match(word):
        return _arabic_stem(word)
    if len(word) > 4 and word[-1] in "sx" and not word.endswith("ss"):
        return word[:-1]
    return word


def _arabic_stem(word: str) -> str:
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            word = word[len(prefix):]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[:-len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order (repeats kept: BM25 counts them)."""
    folded = _ELISION.sub(" ", normalise_for_matching(text).replace("’", "'"))
    stops = _stop_words()
    return [stem(word) for word in _WORD.findall(folded) if word not in stops]
