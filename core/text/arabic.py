"""Text normalisation for matching (search, deduplication, lexical cues); never for display.

Every function returns a new string: stored and displayed text is the original, and offsets into
it (chunks, citations) are never computed on normalised text, whose length may differ.

Arabic folding (`normalise_arabic`) is the usual orthographic folding of Arabic IR (Larkey et
al.; the "light" normalisers of Lucene's ArabicNormalizer and CAMeL Tools): hamzated alef variants,
alef wasla and madda → bare alef (ا); alef maksura → yeh; teh marbuta → heh; tatweel removed;
harakat, tanween, shadda, sukun, superscript (dagger) alef, hamza marks and the Quranic annotation
signs removed; Arabic-Indic and Persian digits → ASCII; Persian keheh/yeh (typed on Persian or Urdu
keyboards) → Arabic kaf/yeh. It is a translate table, not a library call: the rules are a dozen
code-point maps and no maintained package exposes exactly this set (pyarabic's is unmaintained
since 2022 and treats teh marbuta separately).

`normalise_for_matching` is for any language: NFKC, casefold, the Arabic folding above, and every
combining mark dropped, which folds Latin accents (é → e, ç → c; œ → oe). Folding French accents is deliberate: learners on phones
often type without them ("eleve" for "élève"), and the few words it merges (où/ou, à/a) are stop
words or harmless for retrieval. Typographic apostrophes become "'" so that elisions (l' d' qu')
look the same to the retrieval code that handles them.
"""
from __future__ import annotations

import unicodedata

_DIACRITICS = [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06DD),
               *range(0x06DF, 0x06E9), *range(0x06EA, 0x06EE), *range(0x08D3, 0x08E2),
               *range(0x08E3, 0x0900)]
_TATWEEL = 0x0640

_ARABIC_TABLE: dict[int, str | None] = {
    **{cp: None for cp in _DIACRITICS},
    _TATWEEL: None,
    **{ord(ch): "ا" for ch in "أإآٱٲٳ"},
    ord("ى"): "ي",
    ord("ی"): "ي",
    ord("ک"): "ك",
    ord("ة"): "ه",
    **{0x0660 + d: str(d) for d in range(10)},
    **{0x06F0 + d: str(d) for d in range(10)},
}

_LATIN_TABLE: dict[int, str] = {ord("œ"): "oe", ord("æ"): "ae", ord("’"): "'", ord("‘"): "'",
                                ord("ʼ"): "'", ord("`"): "'", ord("´"): "'"}


def normalise_arabic(text: str) -> str:
    """Arabic orthographic folding; every non-Arabic character is kept as it is."""
    return text.translate(_ARABIC_TABLE)


def _drop_combining_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", kept)


def normalise_for_matching(text: str) -> str:
    """NFKC, casefold, Arabic folding and accent folding: the key text is compared on."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _drop_combining_marks(normalise_arabic(folded)).translate(_LATIN_TABLE)
