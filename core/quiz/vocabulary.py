"""Which words of a text can be blanked out, and which other words look enough alike to be
wrong options for them (distractors).

A content word is a single word (no hyphen, no digit) of the quiz's script, not a stop word
(`core.text.quality.stop_words`, also after a leading Arabic و/ف), 4-24 letters in French and
English, 3-15 in Arabic. Two words are "the same answer" when their matching keys
(`normalise_for_matching` + the retrieval light stemmer `core.retrieval.analysis.stem`) are
equal or one extends the other (≥ 4 letters): القراءة/قراءة/والقراءة, leçon/leçons,
révisé/révisent, so an inflection of the answer is never offered as a wrong option.

A distractor must fit the blank's grammar as far as spelling shows it:
- Arabic: a definite answer (article ال after optional و/ف and ب/ك/ل: "والكتابة") gets the cores
  of other definite words under its own prefixes ("والفلك"); a bare word gets bare words that
  start with the same proclitic-like letter (و ف ب ك ل) or with none. Harakat are removed from
  distractors (answers with harakat are never chosen, so no option stands out by its marks).
- French/English: same capitalisation (proper nouns against proper nouns); after l'/d'/qu' or
  "an" a vowel-initial word, after le/la/de/ce/ne/que or "a" a consonant-initial one.
Closer shapes (length, plural ending, Arabic ending ة/ات/ون/ين) rank first. The rules are a
page of code; no offline library offers distractor generation for Arabic and French.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import regex

from core.retrieval.analysis import stem
from core.text.arabic import normalise_for_matching
from core.text.quality import stop_words
from core.text.sentences import sentences

WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*(?:-\p{L}[\p{L}\p{M}]*)*")
_ARABIC_WORD = regex.compile(r"^[\p{Script=Arabic}&&[\p{L}\p{M}]]+$", flags=regex.V1)
_LATIN_WORD = regex.compile(r"^[\p{Script=Latin}\p{M}]+$")
_MARK = regex.compile(r"\p{M}")
_DEFINITE = regex.compile(r"^([وف]?[بكل]?ال)(?=\p{L}{3})")
_LETTERS = {"ar": (3, 15), "fr": (4, 24), "en": (4, 24)}
_VOWELS = frozenset("aeiouyhàâäéèêëîïôöùûüœæ")
_BEFORE_VOWEL = {"fr": frozenset(), "en": frozenset({"an"})}
_BEFORE_CONSONANT = {"fr": frozenset({"le", "la", "de", "ce", "ne", "que", "je", "me", "te", "se"}),
                     "en": frozenset({"a"})}
_ARABIC_ENDINGS = ("ات", "ون", "ين", "ة")
_PROCLITIC_LETTERS = "وفبكل"
LANGUAGES = ("ar", "fr", "en")


def quiz_sentences(text: str) -> list[str]:
    """The sentences of `text` that questions are built on (`core.text.sentences`): ; and ؛ end
    a sentence too, and so does a line break, so that a question stays one short clause."""
    return sentences(text, semicolon_ends=True, newline_ends=True)


def key(word: str) -> str:
    """Matching key: normalised and light-stemmed ("والكتابة" → "كتاب", "leçons" → "lecon")."""
    return stem(normalise_for_matching(word))


def same_answer(a: str, b: str) -> bool:
    """True when keys `a` and `b` name the same word up to inflection."""
    shorter, longer = sorted((a, b), key=len)
    return a == b or (len(shorter) >= 4 and longer.startswith(shorter))


def strip_marks(word: str) -> str:
    return _MARK.sub("", word)


def _in_script(word: str, language: str) -> bool:
    return bool((_ARABIC_WORD if language == "ar" else _LATIN_WORD).match(word))


def _is_stop(word: str, language: str) -> bool:
    folded = normalise_for_matching(word)
    stops = stop_words(language)  # type: ignore[arg-type]
    return folded in stops or (language == "ar" and folded[:1] in "وف" and folded[1:] in stops)


def is_content_word(word: str, language: str) -> bool:
    low, high = _LETTERS[language]
    letters = len(strip_marks(word))
    return ("-" not in word and low <= letters <= high and _in_script(word, language)
            and not _is_stop(word, language) and len(key(word)) >= 2)


def arabic_prefix(word: str) -> str | None:
    """The proclitics+article of a definite Arabic word ("وال" in "والكتابة"), else None."""
    found = _DEFINITE.match(word)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Slot:
    """What the blank demands of an option, as far as spelling shows it."""
    language: str
    answer: str
    previous: str = ""

    @property
    def capitalised(self) -> bool:
        return self.answer[:1].isupper()

    def vowel_needed(self) -> bool | None:
        before = self.previous.casefold()
        if before.endswith(("'", "’")) or before in _BEFORE_VOWEL.get(self.language, ()):
            return True
        return False if before in _BEFORE_CONSONANT.get(self.language, ()) else None


def _arabic_class(word: str) -> tuple[str, str]:
    prefix = arabic_prefix(word)
    if prefix is not None:
        return ("definite", "")
    return ("bare", word[0] if word[0] in _PROCLITIC_LETTERS else "")


def _fits_latin(slot: Slot, form: str) -> bool:
    if form[:1].isupper() != slot.capitalised or form.isupper() != slot.answer.isupper():
        return False
    vowel = slot.vowel_needed()
    return vowel is None or (form[:1].casefold() in _VOWELS) == vowel


def fitted_form(slot: Slot, form: str) -> str | None:
    """`form` as it would fill the blank (Arabic prefixes carried over), or None if it can't."""
    if slot.language != "ar":
        return form if _fits_latin(slot, form) else None
    if _arabic_class(form) != _arabic_class(slot.answer):
        return None
    prefix = arabic_prefix(slot.answer)
    if prefix is None:
        return form
    return prefix + form[len(arabic_prefix(form) or ""):]


