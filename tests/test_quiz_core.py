"""Quiz questions without Ray or a model: offline cloze questions on real Arabic, French and
English text, Telegram's poll limits, citations, and reading a chat model's JSON reply."""
from __future__ import annotations

import json
import random
import unicodedata

import pytest

from core.quiz import BLANK, QuizQuestion, citation_label, cloze_questions, fit_poll, parse_quiz, quiz_messages
from core.quiz.grounding import four_distinct, given_away, supported
from core.quiz.llm_quiz import MAX_PASSAGE_TOKENS
from core.quiz.telegram_limits import MAX_EXPLANATION, MAX_OPTION, MAX_QUESTION, tg_len
from core.quiz.vocabulary import WORD, quiz_sentences
from core.retrieval.analysis import terms
from core.text.arabic import normalise_for_matching
from core.text.tokens import count_tokens
from tests.corpus_texts import ARABIC, ARABIC_2, ENGLISH, ENGLISH_2, FRENCH, FRENCH_2, HASSANIYA, eval_passages

TEXTS = {"ar": (ARABIC, ARABIC_2), "fr": (FRENCH, FRENCH_2), "en": (ENGLISH, ENGLISH_2)}
ALL = [ARABIC, ARABIC_2, FRENCH, FRENCH_2, ENGLISH, ENGLISH_2, HASSANIYA]


def passage(text: str, i: int, language: str | None, **extra: object) -> dict[str, object]:
    row = {"chunk_id": f"chunk-{i}", "text": text, "title": f"Lesson {i}", "source": f"/docs/lesson{i}.pdf",
           "url": None, "page": i + 1, "language": language, "document_id": i}
    return {**row, **extra}


def question(**fields: object) -> QuizQuestion:
    base = dict(question="Where did the états généraux meet in 1789?",
                options=("Versailles", "Paris", "Lyon", "Marseille"), correct=0,
                explanation="They met at Versailles.", chunk_id="c1", citation="Histoire, p. 3")
    return QuizQuestion(**{**base, **fields})  # type: ignore[arg-type]


def original_sentence(q: QuizQuestion, text: str) -> str:
    restored = q.question.replace(BLANK, q.answer)
    assert restored in quiz_sentences(text)
    return restored


def check_cloze(q: QuizQuestion, text: str) -> None:
    """Invariants every cloze question must meet, whatever the text."""
    assert q.question.count(BLANK) == 1
    sentence = original_sentence(q, text)
    assert q.answer in WORD.findall(sentence)
    assert len(q.options) == 4 and 0 <= q.correct < 4
    for i, option in enumerate(q.options):
        if i != q.correct:
            assert q.question.replace(BLANK, option) not in text
    keys = [normalise_for_matching(o) for o in q.options]
    stems = [tuple(terms(o)) for o in q.options]
    assert len(set(keys)) == 4 and len(set(stems)) == 4, q.options
    assert q.explanation.endswith(f"[{q.citation}]")
    body = q.explanation.removesuffix(f"[{q.citation}]").strip()
    assert " ".join(sentence.split()).startswith(body.removesuffix("…"))  # whitespace collapsed
    assert tg_len(q.explanation) <= MAX_EXPLANATION and tg_len(q.question) <= MAX_QUESTION
    assert fit_poll(q) == q


@pytest.mark.parametrize("language", ["ar", "fr", "en"])
def test_cloze_on_real_text(language: str) -> None:
    texts = TEXTS[language]
    passages = [passage(t, i, language) for i, t in enumerate(texts)]
    pool = [t for t in ALL if t not in texts]
    qs = cloze_questions(passages, 5, language, pool, random.Random(7))
    assert 3 <= len(qs) <= 5
    by_chunk = {p["chunk_id"]: p for p in passages}
    for q in qs:
        check_cloze(q, by_chunk[q.chunk_id]["text"])
        assert q.citation == citation_label(by_chunk[q.chunk_id], language)
    restored = [q.question.replace(BLANK, q.answer) for q in qs]
    assert len(set(restored)) == len(restored)
    assert {q.chunk_id for q in qs} == {"chunk-0", "chunk-1"}  # round-robin over the passages


