"""Which of Ustadh's languages a text is written in, and whether Arabic-script text is Hassaniya.

`detect` first counts letters: text whose letters are mostly Arabic script is "ar" (this also keeps
short Arabic text from being called Persian or Urdu, as unrestricted detectors do). Latin-script
text goes to py3langid (BSD, model inside the wheel, offline) restricted to French and English.
Text with no letters, or a Latin text too short to decide (confidence below 0.55 and no French
accented letter), gets `fallback`: callers pass what they already know (the user's language);
the default is French, the usual written language of Mauritanian learners after Arabic.

`is_hassaniya` looks for Hassaniya (Mauritanian Arabic) function words and frequent lexemes that
Modern Standard Arabic does not use. The forms come from the descriptions of Hassaniya in
C. Taine-Cheikh, "Ḥassāniyya Arabic", Encyclopedia of Arabic Language and Linguistics vol. 2
(Brill 2007) pp. 240-250 (HAL halshs-00563853) and T. Francis & S. Hanchey, Mauritanian Arabic
Grammar Handbook (Peace Corps 1979, ERIC ED 290 326: demonstratives, interrogatives, negation),
spelled as Hassaniya is written online (گ for /g/, joined negation ماهُ). Forms that MSA also
uses (ذاك, ذي "possessor", ما هو, قط, وين in transliterated names) are left out on purpose. Some
markers (شنهو) are shared with Gulf/Iraqi dialects: the question answered is "Hassaniya rather
than MSA", not a full dialect identification.
"""
from __future__ import annotations

import threading
from typing import Literal

import regex
from cachetools import cached
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from core.text.arabic import normalise_for_matching

Language = Literal["ar", "fr", "en"]

_LETTER = regex.compile(r"\p{L}")
_ARABIC_LETTER = regex.compile(r"[\p{Script=Arabic}&&\p{L}]", flags=regex.V1)
_FRENCH_LETTERS = frozenset("àâæçéèêëîïôœùûüÿ")
_MIN_CONFIDENCE = 0.55
_ARABIC_WORD = regex.compile(r"[\p{Script=Arabic}&&\p{L}]+", flags=regex.V1)

# Normalised forms (see core.text.arabic): no diacritics, ة→ه, ى→ي, أ/إ/آ→ا.
HASSANIYA_MARKERS = frozenset({
    "شنهو", "اشنهو", "شنهي", "اشنهي",  # what
    "اشطاري", "شطاري",  # what's new (greeting)
    "گاع", "كاع",  # all, at all
    "گط", "كط",  # ever / never
    "ذ",  # ذَ / ذِ: this (m./f.)
    "ذرك", "ذرگ", "اذرك",  # now
    "ماه",  # ماهُ: is not (negated copula)
    "ازين",  # good
    "يقير", "ايقير",  # but (يغير is also MSA "changes")
    "شدور", "اشدور",  # what do you want
    "لمنادم",  # the person
    "امنين",  # when
})
_SHORT_TEXT_WORDS = 12


@cached({}, condition=threading.Condition())  # built once even when threads ask at the same time
def _latin_identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["fr", "en"])
    return identifier


def preload() -> None:
    """Loads the Latin-script model now (about a second of CPU) rather than on the first `detect`."""
    _latin_identifier()


def arabic_letter_share(text: str) -> float:
    """Share of the letters of `text` that are Arabic script (0.0 when it has no letters)."""
    letters = len(_LETTER.findall(text))
    return len(_ARABIC_LETTER.findall(text)) / letters if letters else 0.0


def detect(text: str, fallback: Language = "fr") -> Language:
    """"ar", "fr" or "en" for `text`, offline; `fallback` when the text does not say."""
    if not _LETTER.search(text):
        return fallback
    if arabic_letter_share(text) > 0.5:
        return "ar"
    language, confidence = _latin_identifier().classify(text)
    if confidence >= _MIN_CONFIDENCE:
        return "fr" if language == "fr" else "en"
    if _FRENCH_LETTERS.intersection(text.casefold()):
        return "fr"
    return fallback


def hassaniya_markers(text: str) -> set[str]:
    """The distinct Hassaniya markers found among the Arabic-script words of `text`."""
    words = _ARABIC_WORD.findall(normalise_for_matching(text))
    return HASSANIYA_MARKERS.intersection(words)


def is_hassaniya(text: str) -> bool:
    """True when Arabic-script `text` carries Hassaniya markers: one in a short message, two
    distinct ones in longer text (a lone marker in a long text is more likely a stray word)."""
    found = hassaniya_markers(text)
    words = len(_ARABIC_WORD.findall(text))
    return len(found) >= (1 if words <= _SHORT_TEXT_WORDS else 2)
