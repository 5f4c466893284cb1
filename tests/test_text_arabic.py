"""Normalisation for matching: Arabic folding pairs, Latin folding, originals untouched."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.text.arabic import normalise_arabic, normalise_for_matching

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


@pytest.mark.parametrize(("raw", "expected"), [
    ("أحمد", "احمد"), ("إسلام", "اسلام"), ("آخر", "اخر"), ("ٱلكتاب", "الكتاب"),
    ("على", "علي"), ("مدرسة", "مدرسه"), ("كتـــاب", "كتاب"),
    ("مُدَرِّسَةٌ", "مدرسه"), ("ذٰلِكَ", "ذلك"), ("رَحْمَٰنِ", "رحمن"),
    ("الرَّحِيمِۖ", "الرحيم"), ("قُلْ ۚ", "قل "), ("كِتَابًا", "كتابا"),
    ("٠١٢٣٤٥٦٧٨٩", "0123456789"), ("۱۲۳", "123"), ("ی ک", "ي ك"),
])
def test_arabic_pairs(raw: str, expected: str) -> None:
    assert normalise_arabic(raw) == expected


def test_arabic_folding_leaves_other_scripts_alone() -> None:
    assert normalise_arabic("Élève: café 123 — ok") == "Élève: café 123 — ok"


@pytest.mark.parametrize(("raw", "expected"), [
    ("L’Élève", "l'eleve"), ("ŒUVRE", "oeuvre"), ("ÇA VA", "ca va"), ("Straße", "strasse"),
    ("ﬁn", "fin"), ("ﻻ", "لا"), ("Qu’il", "qu'il"), ("  Hello  ", "  hello  "),
])
def test_matching_pairs(raw: str, expected: str) -> None:
    assert normalise_for_matching(raw) == expected


def test_decomposed_and_composed_hamza_match() -> None:
    assert normalise_for_matching("\u0627\u0654\u0633\u062f") == normalise_for_matching("أسد") == "اسد"


def test_original_is_not_modified() -> None:
    original = "أَحْمَدُ في المدرسة"
    copy = str(original)
    normalise_for_matching(original)
    assert original == copy


def test_real_arabic_loses_only_folded_characters() -> None:
    path = EVAL / "xquad" / "passages.jsonl"
    if not path.exists():
        pytest.skip(f"eval data absent: {path}")
    texts = [row["text"] for row in map(json.loads, path.read_text("utf-8").splitlines()) if row["lang"] == "ar"]
    folded = normalise_arabic("\n".join(texts))
    assert not set(folded) & set("أإآٱىةـ\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670٠١٢٣٤٥٦٧٨٩")
    assert normalise_arabic(folded) == folded  # idempotent
    words = "\n".join(texts).split()  # words are folded one by one: none split or merged
    assert folded.split() == [normalise_arabic(w) for w in words if normalise_arabic(w)]
