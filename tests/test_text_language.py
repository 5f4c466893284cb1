"""Language detection on real eval passages and short inputs; Hassaniya markers vs MSA."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.text.language import detect, hassaniya_markers, is_hassaniya

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def eval_passages(lang: str) -> list[str]:
    path = EVAL / ("piaf" if lang == "fr" else "xquad") / "passages.jsonl"
    if not path.exists():
        pytest.skip(f"eval data absent: {path}")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return [row["text"] for row in rows if row["lang"] == lang]


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_accuracy_on_eval_passages(lang: str) -> None:
    texts = eval_passages(lang)
    assert len(texts) >= 100
    accuracy = sum(detect(text) == lang for text in texts) / len(texts)
    assert accuracy >= 0.98


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_accuracy_on_first_sentences(lang: str) -> None:
    sentences = [text.split(". ")[0] for text in eval_passages(lang)]
    accuracy = sum(detect(sentence) == lang for sentence in sentences) / len(sentences)
    assert accuracy >= 0.95


@pytest.mark.parametrize(("text", "expected"), [
    ("مرحبا", "ar"), ("ما هي عاصمة موريتانيا؟", "ar"), ("شنهو ذ؟", "ar"),
    ("قال الأستاذ إن عملية photosynthesis مهمة جدا في الدرس", "ar"),  # Arabic letters dominate
    ("Quelle est la capitale de la Mauritanie ?", "fr"), ("aide moi", "fr"), ("élève", "fr"),
    ("What is the capital of Mauritania?", "en"), ("hello", "en"), ("help me please", "en"),
])
def test_short_texts(text: str, expected: str) -> None:
    assert detect(text) == expected


def test_fallback_when_text_does_not_say() -> None:
    assert detect("12 + 7 = ?", fallback="en") == "en"
    assert detect("", fallback="ar") == "ar"
    assert detect("ok", fallback="en") == "en"
    assert detect("ok", fallback="fr") == "fr"


@pytest.mark.parametrize("phrase", [
    "شنهو ذ؟", "اشطاري؟", "ماهُ زين", "ذِ الخيمة ازينه", "گاع الناس جاو",
    "ذرك نمشي للسوك", "شدور؟", "اشنهو اللي اتگول؟", "ماه اعل ذ الطريق",
])
def test_hassaniya_phrases_are_flagged(phrase: str) -> None:
    assert is_hassaniya(phrase)


@pytest.mark.parametrize("sentence", [
    "ما هو الشيء الذي تريده؟", "ذلك الكتاب مفيد جدا للطلاب.", "لم يتغير شيء قط في هذه المدينة.",
    "هذا الرجل يغير رأيه كل يوم.", "أين تذهب الآن؟",
])
def test_msa_sentences_are_not_flagged(sentence: str) -> None:
    assert not is_hassaniya(sentence)


def test_msa_eval_passages_and_sentences_are_not_flagged() -> None:
    passages = eval_passages("ar")
    sentences = [s for text in passages for s in text.replace("؟", ".").split(". ") if s.strip()]
    assert [p for p in passages if is_hassaniya(p)] == []
    assert [s for s in sentences if is_hassaniya(s)] == []


def test_long_text_needs_two_distinct_markers() -> None:
    msa = " ".join(["كان العلماء يدرسون النباتات في المختبر كل يوم"] * 3)
    assert not is_hassaniya(msa + " شنهو")
    assert is_hassaniya(msa + " شنهو گاع")
    assert hassaniya_markers("شَنْهُو ذَ") == {"شنهو", "ذ"}


def test_threads_asking_at_once_share_one_model() -> None:
    """Ingestion detects languages in worker threads: the first ones to ask must not each load the
    model (a second of CPU apiece)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from core.text import language

    language._latin_identifier.cache_clear()
    start = Barrier(6)

    def load() -> int:
        start.wait()
        return id(language._latin_identifier())

    with ThreadPoolExecutor(6) as threads:
        assert len(set(threads.map(lambda _: load(), range(6)))) == 1
    assert detect("Le professeur explique la leçon aux élèves.") == "fr"