def _ending(word: str, language: str) -> str:
    if language == "ar":
        return next((e for e in _ARABIC_ENDINGS if word.endswith(e)), "")
    return word[-1:] if word[-1:] in "sx" else ""


def _distance(slot: Slot, form: str) -> float:
    length = abs(len(form) - len(slot.answer))
    return length + (3 if _ending(form, slot.language) != _ending(slot.answer, slot.language) else 0)


@dataclass
class Vocabulary:
    """Content words of some texts in one language: key → first display form, and in how many
    texts each key occurs (rarer words are more specific, so better blanks)."""
    language: str
    forms: dict[str, str] = field(default_factory=dict)
    text_counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, texts: Iterable[str], language: str) -> Vocabulary:
        vocabulary = cls(language)
        for text in texts:
            vocabulary.add(text)
        return vocabulary

    def add(self, text: str) -> None:
        seen: set[str] = set()
        for sentence in quiz_sentences(text):
            for i, found in enumerate(WORD.finditer(sentence)):
                word = strip_marks(found.group()) if self.language == "ar" else found.group()
                if (i == 0 and self.language != "ar") or not is_content_word(word, self.language):
                    continue
                word_key = key(word)
                self.forms.setdefault(word_key, word)
                seen.add(word_key)
        self.text_counts.update(sorted(seen))

    def distractors(self, slot: Slot, exclude: Sequence[str], k: int, rng: random.Random) -> list[str]:
        """Up to `k` wrong options for `slot`: fitting forms whose keys differ from the answer's,
        from each other's and from `exclude` (the sentence's own words), the closest in shape
        first, then `k` drawn by `rng` from the best 2k."""
        ranked = sorted((_distance(slot, form), rng.random(), form) for form in self.forms.values())
        taken = [key(slot.answer), *exclude]
        shortlist: list[str] = []
        for _, _, form in ranked:
            fitted = fitted_form(slot, form)
            if fitted is None or any(same_answer(key(fitted), other) for other in taken):
                continue
            shortlist.append(fitted)
            taken.append(key(fitted))
            if len(shortlist) == 2 * k:
                break
        return rng.sample(shortlist, k) if len(shortlist) >= k else shortlist
