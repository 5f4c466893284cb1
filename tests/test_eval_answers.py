"""The scoring of `ustadh eval --answers` and `--quizzes` (ops.eval_scoring, ops.eval_quizzes' item
checks, ops.eval_answers' sets), on real Arabic, French and English strings of ../shared/eval;
these tests skip when ../shared/eval is absent."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.answer.prompt import NOT_IN_MATERIAL
from core.quiz.grounding import four_distinct, supported
from ops.eval_answers import cases
from ops.eval_quizzes import checks, topic
from ops.eval_scoring import contains_gold, in_language, normalise, percentile, refused, token_f1

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def rows(name: str, kind: str) -> dict[str, dict[str, Any]]:
    path = EVAL / name / f"{kind}.jsonl"
    if not path.exists():
        pytest.skip("../shared/eval is not present")
    return {row["id"]: row for row in map(json.loads, path.read_text("utf-8").splitlines())}


def question(question_id: str) -> dict[str, Any]:
    return rows("piaf" if question_id.startswith("piaf") else "xquad", "questions")[question_id]


def passage(passage_id: str) -> str:
    return rows("piaf" if passage_id.startswith("piaf") else "xquad", "passages")[passage_id]["text"]


def gold_sentence(question_id: str) -> str:
    """The passage's text around the gold answer, cut at sentence ends (. ؟ or the text's ends)."""
    q = question(question_id)
    text, start = passage(q["passage_id"]), q["answer_starts"][0]
    first = max(text.rfind(". ", 0, start), text.rfind("، ", 0, start - 40)) + 2
    end = text.find(". ", start)
    return text[max(first, 0):end if end > 0 else len(text)]


def test_normalise_folds_arabic_french_and_numbers() -> None:
    assert normalise(question("piaf-fr-p140295460357536")["answers"][0]) == "l ouganda"  # L’Ouganda
    assert normalise("L'Ouganda, « perle de l'Afrique » [2].") == "l ouganda perle de l afrique"
    assert normalise("١٠٠٬٠٠٠ موظف") == normalise("100,000 موظف") == normalise("100 000 موظف") == "100000 موظف"
    assert normalise("تصدَّر كاوانُ شورت [1][3]") == "تصدر كاوان شورت"
    assert normalise("أربعة") == normalise("اربعه")
    assert normalise("en 2003 14 équipes") == "en 2003 14 equipes"  # not a thousands separator


def test_every_gold_answer_is_contained_in_its_own_passage() -> None:
    """Golds occur verbatim in their passages: contains-gold must find nearly all of them (the misses
    are XQuAD ar answers glued to the previous word in the data, e.g. 'كانتمكتوبة')."""
    for name, lang, least in (("xquad", "ar", 0.98), ("xquad", "en", 0.999), ("piaf", "fr", 1.0)):
        qs = [q for q in rows(name, "questions").values() if q["lang"] == lang]
        found = sum(contains_gold(passage(q["passage_id"]), q["answers"]) for q in qs)
        assert found / len(qs) >= least, (name, lang, found, len(qs))


def test_contains_gold_in_arabic() -> None:
    q = question("xquad-ar-56beb4343aeaaa14008c925f")  # من سجل أعلى عدد من الاستحواذات ...؟ → كاوان شورت
    assert contains_gold(gold_sentence(q["id"]), q["answers"])
    assert contains_gold("سجّل لكاوانُ شورت أعلى عدد [1]", q["answers"])  # proclitic ل, harakat
    assert not contains_gold("سجل جاريد ألين أعلى عدد [1]", q["answers"])
    points = question("xquad-ar-56beb4343aeaaa14008c925b")["answers"]  # 308
    assert contains_gold("لم يتخل الدفاع إلا عن ٣٠٨ نقاط [1]", points)  # Arabic-Indic digits
    assert not contains_gold("تخلى عن ٣٠٨٠ نقطة", points) and not contains_gold("في 1308", points)
    four = question("xquad-ar-56beb4343aeaaa14008c925e")["answers"]  # أربعة
    assert contains_gold("اعترض اربعه كرات", four) and not contains_gold("اعترض أربعين كرة", four)


def test_contains_gold_in_french() -> None:
    q = question("piaf-fr-p140295460357536")  # Quel pays est surnommé la "perle de l'Afrique" ? → L’Ouganda
    assert contains_gold(gold_sentence(q["id"]), q["answers"])
    assert contains_gold("C'est l'Ouganda [1].", q["answers"]) and contains_gold("L OUGANDA", q["answers"])
    assert not contains_gold("C'est le Rwanda [1].", q["answers"])
    staff = question("piaf-fr-p140295443291664")["answers"]  # 100 000
    assert contains_gold("Environ 100000 personnes [1].", staff) and contains_gold("100,000 agents", staff)
    assert not contains_gold("1 100 000 personnes", staff) and not contains_gold("10 000 personnes", staff)


def test_token_f1_is_squad_style() -> None:
    short = question("xquad-en-56beb4343aeaaa14008c925f")["answers"]  # Kawann Short
    assert token_f1("Kawann Short [1].", short) == 1.0
    # "the" dropped: panthers leader was kawann short → precision 2/5, recall 1
    assert token_f1("The Panthers' leader was Kawann Short [1].", short) == pytest.approx(2 * 0.4 / 1.4)
    assert token_f1("Thomas Davis [1]", short) == 0.0
    # c est ouganda (l dropped) against ouganda: precision 1/3, recall 1
    assert token_f1("C'est l'Ouganda.", question("piaf-fr-p140295460357536")["answers"]) == pytest.approx(0.5)
    arabic = question("xquad-ar-56beb4343aeaaa14008c925f")["answers"]
    assert token_f1("كاوانُ شورت [2]", arabic) == 1.0
    assert token_f1("الكتاب", ["كتاب"]) == 1.0  # the article ال is dropped
    assert token_f1("Kawann", ["Luke Kuechly", "Kawann Short"]) == pytest.approx(2 / 3)  # best gold


def test_refusals_are_recognised_in_every_language() -> None:
    assert refused("Désolé : je n'ai pas trouvé la réponse à cette question dans les documents du cours.", "llm")
    assert refused("عذرا، " + NOT_IN_MATERIAL["ar"], "llm")
    assert refused(NOT_IN_MATERIAL["en"].upper(), "llm")
    assert refused("anything", "unsupported")
    assert not refused(gold_sentence("piaf-fr-p140295460357536") + " [1]", "llm")
    assert not refused(gold_sentence("xquad-ar-56beb4343aeaaa14008c925f") + " [1]", "extractive")


def test_answer_language() -> None:
    arabic = gold_sentence("xquad-ar-56beb4343aeaaa14008c925f")
    english = gold_sentence("xquad-en-56beb4343aeaaa14008c925f")
    assert in_language(arabic + " [1]", "ar") and not in_language(arabic, "en")
    assert in_language(english + " [1]", "en") and not in_language(english, "ar")
    assert in_language(gold_sentence("piaf-fr-p140295460357536"), "fr")
    assert in_language("308 [1]", "ar")  # no letters: nothing says otherwise


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile([], 0.5)) == (5.0, 10.0, None)


def test_answer_sets() -> None:
    if not EVAL.exists():
        pytest.skip("../shared/eval is not present")
    made = cases(EVAL, 30, 4)
    by_set = {name: [c for c in made if c.set == name] for name in {c.set for c in made}}
    assert {name: len(v) for name, v in by_set.items()} == {"xquad en": 4, "xquad ar": 4, "piaf fr": 4,
                                                             "cross-lingual": 4, "unanswerable": 4}
    assert len({c.gold_passage for c in by_set["xquad en"]}) == 4  # spread over passages
    for c in by_set["cross-lingual"]:
        twin = question(c.id.replace("xquad-ar-", "xquad-en-"))
        assert c.language == "ar" and c.source == "xquad en" and c.gold_passage == twin["passage_id"]
        assert set(question(c.id)["answers"]) | set(twin["answers"]) == set(c.golds)
    assert {(c.language, c.source) for c in by_set["unanswerable"]} == {("en", "piaf fr"), ("fr", "xquad en")}
    assert all(c.gold_passage is None and not c.golds for c in by_set["unanswerable"])


def test_quiz_item_checks() -> None:
    chunk = passage("piaf-fr-p001")
    good = {"question": "Qui est mort en juillet ?", "options": ["Richter", "Thomas", "Böhme", "Luther"],
            "correct": 0, "explanation": "Le texte le dit. [Sport]"}
    assert checks(good, chunk) == (True, True, True)
    assert not supported("Bismarck", chunk) and not supported("Richter", None)
    assert not four_distinct(["Élève", "eleve", "maître", "cours"]) and not four_distinct(["a", "b", "c"])
    long_question = {**good, "question": "x" * 301}
    assert checks(long_question, chunk) == (False, True, True)
    assert topic(passage("xquad-ar-p000"), "ar").startswith("لم يتخلى فريق بانثرز")