def test_arabic_cloze_keeps_harakat_and_clitics() -> None:
    passages = [passage(ARABIC, 0, "ar"), passage(ARABIC_2, 1, "ar")]
    qs = cloze_questions(passages, 10, "ar", [HASSANIYA, FRENCH, ENGLISH], random.Random(3))
    assert len(qs) >= 5
    for q in qs:
        sentence = original_sentence(q, passages[int(q.chunk_id[-1])]["text"])
        assert q.question.replace(BLANK, q.answer) == sentence
        assert all(not any(unicodedata.category(c) == "Mn" for c in o) for o in q.options)
        assert all(WORD.fullmatch(o) and "\u0600" <= o[0] <= "\u06ff" for o in q.options)
        if q.answer.startswith(("وال", "بال", "فال")):  # distractors carry the same proclitics
            assert all(o.startswith(q.answer[:3]) for o in q.options)
    assert any("ّ" in q.question or "ُ" in q.question for q in qs)  # vocalised sentences kept as written
    assert "ص." in qs[0].citation


def test_cloze_is_deterministic_per_seed() -> None:
    passages = [passage(FRENCH, 0, "fr"), passage(FRENCH_2, 1, None)]
    run = lambda seed: cloze_questions(passages, 4, "fr", [ENGLISH_2, ARABIC], random.Random(seed))  # noqa: E731
    assert run(11) == run(11)
    assert len({tuple(run(seed)) for seed in range(6)}) > 1


def test_cloze_respects_language_and_limits() -> None:
    french = [passage(FRENCH, 0, "fr"), passage(FRENCH_2, 1, None)]
    assert cloze_questions(french, 5, "ar", ALL, random.Random(1)) == []
    assert cloze_questions(french, 0, "fr", ALL, random.Random(1)) == []
    assert len(cloze_questions(french, 2, "fr", ALL, random.Random(1))) == 2
    with pytest.raises(ValueError):
        cloze_questions(french, 2, "de", ALL, random.Random(1))
    overlapping = [passage(FRENCH, 0, "fr"), passage(FRENCH, 1, "fr")]  # chunk overlap repeats sentences
    qs = cloze_questions(overlapping, 20, "fr", [FRENCH_2], random.Random(2))
    restored = [q.question.replace(BLANK, q.answer) for q in qs]
    assert len(restored) == len(set(restored))


def test_french_slot_fits_elision_and_capitals() -> None:
    qs = cloze_questions([passage(FRENCH_2, 0, "fr")], 10, "fr", [FRENCH, *eval_texts("fr", 30)],
                         random.Random(5))
    assert qs
    for q in qs:
        before = q.question.split(BLANK)[0]
        if before.endswith("'"):
            assert all(o[0].casefold() in "aeiouyhéèêâîô" for o in q.options)
        if q.answer[0].isupper():
            assert all(o[0].isupper() for o in q.options)


def eval_texts(language: str, limit: int) -> list[str]:
    return [row["text"] for row in eval_passages(language, limit)]


@pytest.mark.parametrize("language", ["ar", "fr", "en"])
def test_cloze_on_eval_passages(language: str) -> None:
    rows = eval_passages(language, 60)
    if not rows:
        pytest.skip("../shared/eval absent: no external passages")
    passages = [passage(r["text"], i, language, chunk_id=r["id"], title=r["title"], page=None,
                        url=f"https://{language}.wikipedia.org/wiki/{r['title']}") for i, r in enumerate(rows[:20])]
    pool = [r["text"] for r in rows[20:]]
    qs = cloze_questions(passages, 10, language, pool, random.Random(0))
    assert len(qs) == 10
    by_chunk = {p["chunk_id"]: p["text"] for p in passages}
    for q in qs:
        check_cloze(q, by_chunk[q.chunk_id])
        assert q.citation.endswith("wikipedia.org")


# --- sentences --------------------------------------------------------------------------------

def test_quiz_sentences_end_at_semicolons_and_line_breaks() -> None:
    assert quiz_sentences("ما هي عاصمة موريتانيا؟ هي نواكشوط؛ وتقع على المحيط. انتهى") == [
        "ما هي عاصمة موريتانيا؟", "هي نواكشوط؛", "وتقع على المحيط.", "انتهى"]
    assert quiz_sentences("Titre\nLe texte ; Il suit.") == ["Titre", "Le texte ;", "Il suit."]
    assert "".join(quiz_sentences(ARABIC)).replace(" ", "") == ARABIC.replace(" ", "")


