"""Retrieval maths without Ray: Arabic/French analysis on real text, BM25, fusion, metrics, query
validation, the circuit breaker and the pipeline's fallbacks."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.resilience.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from core.retrieval.analysis import terms
from core.retrieval.bm25 import LexicalIndex
from core.retrieval.fusion import fuse
from core.retrieval.metrics import score
from core.retrieval.pipeline import STAGES, Trace, retrieve
from core.retrieval.query import MAX_QUERY_CHARS, Query, QueryError, parse
from core.retrieval.translation import parse_translations, translation_messages, wanted
from tests.corpus_texts import ARABIC, ARABIC_2, ENGLISH, ENGLISH_2, FRENCH, FRENCH_2, eval_passages


def test_arabic_clitics_and_article_fold_to_one_term() -> None:
    assert terms("وبالمدرسة")[0] == terms("المدرسة")[0] == terms("مدرسة")[0]
    assert terms("فالطلاب والكتاب")[:2] == terms("طلاب كتاب")
    assert terms("للمدرسة") == terms("المدرسة")
    assert terms("تُعَدُّ القراءةُ") == terms("تعد القراءه")  # diacritics and teh marbuta


def test_french_elisions_accents_and_punctuation() -> None:
    assert terms("l'école") == ["ecole"] and terms("d'histoire") == ["histoire"] == terms("histoires")
    assert terms("L’élève qu’il aime") == ["eleve", "aime"]
    assert terms("«Pourquoi?» se demanda-t-il") == terms("pourquoi demanda")
    assert "؟" not in "".join(terms("ما هي عاصمة موريتانيا؟"))


def test_bm25_finds_the_passage_sharing_the_question_words() -> None:
    texts = [ARABIC, ARABIC_2, FRENCH, FRENCH_2, ENGLISH, ENGLISH_2]
    index = LexicalIndex([str(i) for i in range(len(texts))], texts)
    assert index.search("كيف تتم تنقية الماء قبل شربه؟", 3)[0][0] == "1"
    assert index.search("Qu'a proclamé l'Assemblée nationale en 1789 ?", 3)[0][0] == "3"
    assert index.search("Which pigment do chloroplasts contain?", 3)[0][0] == "4"
    assert index.search("zzzz qqqq", 3) == []


def test_bm25_on_the_eval_passages() -> None:
    passages = eval_passages("ar", 40)
    if not passages:
        pytest.skip("../shared/eval is not present")
    index = LexicalIndex([p["id"] for p in passages], [p["text"] for p in passages])
    found = sum(index.search(p["text"][:200], 1)[0][0] == p["id"] for p in passages)
    assert found >= 38


def test_fusion_rewards_agreement() -> None:
    fused = [i for i, _ in fuse([["a", "b", "c"], ["c", "a", "d"]])]
    assert fused[0] == "a" and fused.index("c") < fused.index("b") and set(fused) == {"a", "b", "c", "d"}


def test_metrics() -> None:
    s = score([["x", "g"], ["g"], ["y"]], ["g", "g", "g"])
    assert s.recall == {1: pytest.approx(1 / 3), 5: pytest.approx(2 / 3), 10: pytest.approx(2 / 3)}
    assert s.mrr == pytest.approx((0.5 + 1) / 3)


@pytest.mark.parametrize(("text", "k", "lang", "message"), [
    ("", 5, None, "empty"), ("   \n ", 5, None, "empty"), ("😀🙏🔥", 5, None, "no letters"),
    ("\x00\x07\x1b", 5, None, "empty"), ("a" * (MAX_QUERY_CHARS + 1), 5, None, "limit"),
    ("سؤال", 0, None, "k must"), ("سؤال", 51, None, "k must"), ("سؤال", "5", None, "k must"),
    ("question", 5, "de", "lang"), (None, 5, None, "text"),
])
def test_bad_queries_are_refused_with_a_reason(text: Any, k: Any, lang: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text, k, lang)


def test_query_language_is_detected_and_text_kept() -> None:
    query = parse("  ما هي عاصمة موريتانيا؟ ", 3)
    assert query.language == "ar" and query.text == "ما هي عاصمة موريتانيا؟" and query.k == 3
    assert parse("Quelle est la capitale ?", 3).language == "fr"


def test_breaker_opens_refuses_then_probes_once_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker("test", failure_threshold=2, cooldown_s=10, clock=lambda: now[0])
    breaker.failed()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.failed()
    assert breaker.state == OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.state == HALF_OPEN and breaker.allow() and not breaker.allow()  # one probe
    breaker.failed()
    assert breaker.state == OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.allow()


class MemoryPorts:
    def __init__(self, dense_up: bool = True, order: list[str] | None = None,
                 translations: list[str] | None = None) -> None:
        self.rows = {f"c{i}": {"id": f"c{i}", "text": t, "uri": f"https://example.org/{i}", "title": f"T{i}",
                               "page": None, "language": "en", "document_id": i}
                     for i, t in enumerate([ENGLISH, ENGLISH_2, FRENCH])}
        self.dense_up, self.order, self.translations = dense_up, order, translations or []

    async def embed_query(self, query: Query) -> np.ndarray | None:
        return np.ones(4, dtype=np.float32) if self.dense_up else None

    async def dense(self, vector: np.ndarray, limit: int) -> list[str]:
        return ["c2", "c1", "c9"]  # c9: a vector whose chunk was removed

    async def lexical(self, query: Query, limit: int) -> list[str]:
        return ["c2"] if query.text == "caravanes du Sahara" else ["c1", "c0"]

    async def translate(self, query: Query) -> list[str]:
        return self.translations

    async def rerank(self, query: Query, candidates: list[dict[str, Any]]) -> list[str] | None:
        return self.order

    async def chunks(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.rows[i] for i in ids if i in self.rows}


async def test_pipeline_fuses_skips_removed_chunks_and_falls_back() -> None:
    query = parse("Sahara caravans", 3)
    hits = await retrieve(query, MemoryPorts(), rerank=False)
    assert [h.chunk_id for h in hits][0] == "c1" and "c9" not in [h.chunk_id for h in hits]
    assert hits[0].url == "https://example.org/1" and hits[0].text == ENGLISH_2
    lexical_only = await retrieve(query, MemoryPorts(dense_up=False), rerank=False)
    assert [h.chunk_id for h in lexical_only] == ["c1", "c0"]
    reranked = await retrieve(query, MemoryPorts(order=["c0", "c2", "c1"]), rerank=True)
    assert [h.chunk_id for h in reranked] == ["c0", "c2", "c1"]


async def test_a_translated_query_adds_its_own_lexical_list() -> None:
    query = parse("Sahara caravans", 3)
    alone = await retrieve(query, MemoryPorts(dense_up=False), rerank=False)
    assert "c2" not in [h.chunk_id for h in alone]
    translated = await retrieve(query, MemoryPorts(dense_up=False, translations=["caravanes du Sahara"]), rerank=False)
    assert "c2" in [h.chunk_id for h in translated]  # the French passage, found through the French translation


async def test_the_trace_times_each_stage_that_ran() -> None:
    query = parse("Sahara caravans", 3)
    traces: list[Trace] = []
    await retrieve(query, MemoryPorts(order=["c0", "c2", "c1"]), rerank=True, on_trace=traces.append)
    await retrieve(query, MemoryPorts(dense_up=False), rerank=False, on_trace=traces.append)
    full, lexical_only = traces
    assert list(full.seconds) == list(STAGES) and all(s >= 0 for s in full.seconds.values())
    assert set(lexical_only.seconds) == set(STAGES) - {"dense", "rerank"}


def test_translations_are_read_strictly() -> None:
    question = "ما هو مفتاح المعرفة؟"
    both = ["fr", "en"]
    reply = 'Sure:\n{"fr": "Quelle est la clé du savoir ?", "en": "What is the key to knowledge?", "ar": "x"}'
    assert parse_translations(reply, question, both) == {"fr": "Quelle est la clé du savoir ?",
                                                         "en": "What is the key to knowledge?"}
    assert parse_translations(reply, question, ["en"]) == {"en": "What is the key to knowledge?"}
    assert parse_translations("no json here", question, both) == {}
    assert parse_translations('{"fr": 3, "en": "' + "x" * 500 + '"}', question, both) == {}
    messages = translation_messages(question, ["en"])
    assert '"en" (English)' in messages[0]["content"] and "French" not in messages[0]["content"]
    assert messages[1]["content"] == question


def test_a_question_is_translated_only_into_the_other_languages_of_the_material() -> None:
    assert wanted("ar", {"en", "fr"}) == ["fr", "en"]
    assert wanted("ar", {"en", "ar"}) == ["en"]
    assert wanted("en", {"en"}) == []  # a monolingual corpus in the question's language: no LLM call
    assert wanted("fr", set()) == []
