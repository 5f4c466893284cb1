"""Offline cloze questions: a sentence of a passage with one salient word blanked out ("____"),
the word and three look-alike distractors as options, the whole sentence (and its citation) as
the explanation. No model is called, so quizzes work when the chat model is down or unpaid.

Sentences are taken round-robin over the passages (in retrieval order), the most informative
first (share of content words, 6-45 words, short enough for a poll), each at most once even when
overlapping chunks repeat it. In a sentence, the blank is the most specific content word
(longest, rarest across the pool, proper nouns and Arabic definite nouns first) that has three
distractors fitting its slot (`core.quiz.vocabulary`); never the first word of a French or
English sentence (its capital hides whether it is a proper noun), never a repeated word, never
an Arabic word written with harakat. The question is the sentence as written with only the
blank replaced, so `question.replace(BLANK, answer)` gives the original sentence back.
Everything random comes from the caller's `rng`: a seed gives the same quiz.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from itertools import zip_longest

import regex

from core.quiz.citation import citation_label
from core.quiz.model import Passage, QuizQuestion
from core.quiz.telegram_limits import MAX_QUESTION, fit_poll, tg_len
from core.quiz.vocabulary import (
    LANGUAGES,
    WORD,
    Slot,
    Vocabulary,
    arabic_prefix,
    is_content_word,
    key,
    quiz_sentences,
    strip_marks,
)
from core.text.arabic import normalise_for_matching
from core.text.language import arabic_letter_share, detect

BLANK = "____"
DISTRACTORS = 3
MIN_WORDS, MAX_WORDS = 6, 45
_MAX_TRIES_PER_SENTENCE = 6
_SPACE = regex.compile(r"\s+")


def _in_language(text: str, language: str, stated: str | None = None) -> bool:
    if stated:
        return stated == language
    return detect(text, fallback=language) == language  # type: ignore[arg-type]


def _script_matches(sentence: str, language: str) -> bool:
    return (arabic_letter_share(sentence) > 0.5) == (language == "ar")


def _usable(sentence: str, language: str) -> bool:
    words = WORD.findall(sentence)
    return (MIN_WORDS <= len(words) <= MAX_WORDS and BLANK not in sentence
            and tg_len(sentence) <= MAX_QUESTION and _script_matches(sentence, language))


def _informativeness(sentence: str, language: str) -> float:
    words = WORD.findall(sentence)
    return sum(is_content_word(w, language) for w in words) / len(words)


def _ranked_sentences(passage: Passage, language: str, rng: random.Random) -> list[str]:
    usable = [s for s in quiz_sentences(passage["text"]) if _usable(s, language)]
    scored = [(-_informativeness(s, language), rng.random(), s) for s in usable]
    return [s for _, _, s in sorted(scored)]


def _sentence_order(passages: Sequence[Passage], language: str,
                    rng: random.Random) -> Iterator[tuple[Passage, str]]:
    per_passage = [[(p, s) for s in _ranked_sentences(p, language, rng)] for p in passages]
    for row in zip_longest(*per_passage):
        yield from (item for item in row if item is not None)


def _salience(word: str, first_in_text: bool, vocabulary: Vocabulary, language: str) -> float:
    score = min(len(word), 12) - 1.5 * min(vocabulary.text_counts[key(word)] - 1, 3)
    if language == "ar":
        return score + (2 if arabic_prefix(word) else 0)
    return score + (3 if word[:1].isupper() and not first_in_text else 0)


def _candidates(sentence: str, language: str, vocabulary: Vocabulary,
                rng: random.Random) -> list[tuple[regex.Match[str], str]]:
    """Blankable words of `sentence` (match, previous word), most salient first."""
    found = list(WORD.finditer(sentence))
    counts = {}
    for m in found:
        counts[key(m.group())] = counts.get(key(m.group()), 0) + 1
    ranked = []
    for i, m in enumerate(found):
        word = m.group()
        if ((i == 0 and language != "ar") or strip_marks(word) != word or counts[key(word)] > 1
                or not is_content_word(word, language)):
            continue
        previous = sentence[found[i - 1].start():m.start()].strip() if i else ""
        ranked.append((-_salience(word, i == 0, vocabulary, language), rng.random(), i, m, previous))
    return [(m, previous) for *_, m, previous in sorted(ranked, key=lambda r: r[:3])]


def _question(passage: Passage, sentence: str, language: str, vocabulary: Vocabulary,
              rng: random.Random) -> QuizQuestion | None:
    sentence_keys = [key(w) for w in WORD.findall(sentence)]
    for match, previous in _candidates(sentence, language, vocabulary, rng)[:_MAX_TRIES_PER_SENTENCE]:
        answer = match.group()
        wrong = vocabulary.distractors(Slot(language, answer, previous), sentence_keys, DISTRACTORS, rng)
        if len(wrong) < DISTRACTORS:
            continue
        options = [answer, *wrong]
        rng.shuffle(options)
        fitted = fit_poll(QuizQuestion(
            question=sentence[:match.start()] + BLANK + sentence[match.end():],
            options=tuple(options), correct=options.index(answer), explanation=sentence,
            chunk_id=passage["chunk_id"], citation=citation_label(passage, language)))
        if fitted is not None and fitted.answer == answer and len(fitted.options) == len(options):
            return fitted
    return None


def cloze_questions(passages: Sequence[Passage], n: int, language: str, distractor_pool: Sequence[str],
                    rng: random.Random) -> list[QuizQuestion]:
    """Up to `n` cloze questions in `language` ("ar", "fr" or "en") from distinct sentences of
    the passages written in it; distractors come from `distractor_pool` (other texts of the
    corpus; those in another language are ignored) and the passages. Every question passes
    `fit_poll`. Deterministic for a given state of `rng`."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if n <= 0:
        return []
    own = [p for p in passages if _in_language(p["text"], language, p.get("language"))]
    pool = [t for t in distractor_pool if _in_language(t, language)]
    vocabulary = Vocabulary.build([*(p["text"] for p in own), *pool], language)
    questions: list[QuizQuestion] = []
    seen: set[str] = set()
    for passage, sentence in _sentence_order(own, language, rng):
        sentence_key = _SPACE.sub(" ", normalise_for_matching(sentence)).strip()
        if sentence_key in seen:
            continue
        question = _question(passage, sentence, language, vocabulary, rng)
        if question is not None:
            seen.add(sentence_key)
            questions.append(question)
        if len(questions) == n:
            break
    return questions