# --- Telegram limits --------------------------------------------------------------------------

def test_question_over_300_characters_is_rejected() -> None:
    text = (ARABIC * 2)[:MAX_QUESTION]
    assert fit_poll(question(question=text)) is not None
    assert fit_poll(question(question=text + "ب")) is None
    assert fit_poll(question(question="   ")) is None


def test_eleven_options_become_ten_keeping_the_answer() -> None:
    options = tuple(f"Option {i}" for i in range(11))
    for correct in (0, 5, 10):
        fitted = fit_poll(question(options=options, correct=correct))
        assert fitted is not None and len(fitted.options) == 10
        assert fitted.answer == f"Option {correct}"


def test_duplicate_options_are_dropped_and_the_index_follows() -> None:
    fitted = fit_poll(question(options=("Lyon", " Paris", "paris ", "Versailles", "Lyon"), correct=3))
    assert fitted is not None
    assert fitted.options == ("Lyon", "Paris", "Versailles") and fitted.answer == "Versailles"
    fitted = fit_poll(question(options=("élève", "eleve", "Élève"), correct=1))
    assert fitted is None  # one distinct option left
    assert fit_poll(question(options=("Versailles", ""), correct=0)) is None
    assert fit_poll(question(options=("", "Paris"), correct=0)) is None


def test_bad_correct_index_is_rejected() -> None:
    assert fit_poll(question(correct=4)) is None
    assert fit_poll(question(correct=-1)) is None
    assert fit_poll(question(correct=True)) is None


def test_long_options_are_shortened_at_a_word() -> None:
    long = FRENCH[:150]
    fitted = fit_poll(question(options=("Versailles", long), correct=1))
    assert fitted is not None
    assert tg_len(fitted.answer) <= MAX_OPTION and fitted.answer.endswith("…")
    assert long.startswith(fitted.answer[:-1]) and long[len(fitted.answer) - 1] == " "


def test_long_explanation_keeps_its_citation() -> None:
    explanation = (FRENCH * 2)[:250]
    fitted = fit_poll(question(explanation=explanation, citation="Méthodes, p. 3"))
    assert fitted is not None
    assert fitted.explanation.endswith(" [Méthodes, p. 3]") and tg_len(fitted.explanation) <= MAX_EXPLANATION
    body = fitted.explanation.removesuffix(" [Méthodes, p. 3]")
    assert body.endswith("…") and explanation.startswith(body[:-1])
    assert explanation[len(body) - 1] in " ,;:"  # cut at a word boundary
    assert fit_poll(fitted) == fitted


def test_citation_is_added_and_never_duplicated() -> None:
    fitted = fit_poll(question(explanation="They met at Versailles."))
    assert fitted is not None and fitted.explanation == "They met at Versailles. [Histoire, p. 3]"
    assert fit_poll(question(explanation="")).explanation == "[Histoire, p. 3]"  # type: ignore[union-attr]
    assert fit_poll(question(citation="  ")) is None
    long_citation = fit_poll(question(citation="x" * 150))
    assert long_citation is not None and tg_len(long_citation.explanation) <= MAX_EXPLANATION


def test_arabic_explanation_is_cut_without_breaking_marks() -> None:
    vocalised = "تُعَدُّ القِرَاءَةُ مِفْتَاحَ المَعْرِفَةِ، وَالكِتَابَةُ أَدَاتُهَا. " * 8
    fitted = fit_poll(question(explanation=vocalised, citation="القراءة، ص. 2"))
    assert fitted is not None and fitted.explanation.endswith("[القراءة، ص. 2]")
    body = fitted.explanation.removesuffix(" [القراءة، ص. 2]")[:-1]
    assert vocalised.startswith(body) and vocalised[len(body)] in " ،"  # a word boundary
    one_word = "تُعَدُّ" * 60  # no space at all: cut between grapheme clusters
    fitted = fit_poll(question(explanation=one_word))
    assert fitted is not None
    body = fitted.explanation.removesuffix(" [Histoire, p. 3]")[:-1]
    assert one_word.startswith(body) and unicodedata.category(one_word[len(body)]) != "Mn"


