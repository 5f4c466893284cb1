"""Sentence boundaries: Arabic and French marks, abbreviations, « » quotes, exact offsets, options."""
from __future__ import annotations

import pytest

from core.text.sentences import sentence_spans, sentences
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH, FRENCH_2, HASSANIYA


def test_arabic_question_mark_ends_and_arabic_comma_does_not() -> None:
    assert sentences("ما هي عاصمة موريتانيا؟ هي نواكشوط، وتقع على المحيط. انتهى") == [
        "ما هي عاصمة موريتانيا؟", "هي نواكشوط، وتقع على المحيط.", "انتهى"]


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = "Selon M. Dupont, la p. 3 le dit. En 52 av. J.-C. César gagne ! Qu'en penser ? La fin"
    assert sentences(text) == [
        "Selon M. Dupont, la p. 3 le dit.", "En 52 av. J.-C. César gagne !", "Qu'en penser ?", "La fin"]
    assert sentences("J. Smith met Mr. Brown, e.g. at noon. Then he left.") == [
        "J. Smith met Mr. Brown, e.g. at noon.", "Then he left."]


def test_french_quotes_stay_with_their_sentence() -> None:
    assert sentences("M. Dupont dit « vraiment ? » puis part ; il rit. « Oui ! » Fin.", semicolon_ends=True) == [
        "M. Dupont dit « vraiment ? » puis part ; il rit.", "« Oui ! »", "Fin."]
    assert sentences("Il dit : « C'est fini. » Puis il part.") == ["Il dit : « C'est fini. »", "Puis il part."]
    assert sentences("Il dit : « C'est fini.\u00a0» Puis il part.")[0].endswith("\u00a0»")


@pytest.mark.parametrize("semicolon_ends", [False, True])
def test_semicolons_end_a_sentence_only_when_asked(semicolon_ends: bool) -> None:
    text = "هي نواكشوط؛ وتقع على المحيط. Il part ; Ensuite il rit."
    expected = (["هي نواكشوط؛", "وتقع على المحيط.", "Il part ;", "Ensuite il rit."] if semicolon_ends
                else ["هي نواكشوط؛ وتقع على المحيط.", "Il part ; Ensuite il rit."])
    assert sentences(text, semicolon_ends=semicolon_ends) == expected


def test_line_breaks() -> None:
    text = "Une ligne coupée\npar la mise en page.\n\nTitre suivant"
    assert sentences(text) == ["Une ligne coupée\npar la mise en page.", "Titre suivant"]
    assert sentences(text, newline_ends=True) == ["Une ligne coupée", "par la mise en page.", "Titre suivant"]


def test_long_sentences_are_cut_at_clauses_only_with_max_chars() -> None:
    text = "Un début ; une suite : et encore؛ la fin. Court."
    assert sentences(text) == ["Un début ; une suite : et encore؛ la fin.", "Court."]
    assert sentences(text, max_chars=20) == ["Un début ;", "une suite :", "et encore؛", "la fin.", "Court."]


@pytest.mark.parametrize("text", [ARABIC, ENGLISH, FRENCH, FRENCH_2, HASSANIYA, "", "  \n ", "Fin. » ) ."])
@pytest.mark.parametrize("options", [{}, {"semicolon_ends": True, "newline_ends": True}, {"max_chars": 40}])
def test_spans_are_exact_trimmed_ordered_and_cover_the_text(text: str, options: dict[str, object]) -> None:
    spans = sentence_spans(text, **options)  # type: ignore[arg-type]
    assert all(text[a:b] == text[a:b].strip() != "" for a, b in spans)
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:]))
    assert "".join("".join(text[a:b] for a, b in spans).split()) == "".join(text.split())
