"""Quality verdicts: real passages pass; boilerplate, symbol soup, binary, word lists fail."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.text.quality import QualityRules, assess

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
PROSE = ("La photosynthèse est le processus par lequel les plantes utilisent la lumière du soleil "
         "pour produire leur nourriture. Elle se déroule dans les chloroplastes des feuilles, "
         "et elle libère de l'oxygène dans l'air que nous respirons chaque jour.")


def eval_rows() -> list[dict[str, str]]:
    paths = [EVAL / "xquad" / "passages.jsonl", EVAL / "piaf" / "passages.jsonl"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"eval data absent: {EVAL}")
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]


def test_real_passages_pass() -> None:
    rejected = [(r["id"], v.reason) for r in eval_rows() if not (v := assess(r["text"], r["lang"])).ok]
    assert rejected == []


def test_inline_prose_passes_with_stats() -> None:
    verdict = assess(PROSE, "fr")
    assert verdict.ok and verdict.reason is None and verdict.message is None
    assert verdict.stats.words > 30 and verdict.stats.stopword_share > 0.3 and verdict.stats.letter_share > 0.9


def test_binary_is_rejected() -> None:
    blob = random.Random(1).randbytes(4000).decode("utf-8", errors="replace")
    verdict = assess(blob, "en")
    assert (verdict.reason, verdict.ok) == ("binary", False)
    assert "binary" in (verdict.message or "")
    assert assess(PROSE + "\x00", "fr").reason == "binary"
    assert assess(PROSE.replace("e", "\ufffd", 3), "fr").reason == "binary"


def test_too_short() -> None:
    assert assess("Bonjour à tous.", "fr").reason == "too_short"


def test_symbol_soup() -> None:
    soup = " ".join(["#### 12.5% | 99,00 € | $$ == >> 2024-11-28 | id=7781 ||"] * 6 + ["le prix de la table"])
    assert assess(soup, "fr").reason == "symbols"


def test_boilerplate() -> None:
    menu = "Accueil | Cours | Contact | Mentions légales\nTous droits réservés © Ustadh\n"
    text = menu * 8 + PROSE
    verdict = assess(text, "fr")
    assert verdict.reason == "boilerplate"
    assert verdict.stats.repeated_line_share > 0.8


def test_keyword_list_lacks_stop_words() -> None:
    words = ["photosynthesis", "chlorophyll", "mitochondria", "nucleus", "ribosome", "enzyme", "glucose", "membrane", "cytoplasm", "osmosis"]
    assert assess(" ".join(words * 4), "en").reason == "stopwords"


def test_arabic_rules_apply_to_real_arabic() -> None:
    texts = [r["text"] for r in eval_rows() if r["lang"] == "ar"]
    assert all(assess(t, "ar").ok for t in texts)
    assert assess(" ".join(texts[0].split()[:5]), "ar").reason == "too_short"


def test_rules_are_adjustable() -> None:
    assert assess("Bonjour à tous.", "fr", QualityRules(min_words=2)).ok