# --- citations --------------------------------------------------------------------------------

def test_citation_labels() -> None:
    assert citation_label(passage(FRENCH, 2, "fr")) == "Lesson 2, p. 3"
    assert citation_label(passage(ARABIC, 0, "ar", title="دروس القراءة")) == "دروس القراءة، ص. 1"
    assert citation_label(passage(ARABIC, 0, "ar"), "fr") == "Lesson 0, p. 1"
    web = passage(ENGLISH, 0, "en", page=None, url="https://www.example.org/a/b?c=1")
    assert citation_label(web) == "Lesson 0, example.org"
    assert citation_label({**web, "title": ""}) == "example.org"
    assert citation_label(passage(ENGLISH, 0, "en", title="", page=None)) == "lesson0.pdf"
    long = citation_label(passage(ENGLISH, 0, "en", title=ENGLISH[:200]))
    assert len(long) <= 60 and long.endswith("…, p. 1")


# --- model-written quizzes --------------------------------------------------------------------

PASSAGES = [passage(FRENCH_2, 0, "fr", title="La Révolution"), passage(ARABIC_2, 1, "ar", title="دورة الماء")]
ITEM = {"question": "En quelle année commence la Révolution française ?", "options": ["1789", "1799", "1815", "1848"],
        "correct": 0, "explanation": "Les états généraux se proclament Assemblée nationale en 1789.", "source": 1}
ARABIC_ITEM = {"question": "ما الذي يغطي نحو ثلثي سطح الأرض؟", "options": ["الماء", "الرمل", "الجليد", "الملح"],
               "correct": 0, "explanation": "الماء أساس الحياة ويغطي نحو ثلثي سطح الأرض.", "source": "[2]"}


def reply(*items: object) -> str:
    return json.dumps({"questions": list(items)}, ensure_ascii=False)


def test_parse_valid_json_maps_sources_to_chunks() -> None:
    qs = parse_quiz(reply(ITEM, ARABIC_ITEM), PASSAGES, 5).questions
    assert [q.chunk_id for q in qs] == ["chunk-0", "chunk-1"]
    assert qs[0].answer == "1789" and qs[0].citation == "La Révolution, p. 1"
    assert qs[0].explanation.endswith("1789. [La Révolution, p. 1]")
    assert qs[1].answer == "الماء" and qs[1].explanation.endswith("[دورة الماء، ص. 2]")
    assert parse_quiz(reply(ITEM, ARABIC_ITEM), PASSAGES, 1).questions == qs[:1]
    assert parse_quiz(reply(ITEM, ARABIC_ITEM), PASSAGES, 0).questions == []


def test_parse_tolerates_fences_and_prose() -> None:
    fenced = f"Voici le quiz :\n```json\n{reply(ITEM)}\n```\nBonne révision !"
    prose = f"Sure! Here it is: {reply(ITEM)} Hope it helps {{smile}}."
    bare_list = json.dumps([ITEM])
    expected = parse_quiz(reply(ITEM), PASSAGES, 3).questions
    assert len(expected) == 1
    for text in (fenced, prose, bare_list):
        assert parse_quiz(text, PASSAGES, 3).questions == expected


def test_parse_keeps_the_whole_items_of_a_reply_cut_short() -> None:
    cut = reply(ARABIC_ITEM, ITEM)[:-40]  # the model ran out of tokens inside the second item
    parsed = parse_quiz(cut, PASSAGES, 3)
    assert [q.answer for q in parsed.questions] == ["الماء"] and parsed.drafted == 1
    assert parse_quiz(reply(ARABIC_ITEM)[:-3], PASSAGES, 3).questions == []  # nothing whole: nothing kept


@pytest.mark.parametrize("text", ["", "no json here", "{not json}", '{"questions": "none"}', "```json\n{broken\n```",
                                  '{"answers": []}', "[1, 2, 3]"])
def test_parse_garbage_gives_nothing(text: str) -> None:
    assert parse_quiz(text, PASSAGES, 3).questions == []


@pytest.mark.parametrize("change", [
    {"correct": 4}, {"correct": -1}, {"correct": True}, {"correct": "0"}, {"correct": 1.0},
    {"options": ["1789"]}, {"options": "1789, 1799"}, {"options": ["1789", 1799]}, {"question": None},
    {"question": "x" * 301}, {"explanation": ["list"]},
    {"source": 0}, {"source": 3}, {"source": "x"}, {"source": None}, {"source": True}, {"source": 1.5},
])
def test_parse_drops_invalid_items(change: dict[str, object]) -> None:
    kept = parse_quiz(reply({**ITEM, **change}, ARABIC_ITEM), PASSAGES, 3).questions
    assert kept == parse_quiz(reply(ARABIC_ITEM), PASSAGES, 3).questions and len(kept) == 1


def test_parse_fits_items_to_poll_limits() -> None:
    options = [*ARABIC_ITEM["options"], "الماء "]  # type: ignore[list-item]  # a fifth, alike after normalisation
    item = {**ARABIC_ITEM, "options": options, "explanation": ARABIC_2}
    [q] = parse_quiz(reply(item, item), PASSAGES, 3).questions  # the repeated question is dropped
    assert len(q.options) == 4 and q.chunk_id == "chunk-1"
    assert tg_len(q.explanation) <= MAX_EXPLANATION and q.explanation.endswith("[دورة الماء، ص. 2]")
    assert parse_quiz(reply(item), PASSAGES, 3, language="fr").questions[0].citation == "دورة الماء, p. 2"


def test_parse_cites_the_passage_that_states_the_answer() -> None:
    [q] = parse_quiz(reply({**ITEM, "source": 2}), PASSAGES, 3).questions  # 1789 is in passage 1, not 2
    assert q.chunk_id == "chunk-0" and q.citation == "La Révolution, p. 1" and q.explanation.endswith("[La Révolution, p. 1]")
    stemmed = {**ITEM, "question": "Qu'abolit l'Assemblée en août ?", "options": ["Privilège", "Impôt", "Armée", "Roi"]}
    assert parse_quiz(reply(stemmed), PASSAGES, 3).questions[0].answer == "Privilège"  # "les privilèges"


@pytest.mark.parametrize("change", [
    {"options": ["1790", "1799", "1815", "1848"]},  # no passage states the right option
    {"options": ["1789", "1799", "1815"]},  # three options
    {"options": ["1789", "1799", "1799", "1848"]},  # two alike
    {"options": ["1789", "Élève", "eleve", "1848"]},  # alike after normalisation
    {"question": "La Révolution de 1789 commence en quelle année ?"},  # the question gives the answer away
])
def test_parse_drops_ungrounded_items_and_counts_them(change: dict[str, object]) -> None:
    parsed = parse_quiz(reply({**ITEM, **change}, ARABIC_ITEM), PASSAGES, 3)
    assert [q.answer for q in parsed.questions] == ["الماء"] and parsed.drafted == 2


def test_quiz_messages_ask_for_grounded_json_in_the_language() -> None:
    messages = quiz_messages("la Révolution", PASSAGES, 3, "fr")
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert "JSON" in system and "French" in system and '"source"' in system and "3 questions" in system
    assert "[1] (La Révolution, p. 1)" in user and "[2] (دورة الماء" in user
    assert FRENCH_2 in user and ARABIC_2 in user and "Topic: la Révolution" in user
    assert "Modern Standard Arabic" in quiz_messages("الماء", PASSAGES, 50, "ar")[0]["content"]
    assert "10 questions" in quiz_messages("x", PASSAGES, 50, "ar")[0]["content"]
    huge = [passage(" ".join([ENGLISH] * 40), 0, "en")]
    content = quiz_messages("photosynthesis", huge, 2, "en")[1]["content"]
    assert count_tokens(content) < MAX_PASSAGE_TOKENS + 60 and content.endswith("…")


def test_grounding_reads_arabic_through_its_clitics_and_suffixes() -> None:
    assert supported("ماء", ARABIC_2) and supported("المياه الجوفية", ARABIC_2)
    assert not supported("النفط", ARABIC_2)
    assert given_away("أي فائزة تقدمت ست مرات لجائزة غرامي؟", "الفائز")  # "winner" asked about "which winner"
    assert not given_away("من أدّت النشيد الوطني؟", "ليدي غاغا")
    assert four_distinct(["الماء", "الرمل", "الجليد", "الملح"]) and not four_distinct(["الماء", "الماء", "الرمل", "الملح"])
